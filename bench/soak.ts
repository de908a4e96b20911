// `npm run soak -- --kills N [--seed S] [--sections K] [--sequential] [--keep]`:
// the crash-safety scenario of test/e2e/crash-safety.test.ts at length. SIGKILLs
// the real CLI N times at seeded moments, runs it to the end, and checks every
// stream's files against the mock's ground truth. Exits 1 on any mismatch.
// Not part of `npm test`: 50 kills take minutes.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CrashScenario, describeChecks, KILL_MODES, missedLanding, type KillOutcome } from '../test/support/crash-scenario.js';

function wholeNumber(name: string, text: string | undefined, fallback: number, min: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min) throw new Error(`--${name} must be a whole number ≥ ${min}, got '${text}'`);
  return n;
}

async function soak(): Promise<number> {
  const { values } = parseArgs({
    options: {
      kills: { type: 'string' },
      seed: { type: 'string' },
      sections: { type: 'string' },
      sequential: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
    },
  });
  const kills = wholeNumber('kills', values.kills, 50, 1);
  const seed = wholeNumber('seed', values.seed, 1, 0);
  const sections = wholeNumber('sections', values.sections, 5, 1);
  const runArgs = values.sequential ? ['--all'] : ['--all', '--parallel', '--max-workers', '3'];

  const dir = mkdtempSync(join(tmpdir(), 'uzp-soak-'));
  const scenario = await CrashScenario.create({
    dir,
    seed,
    sections,
    spanSeconds: 3 * 3600,
    splitInterval: 90,
    latencyMs: 2,
    jitterMs: 1,
    runArgs,
  });
  process.stdout.write(`soak: ${kills} kills, seed ${seed}, ${sections} sections, uzmanposta ${runArgs.join(' ')}; files in ${dir}\n`);
  try {
    const report = await scenario.campaign({
      kills,
      seed,
      onKill: (k: KillOutcome, i: number) =>
        process.stdout.write(
          `  kill ${String(i).padStart(3)}: ${k.mode.padEnd(7)} after ${String(k.afterMs).padStart(5)} ms, ${k.requests} requests, ` +
            `${k.committed} position(s) moved, ${k.detailsInFlight} detail request(s) in flight, ${k.pendingLeft} commit(s) cut short\n`,
        ),
    });
    const byMode = KILL_MODES.map((m) => `${m} ${report.kills.filter((k) => k.mode === m).length}`).join(', ');
    const failed = report.checks.filter((c) => c.problem);
    const missed = report.kills.map(missedLanding).filter((why) => why !== undefined);
    const ok = report.finalRun.code === 0 && failed.length === 0 && report.kills.length === kills && missed.length === 0;
    process.stdout.write(
      `\nStreams (written/expected):\n${describeChecks(report.checks).replace(/^/gm, '  ')}\n` +
        `Records checked: ${report.checks.reduce((n, c) => n + (Number.isNaN(c.written) ? 0 : c.written), 0)}\n` +
        `Kills: ${report.kills.length} (${byMode}); ${missed.length} that did not land where their mode says\n` +
        `${report.kills.filter((k) => k.detailsInFlight > 0).length} with detail requests in flight, ` +
        `${report.kills.filter((k) => k.pendingLeft > 0).length} while a window was being written\n` +
        `Roll-forwards in the message logs: ${report.rollbacks}; journals of committed windows cleared: ${report.completedCommits}\n` +
        `Runs that finished before their kill (checked, then started over): ${report.rounds}\n` +
        `Final run: exit ${String(report.finalRun.code)}; duration ${(report.ms / 1000).toFixed(1)} s\n` +
        missed.map((why) => `${why}\n`).join('') +
        `${ok ? 'OK: nothing lost, nothing twice' : 'FAILED'}\n`,
    );
    if (report.finalRun.code !== 0) process.stdout.write(`final run stderr:\n${report.finalRun.stderr}\n`);
    return ok ? 0 : 1;
  } finally {
    await scenario.close();
    if (values.keep) process.stdout.write(`kept ${dir}\n`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

try {
  process.exitCode = await soak();
} catch (err) {
  process.stderr.write(`soak: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 2;
}
