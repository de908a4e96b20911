// Issue 3, graceful shutdown of the real CLI: SIGINT/SIGTERM stop fetching,
// drop the window in progress, write `stopped` heartbeats, release the locks,
// print the summary and exit 130/143; a second signal exits at once. Either
// way the next run ends with exactly the mock's ground truth.
//
// The signal comes while the run provably cannot finish: the mock holds a list
// request of every running section, or a section's worker is stopped inside a
// commit (support/commit-hooks.ts).

import { expect } from 'chai';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import type { MockHold } from '../../src/mock-api/index.js';
import { CrashScenario, describeChecks, listWindowStart, type CrashScenarioOptions } from '../support/crash-scenario.js';
import { blockedMarker, commitHooksEnv } from '../support/commit-hooks.js';
import { collect, tempDir, until, type CliRun } from '../support/harness.js';
import { onCleanup } from '../support/cleanup.js';

const SPLIT = 90;

async function scenarioOf(opts: Partial<CrashScenarioOptions> & Pick<CrashScenarioOptions, 'runArgs'>): Promise<CrashScenario> {
  const scenario = await CrashScenario.create({
    dir: tempDir('uzp-shutdown-'),
    seed: 5,
    sections: 3,
    spanSeconds: 20 * 60,
    splitInterval: SPLIT,
    mailPerMinute: 10,
    ...opts,
  });
  onCleanup(() => scenario.close());
  return scenario;
}

/**
 * Starts the CLI with the list of every section's fourth window held, and
 * resolves once `sections` of them wait there with records committed.
 */
async function stuckRun(scenario: CrashScenario, sections: number): Promise<{ child: ChildProcess; result: Promise<CliRun>; hold: MockHold }> {
  const hold = scenario.hold((r) => listWindowStart(r) === scenario.start + 3 * SPLIT, sections);
  onCleanup(() => hold.release());
  const child = scenario.spawn();
  const result = collect(child);
  await until(() => (hold.caught === sections && scenario.hasData() ? true : undefined), 'committed records and the held lists', 30_000);
  expect(child.exitCode, 'still running when signalled').to.equal(null);
  return { child, result, hold };
}

/** The next full run leaves exactly the ground truth. */
async function expectRerunExact(scenario: CrashScenario): Promise<void> {
  const rerun = await collect(scenario.spawn());
  expect(rerun.code, rerun.stderr).to.equal(0);
  const checks = scenario.check();
  expect(checks.filter((c) => c.problem), describeChecks(checks)).to.deep.equal([]);
  for (const c of checks) expect(c.written, `${c.section} has records`).to.be.greaterThan(0);
}

/** What a stopped run left is a clean prefix: whole lines, nothing pending, exactly the truth up to each position. */
function expectCleanPrefix(scenario: CrashScenario): void {
  expect([...scenario.pendingRecords().keys()], 'pending commit records').to.deep.equal([]);
  const unfinished = /position .* is before the end of the data|no position file/;
  for (const c of scenario.check()) {
    if (c.problem) expect(c.problem, `${c.section}: only unfinished, never wrong`).to.match(unfinished);
    if (c.position === undefined) expect(c.written, `${c.section}: records without a position`).to.equal(0);
    expect(c.position ?? scenario.start, `${c.section} stopped before the end`).to.be.below(scenario.end);
  }
}

describe('graceful shutdown of the real CLI', function () {
  this.timeout(60_000);

  it('SIGINT with --parallel: stops every section, heartbeats stopped, locks released, summary printed, exit 130', async () => {
    const scenario = await scenarioOf({ runArgs: ['--all', '--parallel', '--max-workers', '3'] });
    const { child, result, hold } = await stuckRun(scenario, 3);
    const pid = child.pid;
    child.kill('SIGINT');
    const run = await result;

    expect(run.signal, run.stderr).to.equal(null);
    expect(run.code, run.stderr).to.equal(130);
    expect(run.stderr).to.match(/SIGINT: stopping/);
    // A stop does not wait for the run: it hung up on the lists the mock still held.
    await until(() => (hold.abandoned === 3 ? true : undefined), 'the held lists abandoned by the stopped run');
    expect(run.stdout).to.match(/^Summary:/m);
    expect(run.stdout).to.match(/Total: 3 sections \(0 completed, 0 failed, 3 stopped, 0 skipped\)/);
    for (const s of scenario.streams) {
      const hb = scenario.heartbeat(s);
      expect(hb?.status, `${s.section} heartbeat`).to.equal('stopped');
      expect(hb?.pid, `${s.section} heartbeat pid`).to.equal(pid);
    }
    expect(scenario.lockFiles(), 'locks left behind').to.deep.equal([]);
    expect(scenario.messageLogLines(/stopped by signal; the window in progress was not committed/), 'sections that logged the stop').to.equal(3);
    expectCleanPrefix(scenario);

    await expectRerunExact(scenario);
  });

  it('SIGTERM one section after the other: the running one stops, queued ones never start, exit 143', async () => {
    const scenario = await scenarioOf({ runArgs: ['--all'] });
    const { child, result } = await stuckRun(scenario, 1);
    child.kill('SIGTERM');
    const run = await result;

    expect(run.signal, run.stderr).to.equal(null);
    expect(run.code, run.stderr).to.equal(143);
    expect(run.stderr).to.match(/SIGTERM: stopping/);
    expect(run.stdout).to.match(/Total: 3 sections \(0 completed, 0 failed, 3 stopped, 0 skipped\)/);
    for (const s of scenario.streams) expect(scenario.heartbeat(s)?.status, `${s.section} heartbeat`).to.equal('stopped');
    expect(scenario.lockFiles(), 'locks left behind').to.deep.equal([]);
    // The queued sections were not started: no position, no data.
    const [first, ...queued] = scenario.check();
    expect(first?.written, 'the running section had written records').to.be.greaterThan(0);
    for (const c of queued) expect(c.written, `${c.section} never started`).to.equal(0);
    expectCleanPrefix(scenario);

    await expectRerunExact(scenario);
  });

  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    it(`a second ${sig} exits at once (${sig === 'SIGINT' ? 130 : 143}) and the next run still ends exactly right`, async () => {
      const scenario = await scenarioOf({ runArgs: ['--all', '--parallel', '--max-workers', '3'], seed: sig === 'SIGINT' ? 6 : 7 });
      // A section's worker stops for good inside its second commit: the
      // graceful stop cannot finish, so only the second signal can end the run.
      const markers = tempDir('uzp-blocked-');
      const child = scenario.spawn(commitHooksEnv({ action: 'block', at: 'append', commit: 2, marker: markers }));
      onCleanup(() => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      });
      const result = collect(child);
      const [blocked] = await until(() => {
        const found = scenario.streams.filter((s) => existsSync(blockedMarker(markers, `MailLogger:${s.section}`)));
        return found.length > 0 ? found : undefined;
      }, 'a section stopped inside a commit');
      // The first must have been taken before the second is sent, or the two
      // may merge into one; the second goes the moment the CLI says so.
      let second = false;
      let seen = '';
      child.stderr?.on('data', (d: string) => {
        seen += d;
        if (!second && seen.includes(`${sig}: stopping`)) {
          second = true;
          child.kill(sig);
        }
      });
      child.kill(sig);
      const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
      const run = await result;

      expect(signal, run.stderr).to.equal(null);
      expect(code, run.stderr).to.equal(sig === 'SIGINT' ? 130 : 143);
      expect(second, `the first ${sig} was announced`).to.equal(true);
      expect(run.stderr).to.match(new RegExp(`${sig} again: exiting now`));
      expect(run.stdout, 'the graceful stop never finished').to.not.match(/^Summary:/m);
      // Exited in the middle of that commit: its pending record is still there.
      expect([...scenario.pendingRecords().keys()], 'pending records').to.include(`${blocked?.section}.pos.journal`);
      // No heartbeat is left saying `running` for a process that is gone.
      for (const s of scenario.streams) expect(scenario.heartbeat(s)?.status, `${s.section} heartbeat`).to.not.equal('running');
      expect(scenario.heartbeat(blocked!)?.status, 'the section cut short').to.equal('stopped');

      await expectRerunExact(scenario);
      expect(scenario.rollbacksLogged(), 'the cut-short commit rolled forward by the next run').to.be.at.least(1);
    });
  }
});
