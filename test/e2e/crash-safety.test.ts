// Issue 3, "Nothing lost, nothing twice": the real CLI is SIGKILLed at seeded
// moments — at random delays once it has committed, while a detail request is
// held unanswered, and inside a commit (right after its pending record, right
// after its first append) — and then run to the end. Every stream's files must
// then be exactly the mock's ground truth: no record missing, none twice,
// order kept.
//
// The runs are cron runs (config start_time, end_delay past the data), not
// `--start-time S --end-time E`: with a saved position a rerun of the same
// backfill re-fetches [S, position) into a backfill position file of its own
// by design (section-runner.ts planSegments), which duplicates on purpose.

import { expect } from 'chai';
import { CrashScenario, describeChecks, KILL_MODES, listWindowStart, missedLanding, type CampaignReport, type CrashScenarioOptions } from '../support/crash-scenario.js';
import { readLockHolder } from '../../src/storage/section-lock.js';
import { collect, runCli, tempDir, until } from '../support/harness.js';
import { onCleanup } from '../support/cleanup.js';

async function campaign(opts: Omit<CrashScenarioOptions, 'dir'>, kills: number, seed: number): Promise<{ report: CampaignReport; scenario: CrashScenario }> {
  const scenario = await CrashScenario.create({ dir: tempDir('uzp-crash-'), ...opts });
  onCleanup(() => scenario.close());
  const report = await scenario.campaign({ kills, seed });
  return { report, scenario };
}

function expectExactAfterKills(report: CampaignReport, scenario: CrashScenario, kills: number): void {
  expect(report.finalRun.code, `final run exit code; stderr:\n${report.finalRun.stderr}`).to.equal(0);
  expect(report.checks.filter((c) => c.problem), describeChecks(report.checks)).to.deep.equal([]);
  for (const c of report.checks) expect(c.written, `${c.section} has records to lose`).to.be.greaterThan(0);

  expect(report.kills, 'every planned kill landed').to.have.length(kills);
  expect(new Set(report.kills.map((k) => k.mode)), 'every kill mode').to.deep.equal(new Set(KILL_MODES));
  // Each ended by SIGKILL once the run had done work, where its mode says: not a process still starting.
  expect(report.kills.map(missedLanding).filter((why) => why !== undefined), 'kills that missed').to.deep.equal([]);
  // Each commit cut short (before its position moved) was completed by the next run of its section, which said so.
  const inCommit = report.kills.filter((k) => k.mode === 'pending' || k.mode === 'append').length;
  expect(report.rollbacks, 'interrupted commits rolled forward at restart').to.be.at.least(inCommit);
  expect([...scenario.pendingRecords().keys()], 'pending records after the final run').to.deep.equal([]);
  expect(scenario.lockFiles(), 'lock files after the final run').to.deep.equal([]);
}

describe('crash safety: SIGKILL of the real CLI at seeded moments', function () {
  // Four kills and their runs take ~30 s on an idle machine; a loaded one needs the margin.
  this.timeout(120_000);

  // Four kills: one of each mode.
  it('one section after the other (--all): 4 kills, then exactly the ground truth', async () => {
    const kills = 4;
    const { report, scenario } = await campaign(
      { seed: 11, sections: 3, spanSeconds: 40 * 60, splitInterval: 90, latencyMs: 2, jitterMs: 1, runArgs: ['--all'] },
      kills,
      11,
    );
    expectExactAfterKills(report, scenario, kills);
  });

  it('sections in parallel (--all --parallel --max-workers 3, 5 sections): 4 kills, then exactly the ground truth', async () => {
    const kills = 4;
    const { report, scenario } = await campaign(
      { seed: 23, sections: 5, spanSeconds: 20 * 60, splitInterval: 60, latencyMs: 2, jitterMs: 1, runArgs: ['--all', '--parallel', '--max-workers', '3'] },
      kills,
      23,
    );
    expectExactAfterKills(report, scenario, kills);
  });
});

describe('section locks across real CLI processes', function () {
  this.timeout(60_000);

  it('a second run skips the sections a live run holds and names its pid; after kill -9 of the holder a third run takes over and ends exactly right', async () => {
    const scenario = await CrashScenario.create({
      dir: tempDir('uzp-locks-'),
      seed: 31,
      sections: 2,
      spanSeconds: 900,
      splitInterval: 90,
      runArgs: ['--all', '--parallel', '--max-workers', '2'],
    });
    onCleanup(() => scenario.close());
    // Each section's list of its fourth window is held: the holder commits its
    // first windows, then waits there for as long as the test needs.
    const stuckAt = scenario.start + 3 * 90;
    const hold = scenario.hold((r) => listWindowStart(r) === stuckAt, 2);
    onCleanup(() => hold.release());
    const holder = scenario.spawn();
    const holderRun = collect(holder);
    const pid = holder.pid;
    await until(
      () => (hold.caught === 2 && scenario.streams.every((s) => readLockHolder(s.lockFile)?.pid === pid) && scenario.hasData() ? true : undefined),
      'the first run to hold every section, commit, and wait on a held list',
    );

    const second = await runCli(scenario.args, { cwd: scenario.dir });
    expect(second.code, second.stderr).to.equal(0);
    expect(second.stdout).to.match(/Total: 2 sections \(0 completed, 0 failed, 0 stopped, 2 skipped\)/);
    for (const s of scenario.streams) {
      // A note, not an error: on stdout, which cron does not mail.
      expect(second.stdout).to.include(`section MailLogger:${s.section} is locked by process ${String(pid)} `);
      expect(second.stderr).to.not.include('is locked by process');
      // A skipped section's heartbeat belongs to the holder.
      expect(scenario.heartbeat(s), `${s.section} heartbeat`).to.include({ status: 'running', pid });
    }
    expect(hold.waiting, 'the holder still waits on its lists').to.equal(2);

    holder.kill('SIGKILL');
    expect((await holderRun).signal).to.equal('SIGKILL');
    expect(scenario.lockFiles(), "the dead holder's locks").to.have.length(2);
    hold.release();

    const third = await runCli(scenario.args, { cwd: scenario.dir });
    expect(third.code, third.stderr).to.equal(0);
    expect(third.stdout).to.match(/Total: 2 sections \(2 completed/);
    for (const s of scenario.streams) {
      expect(third.stderr).to.match(new RegExp(`removed the stale lock \\S+ of section MailLogger:${s.section.replace(/\./g, '\\.')}: process ${String(pid)} .*no longer runs; taking it over`));
    }
    const checks = scenario.check();
    expect(checks.filter((c) => c.problem), describeChecks(checks)).to.deep.equal([]);
    for (const c of checks) expect(c.written, `${c.section} has records`).to.be.greaterThan(0);
    expect(scenario.lockFiles(), 'locks after the third run').to.deep.equal([]);
  });
});
