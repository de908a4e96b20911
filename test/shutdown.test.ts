// Issue 3, graceful shutdown of the real CLI: SIGINT/SIGTERM stop fetching,
// drop the window in progress, write `stopped` heartbeats, release the locks,
// print the summary and exit 130/143; a second signal exits at once. Either
// way the next run ends with exactly the mock's ground truth.

import { expect } from 'chai';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { CrashScenario, describeChecks, type CrashScenarioOptions } from './support/crash-scenario.js';
import { collect, tempDir, until, type CliRun } from './support/harness.js';
import { onCleanup } from './support/cleanup.js';

async function busyScenario(opts: Partial<CrashScenarioOptions> & Pick<CrashScenarioOptions, 'runArgs'>): Promise<CrashScenario> {
  // Slow answers: the run is far from done when the signal comes.
  const scenario = await CrashScenario.create({
    dir: tempDir('uzp-shutdown-'),
    seed: 5,
    sections: 3,
    spanSeconds: 2400,
    splitInterval: 90,
    mailPerMinute: 10,
    latencyMs: 100,
    ...opts,
  });
  onCleanup(() => scenario.close());
  return scenario;
}

/** Starts the CLI and resolves once it has committed records, with its (still running) output collector. */
async function startedRun(scenario: CrashScenario): Promise<{ child: ChildProcess; result: Promise<CliRun> }> {
  const child = scenario.spawn();
  const result = collect(child);
  await until(() => (scenario.hasData() ? true : undefined), 'the first committed records', 30_000);
  expect(child.exitCode, 'still running when signalled').to.equal(null);
  return { child, result };
}

/** The next full run (fast answers now) leaves exactly the ground truth. */
async function expectRerunExact(scenario: CrashScenario): Promise<void> {
  scenario.setLatency(1, 1);
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
    const scenario = await busyScenario({ runArgs: ['--all', '--parallel', '--max-workers', '3'] });
    const { child, result } = await startedRun(scenario);
    const pid = child.pid;
    const signalled = Date.now();
    child.kill('SIGINT');
    const run = await result;
    const stopMs = Date.now() - signalled;

    expect(run.signal, run.stderr).to.equal(null);
    expect(run.code, run.stderr).to.equal(130);
    expect(run.stderr).to.match(/SIGINT: stopping/);
    expect(stopMs, 'a stop does not wait for the run to finish').to.be.below(10_000);
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
    const scenario = await busyScenario({ runArgs: ['--all'] });
    const { child, result } = await startedRun(scenario);
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
      const scenario = await busyScenario({ runArgs: ['--all', '--parallel', '--max-workers', '3'], seed: sig === 'SIGINT' ? 6 : 7 });
      const { child, result } = await startedRun(scenario);
      // The first must have been taken before the second is sent, or the two
      // may merge into one; the second goes the moment the CLI says so.
      let second = 0;
      let seen = '';
      const onStderr = (d: string): void => {
        seen += d;
        if (second === 0 && seen.includes(`${sig}: stopping`)) {
          second = Date.now();
          child.kill(sig);
        }
      };
      child.stderr?.on('data', onStderr);
      child.kill(sig);
      const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
      const exitMs = Date.now() - second;
      const run = await result;

      expect(signal, run.stderr).to.equal(null);
      expect(code, run.stderr).to.equal(sig === 'SIGINT' ? 130 : 143);
      expect(run.stderr).to.match(new RegExp(`${sig} again: exiting now`));
      expect(second, `the first ${sig} was announced`).to.be.greaterThan(0);
      expect(exitMs, 'exits at once').to.be.below(2000);

      await expectRerunExact(scenario);
    });
  }
});
