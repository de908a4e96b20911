// Collects one section: plans its segments (segment-plan.ts), runs each one
// window by window (segment-run.ts), and turns how it ended into the
// section's result.
//
// Runs inside a worker thread; everything it needs arrives in its arguments.

import { ApiClient, type RateGate, type RequestEvent } from '../../api/api-client.js';
import { clientOptions } from '../../api/client-options.js';
import { AbortedError, UzpError, WindowGivenUpError, serializeError } from '../../common/errors.js';
import type { SectionConfig } from '../../config/section-config.js';
import type { SectionLog } from '../../storage/section-log.js';
import { MetricsRecorder } from '../shared/section-metrics.js';
import type { RunRange, SectionResult, WorkerMessage } from '../shared/worker-protocol.js';
import { planSegments } from './segment-plan.js';
import { runSegment } from './segment-run.js';
import { createNextDataFile } from '../../storage/next-data-file.js';
import { applyDataRetention } from '../../storage/data-retention.js';
import type { CommitHooks } from '../../storage/window-commit.js';

export interface SectionRunOptions {
  config: SectionConfig;
  range: RunRange;
  log: SectionLog;
  emit: (msg: WorkerMessage) => void;
  /** Stops the run: no new window starts, the one in flight is not committed. */
  signal: AbortSignal;
  gate?: RateGate;
  nowSeconds?: () => number;
  metricsIntervalMs?: number;
  /** When the run started (Date.now()); max_run_time counts from it. Now, when not given. */
  runStartedAtMs?: number;
  /** Test hook (crash tests): called between the steps of each commit. */
  commitHooks?: CommitHooks;
  /** Throws when this run may not commit any more (its lock was lost). */
  fence?: () => Promise<void>;
}

export async function runSection(opts: SectionRunOptions): Promise<SectionResult> {
  const { config: cfg, log, emit } = opts;
  const nowSeconds = opts.nowSeconds ?? (() => Math.floor(Date.now() / 1000));
  const metrics = new MetricsRecorder(nowSeconds);
  const onRequest = (ev: RequestEvent): void => {
    // A request cut off by a graceful stop is neither an API call that
    // failed nor an error to alert on.
    if (ev.error?.code === 'UZP_ABORTED') return;
    metrics.recordRequest(ev.kind, ev.status, ev.durationMs, ev.willRetry, ev.error !== undefined);
    if (ev.error && !(ev.kind === 'detail' && ev.status === 404)) {
      log.error({
        error: ev.error.message,
        code: ev.error.code,
        errorClass: ev.error.name,
        kind: typeof ev.error.context.kind === 'string' ? ev.error.context.kind : undefined,
        url: ev.url,
        status: ev.status,
        durationMs: Math.round(ev.durationMs),
        attempt: ev.attempt,
        willRetry: ev.willRetry,
        waitMs: ev.waitMs,
      });
    }
  };
  const startedAtMs = opts.runStartedAtMs ?? Date.now();
  const deadline = cfg.maxRunTime > 0 ? { atMs: startedAtMs + cfg.maxRunTime * 1000, maxRunTime: cfg.maxRunTime } : undefined;
  const client = new ApiClient(clientOptions(cfg, { gate: opts.gate, onRequest, signal: opts.signal, deadline }));

  const postMetrics = (): void => emit({ type: 'metrics', section: cfg.section, metrics: metrics.snapshot() });
  const ticker = setInterval(postMetrics, opts.metricsIntervalMs ?? 1000);
  ticker.unref();

  const result = (status: SectionResult['status'], error?: unknown): SectionResult => ({
    section: cfg.section,
    status,
    metrics: metrics.snapshot(),
    ...(error === undefined ? {} : { error: serializeError(error) }),
  });

  try {
    const segments = await planSegments(cfg, opts.range, nowSeconds(), log, metrics, opts.commitHooks);
    // After planSegments: interrupted commits are recovered and the position is known.
    pruneOldData(cfg, nowSeconds(), log, metrics);
    for (const seg of segments) {
      seg.before?.();
      await runSegment(seg, { config: cfg, client, metrics, log, emit, signal: opts.signal, commitHooks: opts.commitHooks, fence: opts.fence });
      if (opts.signal.aborted) break;
    }
    if (opts.signal.aborted) {
      log.info('stopped by signal; the window in progress was not committed and will be fetched again');
      return result('stopped');
    }
    await prepareNextFile(cfg, log, nowSeconds() * 1000);
    const s = metrics.snapshot();
    log.info(
      `completed: ${s.recordsWritten} records in ${s.windowsCommitted} windows, ` +
        `${s.apiCalls} API calls (${s.apiErrors} errors), position ${s.position ?? 'unchanged'}`,
    );
    return result('completed');
  } catch (err) {
    if (opts.signal.aborted && (err instanceof AbortedError || !(err instanceof UzpError))) {
      log.info('stopped by signal; the window in progress was not committed and will be fetched again');
      return result('stopped');
    }
    const e = err instanceof UzpError ? err : new WindowGivenUpError(`section ${cfg.section}: ${String(err)}`, { section: cfg.section });
    log.error({ error: e.message, code: e.code, errorClass: e.name, ...e.context });
    emit({ type: 'log', section: cfg.section, level: 'error', message: e.message });
    return result('failed', e);
  } finally {
    clearInterval(ticker);
    postMetrics();
    await client.close().catch(() => client.destroy());
  }
}

/** create_next_data_file: a failure is worth a line in the logs, not the section's result. */
async function prepareNextFile(cfg: SectionConfig, log: SectionLog, nowMs: number): Promise<void> {
  try {
    const created = await createNextDataFile(cfg, nowMs);
    if (created) log.info(`created the next period's data file ${created}, empty, for agents that look for it when the period starts (create_next_data_file)`);
  } catch (err) {
    log.error({ error: `could not create the next period's data file (create_next_data_file): ${(err as Error).message}`, code: 'UZP_WRITE_FAILED' });
  }
}

/** data_retention_days: deletes the section's finished old data files, each logged and counted. */
function pruneOldData(cfg: SectionConfig, now: number, log: SectionLog, metrics: MetricsRecorder): void {
  const r = applyDataRetention({ dir: cfg.outputDirectory, format: cfg.logFileNameFormat, days: cfg.dataRetentionDays, nowMs: now * 1000, position: metrics.position });
  if (r.note) log.info(r.note);
  for (const file of r.deleted) log.info(`data retention: deleted ${file}, whose period ended more than ${cfg.dataRetentionDays} days ago`);
  for (const f of r.failed) log.error({ error: `data retention could not delete ${f.path}: ${f.message}`, code: 'UZP_WRITE_FAILED' });
  metrics.counts.dataFilesDeleted += r.deleted.length;
}
