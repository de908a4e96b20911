// Piscina task: collects one section inside a worker thread. Everything it
// needs comes in the task (no state shared with the main thread); it talks
// back over the task's MessagePort and returns a plain SectionResult.

import { AsyncLocalStorage } from 'node:async_hooks';
import { pathToFileURL } from 'node:url';
import { threadId } from 'node:worker_threads';
import { LockLostError, serializeError } from '../src/common/errors.js';
import { lockStillNames } from '../src/storage/section-lock.js';
import { PortRateGate } from '../src/engine/worker/rate-gate-port.js';
import { errorLogEntryFrom, openSectionLog, type SectionLog } from '../src/storage/section-log.js';
import { runSection } from '../src/engine/worker/section-runner.js';
import { emptyMetrics } from '../src/engine/shared/section-metrics.js';
import { sectionLine } from '../src/reporting/run-summary.js';
import type { MainMessage, SectionResult, SectionTask, WorkerMessage } from '../src/engine/shared/worker-protocol.js';
import type { SectionConfig } from '../src/config/section-config.js';
import type { CommitHooks } from '../src/storage/window-commit.js';

/**
 * Test only: UZP_TEST_COMMIT_HOOKS names a module whose default export builds
 * commit hooks for a section (test/support/commit-hooks.ts), so crash tests
 * can stop a real run inside a commit. Unset, as it is outside those tests,
 * nothing is loaded and commits run without hooks.
 */
async function testCommitHooks(cfg: SectionConfig): Promise<CommitHooks | undefined> {
  const file = process.env['UZP_TEST_COMMIT_HOOKS'];
  if (!file) return undefined;
  const hooks = (await import(pathToFileURL(file).href)) as { default: (target: { section: string; positionFile: string }) => CommitHooks };
  return hooks.default({ section: cfg.section, positionFile: cfg.positionFile });
}

/**
 * Whose code is running: each section's task runs inside this scope, with the
 * function that fails that section. A thread runs several sections at once,
 * so an exception nobody caught (a bug, or a callback throwing) is charged to
 * the section whose code threw it, which fails alone while the others on the
 * thread go on (docs/decisions.md, "Threads sized to the machine"). One that
 * belongs to no section ends the thread as Node would, and the coordinator
 * reports each of its sections failed.
 */
const sectionScope = new AsyncLocalStorage<(err: unknown) => void>();
/** How long a failed section's own code gets to wind down (it is stopped, and may commit nothing more) before its result goes back. */
const CRASH_GRACE_MS = 5000;
let threadGuarded = false;

function noop(): void {}

function guardThread(): void {
  if (threadGuarded) return;
  threadGuarded = true;
  const contain = (err: unknown): void => {
    const fail = sectionScope.getStore();
    if (!fail) throw err;
    fail(err);
  };
  process.on('uncaughtException', contain);
  process.on('unhandledRejection', contain);
}

export default function sectionWorker(task: SectionTask): Promise<SectionResult> {
  guardThread();
  let fail!: (err: unknown) => void;
  const failed = new Promise<never>((_, reject) => (fail = reject));
  failed.catch(() => undefined);
  let ended = false;
  const failSection = (err: unknown): void => {
    // After its result went back there is no one left to tell but stderr.
    if (ended) process.stderr.write(`uzmanposta: [${task.config.section}] error after the section ended: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    else fail(err);
  };
  return sectionScope.run(failSection, () =>
    runTask(task, failed).finally(() => {
      ended = true;
    }),
  );
}

async function runTask(task: SectionTask, failed: Promise<never>): Promise<SectionResult> {
  const { config: cfg, port } = task;
  const stop = new AbortController();
  // The metrics as last reported, for a section that fails outside its runner.
  let lastMetrics = emptyMetrics();
  const emit = (msg: WorkerMessage): void => {
    if (msg.type === 'progress' || msg.type === 'metrics') lastMetrics = msg.metrics;
    port.postMessage(msg);
  };
  const gate = new PortRateGate(cfg.section, emit, stop.signal);
  let leaseLost: string | undefined;
  let crash: unknown;
  // Fencing: nothing is committed once the lock is not this run's any more
  // (docs/decisions.md, "Leases on the file server's clock"), nor once the
  // section has failed on an exception nobody caught.
  const fence = async (): Promise<void> => {
    if (crash !== undefined) throw crash;
    if (leaseLost !== undefined) throw new LockLostError(leaseLost, { section: cfg.section });
    if (task.lock && !(await lockStillNames(task.lock.path, task.lock.token))) {
      throw new LockLostError(
        `section ${cfg.section}: its lock ${task.lock.path} no longer names this run (another run took it over); ` +
          'stopped before this commit so that two runs never append to one stream. If this repeats, raise lock_lease above the longest stall of this host or its storage',
        { section: cfg.section, path: task.lock.path },
      );
    }
  };
  port.on('message', (msg: MainMessage) => {
    switch (msg.type) {
      case 'stop':
        stop.abort();
        break;
      case 'rate-grant':
        gate.grant(msg.id);
        break;
      case 'rate-mode':
        gate.setFree(msg.free);
        break;
      case 'lease-lost':
        leaseLost = msg.message;
        break;
      default: {
        const never: never = msg;
        throw new Error(`section worker got an unknown message: ${JSON.stringify(never)}`);
      }
    }
  });
  let log: SectionLog | undefined;
  let result: SectionResult;
  try {
    log = openSectionLog(cfg, { applyRetention: true });
    for (const r of [log.retention.messages, log.retention.errors]) {
      if (r?.note) log.info(`log retention: ${r.note}`);
      if (r?.deleted.length) log.info(`log retention: deleted ${r.deleted.length} old log file(s): ${r.deleted.join(', ')}`);
    }
    const run = runSection({
      config: cfg,
      range: task.range,
      log,
      emit,
      signal: stop.signal,
      gate,
      metricsIntervalMs: task.metricsIntervalMs,
      runStartedAtMs: task.runStartedAtMs,
      commitHooks: await testCommitHooks(cfg),
      fence,
    });
    const ran = await Promise.race([run, failed]).catch(async (err: unknown) => {
      // An exception nobody caught, from this section's code: stop it, let
      // nothing more be committed, and give it a moment to wind down.
      crash = err;
      stop.abort();
      // With its stack, in terms of the sources (readable-stack.ts): this is a bug to report.
      log?.error(errorLogEntryFrom(err, { code: 'UZP_WORKER_CRASHED' }));
      let grace: NodeJS.Timeout | undefined;
      await Promise.race([run.then(noop, noop), new Promise<void>((resolve) => (grace = setTimeout(resolve, CRASH_GRACE_MS)))]);
      clearTimeout(grace);
      throw err;
    });
    result = { ...ran, threadId };
  } catch (err) {
    // Errors before or around the run (unreadable state files, unwritable
    // output): a failed section with its error, never a hang or a silent pass.
    const error = serializeError(err);
    emit({ type: 'error', section: cfg.section, error });
    result = { section: cfg.section, status: 'failed', metrics: lastMetrics, error, threadId };
  }
  try {
    // The section's last line, written with the log it already has open, so
    // that the main thread need not load the logger at all (docs/decisions.md,
    // "A bundled build").
    if (log) {
      log.info(`summary: ${sectionLine(result)}`);
      result = { ...result, summaryLogged: true };
    }
    await log?.close();
  } catch (err) {
    // A log that could not be written (a full disk) is not what failed the
    // section: its lines went to the console, and the result stands.
    emit({ type: 'log', section: cfg.section, level: 'error', message: err instanceof Error ? err.message : String(err) });
  } finally {
    port.close();
  }
  return result;
}
