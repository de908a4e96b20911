// The main thread's side of a run: locks each section, hands it to a worker
// thread (the only place that uses Piscina), answers rate-budget requests,
// writes heartbeats while sections run, and collects the results.

import { performance } from 'node:perf_hooks';
import { MessageChannel, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { deserializeError, LockHeldError, serializeError, UzpError, WorkerCrashError } from '../../common/errors.js';
import { writeHeartbeat } from '../../reporting/heartbeat.js';
import { RateBudget } from './rate-budget.js';
import { LeaseKeeper } from './lease-keeper.js';
import { threadPlan, type ThreadPlan } from './thread-plan.js';
import type { SectionConfig } from '../../config/section-config.js';
import { acquireSectionLock, type SectionLock } from '../../storage/section-lock.js';
import { staleHolderWarning } from './stale-holder.js';
import { emptyMetrics, type SectionMetrics } from '../shared/section-metrics.js';
import type { SectionStatus } from '../shared/section-status.js';
import type { MainMessage, RunRange, SectionResult, SectionTask, WorkerMessage } from '../shared/worker-protocol.js';

export interface CoordinatorOptions {
  sections: SectionConfig[];
  range: RunRange;
  /** Sections at once; 1 runs them one after the other. */
  concurrency: number;
  /** Where section notes and errors are shown to the person or the cron mail. */
  notify: (section: string, level: 'info' | 'warn' | 'error', message: string) => void;
  heartbeatIntervalMs?: number;
  /** Called on every progress or metrics update (progress bars, Prometheus). */
  onUpdate?: (state: ReadonlyMap<string, SectionState>) => void;
  /** Called with every round of heartbeats while sections run (the Prometheus file follows them). */
  onHeartbeat?: (state: ReadonlyMap<string, SectionState>) => void;
  /**
   * Called as the key's rate budget lets a request of `section` go, with the
   * main thread's monotonic clock (performance.now()): the budget's own
   * decisions, free of the delay between a grant and the request leaving its
   * worker, which depends on load.
   */
  onRateGrant?: (section: string, atMs: number, waited: boolean) => void;
  /** CPUs to size the worker pool by; os.availableParallelism() unless a test sets it. */
  cores?: number;
}

export interface SectionState {
  config: SectionConfig;
  status: SectionStatus;
  metrics: SectionMetrics;
  progress?: { position: number; rangeStart: number; rangeEnd: number };
  error?: UzpError;
  /** Skipped because a live process has held its lock long with a stale heartbeat (stale-holder.ts). */
  staleHolder?: boolean;
  /** The worker thread that ran the section (worker_threads threadId), once it ended there. */
  threadId?: number;
}

/** Set by esbuild.config.mjs in dist/bundle, where the worker sits next to this code. */
declare const UZP_BUNDLED_WORKER: string | undefined;
const WORKER_FILE =
  typeof UZP_BUNDLED_WORKER === 'string' ? new URL(UZP_BUNDLED_WORKER, import.meta.url) : new URL('../../../workers/section-worker.js', import.meta.url);

export class Coordinator {
  private readonly opts: CoordinatorOptions;
  private readonly states = new Map<string, SectionState>();
  private readonly ports = new Map<string, MessagePort>();
  private readonly budgets = new Map<string, RateBudget>();
  private stopping = false;
  private pool: Piscina | undefined;
  // max_run_time counts from here, for every section of the run, queued ones too.
  private readonly startedAtMs = Date.now();

  constructor(opts: CoordinatorOptions) {
    this.opts = opts;
    for (const config of opts.sections) {
      this.states.set(config.section, { config, status: 'queued', metrics: emptyMetrics() });
    }
    // Sections sharing a key share one budget; the strictest rate_limit wins.
    for (const s of opts.sections) {
      const existing = this.budgets.get(s.apiKey);
      const ceilings = opts.sections.filter((o) => o.apiKey === s.apiKey && o.rateLimit > 0).map((o) => o.rateLimit);
      if (!existing) {
        const ceiling = ceilings.length ? Math.min(...ceilings) : 0;
        this.budgets.set(s.apiKey, new RateBudget({ ceiling, onFreeChange: (free) => this.postRateMode(s.apiKey, free) }));
      }
    }
  }

  get sectionStates(): ReadonlyMap<string, SectionState> {
    return this.states;
  }

  /** Graceful: no new section or window starts; windows in flight are rolled back. Idempotent. */
  stop(): void {
    if (this.stopping) return;
    this.stopping = true;
    for (const port of this.ports.values()) port.postMessage({ type: 'stop' } satisfies MainMessage);
  }

  /** Threads, sections per thread and heap limit of this run's pool. */
  get threads(): ThreadPlan {
    const maxResponse = Math.max(1, ...this.opts.sections.map((s) => s.maxResponseSize ?? 64));
    return threadPlan(this.opts.sections.length, this.opts.concurrency, maxResponse, this.opts.cores);
  }

  async run(): Promise<SectionResult[]> {
    const queue = [...this.opts.sections];
    const results: SectionResult[] = [];
    const plan = this.threads;
    this.pool = new Piscina({
      filename: WORKER_FILE.href,
      minThreads: 0,
      maxThreads: plan.threads,
      // --max-workers sections at once, several to a thread (docs/decisions.md, "Threads sized to the machine").
      concurrentTasksPerWorker: plan.sectionsPerThread,
      resourceLimits: { maxOldGenerationSizeMb: plan.heapMiB, maxYoungGenerationSizeMb: plan.youngMiB },
      idleTimeout: 1000,
      // Section tasks stay async for minutes; parking idle threads in
      // Atomics.wait would freeze their pending I/O (docs/decisions.md, "Worker threads without Atomics.wait").
      atomics: 'disabled',
    });
    const heartbeat = setInterval(() => {
      this.writeHeartbeats();
      this.opts.onHeartbeat?.(this.states);
    }, this.opts.heartbeatIntervalMs ?? 2000);
    heartbeat.unref();
    try {
      const lanes = Array.from({ length: Math.min(queue.length, Math.max(1, this.opts.concurrency)) }, async () => {
        for (let cfg = queue.shift(); cfg; cfg = queue.shift()) results.push(await this.runOne(cfg));
      });
      await Promise.all(lanes);
    } finally {
      clearInterval(heartbeat);
      for (const b of this.budgets.values()) b.close();
      await this.pool.destroy();
      this.pool = undefined;
    }
    const order = new Map(this.opts.sections.map((s, i) => [s.section, i]));
    return results.sort((a, b) => (order.get(a.section) ?? 0) - (order.get(b.section) ?? 0));
  }

  private async runOne(cfg: SectionConfig): Promise<SectionResult> {
    const state = this.states.get(cfg.section);
    if (!state) throw new Error(`no state for ${cfg.section}`);
    if (this.stopping) return this.finish(state, { section: cfg.section, status: 'stopped', metrics: state.metrics });

    let lock: SectionLock;
    try {
      lock = acquireSectionLock(cfg.lockFilePath, cfg.section, (msg) => this.opts.notify(cfg.section, 'warn', msg), { leaseSeconds: cfg.lockLease });
    } catch (err) {
      if (err instanceof LockHeldError) {
        this.opts.notify(cfg.section, 'info', err.message);
        const stale = staleHolderWarning(cfg, err);
        state.staleHolder = stale !== undefined;
        if (stale) this.opts.notify(cfg.section, 'warn', stale);
        return this.finish(state, { section: cfg.section, status: 'skipped', metrics: state.metrics, error: serializeError(err) });
      }
      return this.finish(state, { section: cfg.section, status: 'failed', metrics: state.metrics, error: serializeError(err) });
    }

    const { port1, port2 } = new MessageChannel();
    const lease = new LeaseKeeper({
      lock,
      section: cfg.section,
      leaseSeconds: cfg.lockLease,
      // The worker fails the section with this message at its next commit (and says so then).
      onLost: (message) => port1.postMessage({ type: 'lease-lost', message } satisfies MainMessage),
      onTrouble: (message) => this.opts.notify(cfg.section, 'warn', message),
    });
    try {
      state.status = 'running';
      this.writeHeartbeat(state);
      this.ports.set(cfg.section, port1);
      port1.postMessage({ type: 'rate-mode', free: this.budgets.get(cfg.apiKey)?.free ?? true } satisfies MainMessage);
      port1.on('message', (msg: WorkerMessage) => this.onMessage(state, port1, msg));
      const task: SectionTask = {
        config: cfg,
        range: this.opts.range,
        port: port2,
        metricsIntervalMs: Math.min(1000, this.opts.heartbeatIntervalMs ?? 1000),
        lock: { path: lock.path, token: lock.token },
        runStartedAtMs: this.startedAtMs,
      };
      let result: SectionResult;
      try {
        const pool = this.pool;
        if (!pool) throw new Error('worker pool is closed');
        result = (await pool.run(task, { transferList: [port2] })) as SectionResult;
      } catch (err) {
        const crash = new WorkerCrashError(
          `section ${cfg.section}: its worker thread died (${err instanceof Error ? err.message : String(err)}); ` +
            'nothing after the last committed window was kept; run again, and report this if it repeats',
          { section: cfg.section },
          { cause: err },
        );
        this.opts.notify(cfg.section, 'error', crash.message);
        result = { section: cfg.section, status: 'failed', metrics: state.metrics, error: serializeError(crash) };
      } finally {
        // The result comes back on Piscina's channel, which can overtake the
        // section's last messages on its own port (the error of a section that
        // failed at once): take them before the port closes, or they are lost.
        for (let m = receiveMessageOnPort(port1); m; m = receiveMessageOnPort(port1)) this.onMessage(state, port1, m.message as WorkerMessage);
        this.ports.delete(cfg.section);
        port1.close();
      }
      return this.finish(state, result);
    } finally {
      lease.stop();
      lock.release();
    }
  }

  private onMessage(state: SectionState, port: MessagePort, msg: WorkerMessage): void {
    switch (msg.type) {
      case 'progress':
        state.progress = { position: msg.position, rangeStart: msg.rangeStart, rangeEnd: msg.rangeEnd };
        state.metrics = msg.metrics;
        this.opts.onUpdate?.(this.states);
        break;
      case 'metrics':
        state.metrics = msg.metrics;
        this.opts.onUpdate?.(this.states);
        break;
      case 'log':
        this.opts.notify(msg.section, msg.level, msg.message);
        break;
      case 'rate-acquire': {
        const budget = this.budgets.get(state.config.apiKey);
        // Whether the request waited in the budget's queue, rather than being granted as it asked.
        let waited = false;
        const grant = (): void => {
          // The port is closed once the section ended; a late grant has no taker.
          if (this.ports.get(state.config.section) !== port) return;
          this.opts.onRateGrant?.(state.config.section, performance.now(), waited);
          port.postMessage({ type: 'rate-grant', id: msg.id } satisfies MainMessage);
        };
        if (budget) budget.acquire(grant);
        else grant();
        waited = true;
        break;
      }
      case 'rate-observe': {
        const budget = this.budgets.get(state.config.apiKey);
        budget?.observe(msg.outcome);
        // A 429 held its worker until judged (rate-gate-port.ts): say whether the key is still free.
        if (msg.outcome.status === 429) port.postMessage({ type: 'rate-mode', free: budget?.free ?? true } satisfies MainMessage);
        break;
      }
      case 'rate-admitted':
        this.budgets.get(state.config.apiKey)?.admitted(msg.count);
        break;
      case 'error':
        // Raised outside the section runner (e.g. its logs cannot be opened):
        // nothing else has told the person yet.
        state.error = deserializeError(msg.error);
        this.opts.notify(msg.section, 'error', `${state.error.code}: ${state.error.message}`);
        break;
      default: {
        const never: never = msg;
        throw new Error(`main thread got an unknown worker message: ${JSON.stringify(never)}`);
      }
    }
  }

  /** Tells the running sections on this key whether they may skip the grant round trip. */
  private postRateMode(apiKey: string, free: boolean): void {
    for (const [section, port] of this.ports) {
      if (this.states.get(section)?.config.apiKey === apiKey) port.postMessage({ type: 'rate-mode', free } satisfies MainMessage);
    }
  }

  private finish(state: SectionState, result: SectionResult): SectionResult {
    state.metrics = result.metrics;
    if (result.threadId !== undefined) state.threadId = result.threadId;
    state.error = result.error ? deserializeError(result.error) : undefined;
    state.status = result.status;
    // A skipped section's heartbeat belongs to the run that holds its lock.
    if (state.status !== 'skipped') this.writeHeartbeat(state);
    this.opts.onUpdate?.(this.states);
    return result;
  }

  /**
   * The process is about to exit without waiting for its sections (a second
   * signal): each running section's heartbeat says `stopped` rather than
   * `running` forever. Synchronous, as nothing after process.exit runs.
   */
  abandon(): void {
    for (const state of this.states.values()) {
      if (state.status !== 'running') continue;
      state.status = 'stopped';
      this.writeHeartbeat(state);
    }
  }

  private writeHeartbeats(): void {
    for (const state of this.states.values()) if (state.status === 'running') this.writeHeartbeat(state);
  }

  private writeHeartbeat(state: SectionState): void {
    if (state.status === 'queued') return;
    try {
      writeHeartbeat(state.config, state.status, state.metrics, state.error);
    } catch (err) {
      this.opts.notify(state.config.section, 'warn', `could not write heartbeat ${state.config.heartbeatFile}: ${(err as Error).message}`);
    }
  }
}
