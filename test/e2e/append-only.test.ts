// Issue 10, "Data files only ever grow": an agent tails the data files while
// the collector writes them, and takes a file that shrinks for a new one. The
// real CLI is SIGKILLed inside commits and runs out of disk space (an injected
// ENOSPC: a test cannot mount a small tmpfs here) while a tail samples every
// data file's size; no size may ever go down, each file after a restart must
// begin with exactly the bytes it had before, and the final files must be the
// mock's ground truth.

import { expect } from 'chai';
import { statSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { CrashScenario, describeChecks, type KillMode } from '../support/crash-scenario.js';
import { blockedMarker, commitHooksEnv, type CommitPlan } from '../support/commit-hooks.js';
import { collect, tempDir, until, type CliRun } from '../support/harness.js';
import { onCleanup } from '../support/cleanup.js';

/** Samples the size of every data file, as an agent's tail would, and notes any that went down. */
class SizeTail {
  private readonly last = new Map<string, number>();
  readonly shrunk: string[] = [];
  samples = 0;
  private running = false;
  private done: Promise<void> | undefined;

  constructor(private readonly dirs: readonly string[], private readonly isData: (name: string) => boolean) {}

  start(): void {
    this.running = true;
    this.done = (async () => {
      while (this.running) {
        this.sample();
        await new Promise((r) => setImmediate(r));
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
    this.sample();
  }

  sample(): void {
    this.samples++;
    for (const dir of this.dirs) {
      if (!existsSync(dir)) continue;
      for (const name of readdirSync(dir)) {
        if (!this.isData(name)) continue;
        const file = join(dir, name);
        let size: number;
        try {
          size = statSync(file).size;
        } catch {
          continue;
        }
        const before = this.last.get(file);
        if (before !== undefined && size < before) this.shrunk.push(`${file}: ${before} → ${size} bytes`);
        this.last.set(file, size);
      }
    }
  }
}

/** Each file of `before` must still begin with exactly its old bytes. */
function expectGrownFrom(before: Map<string, Buffer>, after: Map<string, Buffer>, when: string): void {
  for (const [file, old] of before) {
    const now = after.get(file);
    expect(now, `${when}: ${file} still there`).to.not.equal(undefined);
    expect(now!.length, `${when}: ${file} shrank`).to.be.at.least(old.length);
    expect(now!.subarray(0, old.length).equals(old), `${when}: ${file} kept its bytes`).to.equal(true);
  }
}

describe('data files only ever grow: kill -9 inside commits and a full disk, tailed', function () {
  this.timeout(120_000);

  it('no data file ever shrinks or changes a byte it had; the first run with space completes; then exactly the ground truth', async () => {
    const sectionsCount = 3;
    const scenario = await CrashScenario.create({
      dir: tempDir('uzp-grow-'),
      seed: 41,
      sections: sectionsCount,
      spanSeconds: 40 * 60,
      splitInterval: 60,
      latencyMs: 1,
      jitterMs: 1,
      commitKillSpread: 2,
      runArgs: ['--all', '--parallel', '--max-workers', String(sectionsCount)],
    });
    onCleanup(() => scenario.close());
    const prefixes = scenario.streams.map((s) => s.prefix);
    const tail = new SizeTail([...new Set(scenario.streams.map((s) => s.dir))], (n) => n.endsWith('.log') && prefixes.some((p) => n.startsWith(p)));
    tail.start();
    onCleanup(() => tail.stop());

    let seed = 7;
    const random = (): number => (seed = (seed * 48271) % 2147483647) / 2147483647;

    /**
     * A run that stops every section at its first commit with data, right
     * after the journal: by then its recovery has run, and nothing of the
     * new window is appended yet. The files must have only grown since `before`.
     */
    const checkRecoveryOnly = async (before: Map<string, Buffer>, when: string): Promise<void> => {
      const markers = tempDir('uzp-grow-marks-');
      const child = scenario.spawn(commitHooksEnv({ action: 'block', at: 'pending', commit: 1, marker: markers }));
      const run = collect(child);
      onCleanup(() => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      });
      await until(
        () => (scenario.streams.every((s) => existsSync(blockedMarker(markers, `MailLogger:${s.section}`))) ? true : undefined),
        `${when}: every section at its first commit after recovery`,
      );
      expectGrownFrom(before, scenario.dataFiles(), `${when}, after recovery`);
      child.kill('SIGKILL');
      expect((await run).signal).to.equal('SIGKILL');
    };

    // 1. kill -9 right after the journal, and right after the first data file's append.
    const modes: KillMode[] = ['append', 'pending', 'append', 'pending'];
    for (const [i, mode] of modes.entries()) {
      const outcome = await scenario.runAndKill(mode, random);
      expect(outcome.killed, `kill ${i + 1} (${mode}) landed inside a commit`).to.equal(true);
      expect(outcome.pendingLeft, `kill ${i + 1} left a journal`).to.be.greaterThan(0);
      await checkRecoveryOnly(scenario.dataFiles(), `kill ${i + 1} (${mode})`);
    }

    // 2. The disk fills in the middle of each section's second commit with data.
    const enospc = (plan: Omit<CommitPlan, 'action' | 'at'>): Promise<CliRun> =>
      collect(scenario.spawn(commitHooksEnv({ action: 'enospc', at: 'append', ...plan })));
    let before = scenario.dataFiles();
    const full = await enospc({ commit: 2, bytes: 100 });
    expect(full.code, full.stderr).to.equal(1);
    expect(full.stderr).to.include('cannot append').and.include('to the data file').and.include('ENOSPC: the disk is full');
    expect(full.stderr).to.not.include('worker thread died').and.not.include('cannot write the error log');
    expectGrownFrom(before, scenario.dataFiles(), 'the run that filled the disk');

    // 3. While it stays full: each run fails clearly and rewrites nothing.
    for (let run = 1; run <= 2; run++) {
      before = scenario.dataFiles();
      const still = await enospc({ commit: 0, bytes: 0 });
      expect(still.code, still.stderr).to.equal(1);
      expect(still.stderr).to.include('ENOSPC: the disk is full').and.include('was not shortened');
      const after = scenario.dataFiles();
      expect([...after.keys()], `full run ${run}: no new data file`).to.deep.equal([...before.keys()]);
      for (const [file, bytes] of before) expect(after.get(file)?.equals(bytes), `full run ${run}: ${file} untouched`).to.equal(true);
    }

    // 4. Space again: the first run completes the windows and goes on to the end.
    before = scenario.dataFiles();
    const final = await collect(scenario.spawn());
    expect(final.code, final.stderr).to.equal(0);
    expectGrownFrom(before, scenario.dataFiles(), 'the run with space');

    await tail.stop();
    expect(tail.shrunk, 'sizes that went down while tailed').to.deep.equal([]);
    expect(tail.samples, 'the tail sampled while the runs wrote').to.be.greaterThan(20);
    expect(scenario.rollbacksLogged(), 'interrupted windows rolled forward (message log lines)').to.be.at.least(modes.length);
    const checks = scenario.check();
    expect(checks.filter((c) => c.problem), describeChecks(checks)).to.deep.equal([]);
    for (const c of checks) expect(c.written, `${c.section} has records`).to.be.greaterThan(0);
    expect([...scenario.pendingRecords().keys()], 'journals after the final run').to.deep.equal([]);
  });
});
