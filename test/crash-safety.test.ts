// Issue 3, "Nothing lost, nothing twice": the real CLI is SIGKILLed at seeded
// moments — at random delays, while detail requests are in flight, right
// after a data file grew, while a commit's pending record exists — and then
// run to the end. Every stream's files must then be exactly the mock's
// ground truth: no record missing, none twice, order kept.
//
// The runs are cron runs (config start_time, end_delay past the data), not
// `--start-time S --end-time E`: with a saved position a rerun of the same
// backfill re-fetches [S, position) into a backfill position file of its own
// by design (section-runner.ts planSegments), which duplicates on purpose.

import { expect } from 'chai';
import { CrashScenario, describeChecks, type CampaignReport, type CrashScenarioOptions } from './support/crash-scenario.js';
import { readLockHolder } from '../src/storage/section-lock.js';
import { collect, runCli, tempDir, until } from './support/harness.js';
import { onCleanup } from './support/cleanup.js';

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
  const inDetails = report.kills.filter((k) => k.detailsInFlight > 0).length;
  const inCommit = report.kills.filter((k) => k.pendingLeft > 0).length;
  expect(inDetails, 'kills that landed while detail requests were in flight').to.be.greaterThan(0);
  expect(inCommit, 'kills that landed while a window was being written (pending record left)').to.be.greaterThan(0);
  // The restart after such a kill cut the files back (or found the commit done).
  expect(report.rollbacks + report.completedCommits, 'interrupted commits recovered at restart').to.be.greaterThan(0);
  expect([...scenario.pendingRecords().keys()], 'pending records after the final run').to.deep.equal([]);
  expect(scenario.lockFiles(), 'lock files after the final run').to.deep.equal([]);
}

describe('crash safety: SIGKILL of the real CLI at seeded moments', function () {
  this.timeout(60_000);

  it('one section after the other (--all): 6 kills, then exactly the ground truth', async () => {
    const kills = 6;
    const { report, scenario } = await campaign(
      { seed: 11, sections: 3, spanSeconds: 2 * 3600, splitInterval: 90, latencyMs: 2, jitterMs: 1, runArgs: ['--all'] },
      kills,
      11,
    );
    expectExactAfterKills(report, scenario, kills);
  });

  it('sections in parallel (--all --parallel --max-workers 3, 5 sections): 6 kills, then exactly the ground truth', async () => {
    const kills = 6;
    const { report, scenario } = await campaign(
      { seed: 23, sections: 5, spanSeconds: 90 * 60, splitInterval: 60, latencyMs: 2, jitterMs: 1, runArgs: ['--all', '--parallel', '--max-workers', '3'] },
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
      spanSeconds: 1800,
      latencyMs: 200, // the holder stays busy for as long as the test needs
      runArgs: ['--all', '--parallel', '--max-workers', '2'],
    });
    onCleanup(() => scenario.close());
    const holder = scenario.spawn();
    const holderRun = collect(holder);
    const pid = holder.pid;
    await until(() => (scenario.streams.every((s) => readLockHolder(s.lockFile)?.pid === pid) && scenario.hasData() ? true : undefined), 'the first run to hold every section and commit');

    const second = await runCli(scenario.args, { cwd: scenario.dir });
    expect(second.code, second.stderr).to.equal(0);
    expect(second.stdout).to.match(/Total: 2 sections \(0 completed, 0 failed, 0 stopped, 2 skipped\)/);
    for (const s of scenario.streams) {
      expect(second.stderr).to.include(`section MailLogger:${s.section} is locked by process ${String(pid)} `);
      // A skipped section's heartbeat belongs to the holder.
      expect(scenario.heartbeat(s), `${s.section} heartbeat`).to.include({ status: 'running', pid });
    }

    holder.kill('SIGKILL');
    expect((await holderRun).signal).to.equal('SIGKILL');
    expect(scenario.lockFiles(), "the dead holder's locks").to.have.length(2);

    scenario.setLatency(1, 1);
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
