// Collects one section: plans windows from the saved position to the end of
// the range, lists each window (bisecting full pages), replaces mail records
// by their detail, and commits window by window in event-time order.
//
// Runs inside a worker thread; everything it needs arrives in its arguments.

import { ApiClient, type RateGate, type RequestEvent } from '../../api/api-client.js';
import { AbortedError, ApiAuthError, UzpError, WindowGivenUpError, serializeError } from '../../common/errors.js';
import { eventTime } from './event-time.js';
import { dataFileName } from '../../config/file-names.js';
import { readPosition, writePosition } from '../../storage/position-store.js';
import type { SectionConfig } from '../../config/section-config.js';
import type { SectionLog } from '../../storage/section-log.js';
import { MetricsRecorder } from '../shared/section-metrics.js';
import { commitWindow, recoverPendingCommit } from '../../storage/window-commit.js';
import { bisect, capQuarantineStart, planWindows, windowLength, type Window } from './window-plan.js';
import type { RunRange, SectionResult, WorkerMessage } from '../shared/worker-protocol.js';

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
  /** Test hook: called between the steps of a commit. */
  commitHooks?: Parameters<typeof commitWindow>[0]['hooks'];
}

interface Segment {
  from: number;
  to: number;
  positionFile: string;
  label: string;
  /** Runs before the segment's first window. */
  before?: () => void;
}

/** A backfill file holding this has merged into the cron stream (see planSegments). */
const BACKFILL_MERGED = 9_999_999_999;

/** A window's records after listing, in event-time order, with details still to come. */
interface ListedWindow {
  window: Window;
  records: unknown[];
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
  const client = new ApiClient({
    section: cfg.section,
    apiKey: cfg.apiKey,
    url: cfg.url,
    category: cfg.category,
    type: cfg.type,
    domain: cfg.domain,
    listTimeoutMs: cfg.listTimeout * 1000,
    detailTimeoutMs: cfg.detailTimeout * 1000,
    listRetries: cfg.listRetries,
    listSleepSeconds: cfg.listSleepTime,
    detailRetries: cfg.detailRetries,
    detailSleepSeconds: cfg.detailSleepTime,
    useSession: cfg.useSession,
    maxConnections: cfg.maxParallelDetails + 1,
    caFile: cfg.caFile || undefined,
    gate: opts.gate,
    onRequest,
    signal: opts.signal,
  });

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
    const segments = planSegments(cfg, opts.range, nowSeconds(), log, metrics);
    for (const seg of segments) {
      seg.before?.();
      await runSegment(seg, { ...opts, client, metrics, nowSeconds, timeless: [] });
      if (opts.signal.aborted) break;
    }
    if (opts.signal.aborted) {
      log.info('stopped by signal; the window in progress was not committed and will be fetched again');
      return result('stopped');
    }
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

/**
 * Splits the run into the stretches that each move one position file.
 * Cron run: saved position (or start_time) → now − end_delay, on the section's
 * position file. Backfill (--start-time): the part before the cron position
 * moves a position file of its own, so it is resumable and never moves the
 * cron position backwards; the part at or after the cron position continues
 * the cron stream itself.
 */
function planSegments(cfg: SectionConfig, range: RunRange, now: number, log: SectionLog, metrics: MetricsRecorder): Segment[] {
  const recovered = recoverPendingCommit(cfg.positionFile, cfg.section);
  noteRecovery(recovered, cfg.positionFile, log);
  const cronPos = readPosition(cfg.positionFile, cfg.section);
  metrics.position = cronPos ?? null;
  const to = range.to ?? now - cfg.endDelay;
  const segments: Segment[] = [];

  if (range.from === undefined) {
    segments.push({ from: cronPos ?? cfg.startTime, to, positionFile: cfg.positionFile, label: 'cron' });
  } else {
    // A backfill keeps its progress in a file of its own, so that running the
    // same command again resumes it. Once it reaches the cron position it
    // merges into the cron stream: the rest of the range moves the cron
    // position, and the backfill file records the merge, so a rerun neither
    // fetches again what the cron stream holds nor moves it backwards.
    const backfillFile = `${cfg.positionFile}.backfill-${range.from}-${range.to ?? 'now'}`;
    noteRecovery(recoverPendingCommit(backfillFile, cfg.section), backfillFile, log);
    const backfillPos = readPosition(backfillFile, cfg.section) ?? range.from;
    const merge = (): void => writePosition(backfillFile, BACKFILL_MERGED, cfg.section);
    if (cronPos === undefined) {
      segments.push({ from: range.from, to, positionFile: cfg.positionFile, label: 'backfill (starts the cron stream)', before: merge });
    } else {
      if (backfillPos < Math.min(to, cronPos)) {
        segments.push({ from: backfillPos, to: Math.min(to, cronPos), positionFile: backfillFile, label: 'backfill' });
      }
      if (cronPos < to) {
        if (cronPos < range.from) {
          log.info(
            `the cron position ${cronPos} is before the backfill start ${range.from}: continuing the cron stream ` +
              `from ${cronPos} instead, as fetching [${range.from}, ${to}) alone would have the next cron run fetch it again`,
          );
        }
        segments.push({ from: cronPos, to, positionFile: cfg.positionFile, label: 'backfill (continues the cron stream)', before: merge });
      } else if (backfillPos >= Math.min(to, cronPos)) {
        log.info(`backfill ${range.from}–${to} is already complete (${backfillFile})`);
      }
    }
  }

  if (cfg.category === 'quarantine') {
    for (const seg of segments) {
      const capped = capQuarantineStart(seg.from, now);
      if (capped.skipped) {
        recordGap(cfg, log, metrics, capped.skipped, 'quarantine records older than 7 days cannot be fetched (API returns 406); start capped at now − 6 days');
        seg.from = Math.min(capped.start, seg.to);
      }
    }
  }
  return segments.filter((s) => s.from < s.to);
}

function noteRecovery(outcome: ReturnType<typeof recoverPendingCommit>, file: string, log: SectionLog): void {
  if (outcome.action === 'rolled-back') {
    log.warn(
      `an interrupted window was rolled back (${file}.pending): ` +
        outcome.files
          .filter((f) => f.truncatedFrom !== undefined)
          .map((f) => `${f.path} cut from ${f.truncatedFrom} to ${f.truncatedTo} bytes`)
          .join(', ') +
        '; it will be fetched again',
    );
  } else if (outcome.action === 'completed') {
    log.info(`an interrupted commit had already saved its position (${file}); cleared its pending record`);
  }
}

function recordGap(cfg: SectionConfig, log: SectionLog, metrics: MetricsRecorder, gap: Window, reason: string): void {
  metrics.counts.gaps++;
  metrics.counts.gapSeconds += gap.end - gap.start;
  log.error({
    error: `gap: records from ${gap.start} to ${gap.end} were not fetched: ${reason}`,
    code: 'UZP_GAP',
    errorClass: 'Gap',
    gap: true,
    from: gap.start,
    to: gap.end,
    reason,
  });
}

interface SegmentContext extends SectionRunOptions {
  client: ApiClient;
  metrics: MetricsRecorder;
  nowSeconds: () => number;
  /**
   * Records without an event time seen by the last two list answers. Adjacent
   * requests overlap by up to two seconds (the start is asked one second
   * early and the end may be inclusive), and a timeless record cannot be
   * filtered by time, so the overlap is recognised by content instead.
   */
  timeless: Set<string>[];
  /**
   * Set while the segment continues from a saved position P: the previous run's
   * last request also covered the seconds around P, so timeless records there
   * were written by it (see listWindow).
   */
  resumedAt?: number;
}

async function runSegment(seg: Segment, ctx: SegmentContext): Promise<void> {
  const { config: cfg, metrics, log } = ctx;
  const length = windowLength(cfg.splitInterval, cfg.maxTimeGap);
  const windows = planWindows(seg.from, seg.to, length);
  const details = new Limiter(cfg.maxParallelDetails);
  ctx.resumedAt = readPosition(seg.positionFile, cfg.section) === seg.from ? seg.from : undefined;
  log.info(`${seg.label} run: ${seg.from} → ${seg.to} in windows of ${length} s`);

  // Pipelining: while one window's details are fetched, the next window's
  // list is already requested, and once listed its details queue behind the
  // current ones, so detail slots do not idle at a window's end or during a
  // commit. Commits still happen strictly in order; at most two windows wait
  // for details and one more is being listed.
  let next: Promise<ListedWindow> | undefined;
  const startListing = (): Promise<ListedWindow> | undefined => {
    const w = windows.next();
    if (w.done || ctx.signal.aborted) return undefined;
    const p = listWindow(w.value, ctx);
    p.catch(() => undefined); // observed when awaited in order below
    return p;
  };
  const commitWhenFetched = async (pending: { listed: ListedWindow; records: Promise<unknown[]> }): Promise<boolean> => {
    const records = await pending.records;
    if (ctx.signal.aborted) return false;
    commit(pending.listed.window, records, seg, ctx);
    metrics.position = seg.positionFile === cfg.positionFile ? pending.listed.window.end : metrics.position;
    ctx.emit({
      type: 'progress',
      section: cfg.section,
      position: pending.listed.window.end,
      rangeStart: seg.from,
      rangeEnd: seg.to,
      recordsWritten: metrics.counts.recordsWritten,
    });
    return true;
  };
  let pending: { listed: ListedWindow; records: Promise<unknown[]> } | undefined;
  next = startListing();
  while (next) {
    let listed: ListedWindow;
    try {
      listed = await next;
    } catch (err) {
      // The window before the one that failed is kept, as it would be without pipelining.
      if (pending) await commitWhenFetched(pending);
      throw err;
    }
    const records = withDetailsFetched(listed, ctx, details);
    records.catch(() => undefined); // observed when awaited in order
    next = startListing();
    if (pending && !(await commitWhenFetched(pending))) return;
    pending = { listed, records };
  }
  if (pending) await commitWhenFetched(pending);
}

/** Lists a window, bisecting pages that may have been cut at max_records_per_page (docs/api.md, "List"). */
async function listWindow(w: Window, ctx: SegmentContext): Promise<ListedWindow> {
  const { config: cfg, metrics, log } = ctx;
  // One second wider at the start: whether the service includes both range
  // ends or only one, every record of [start, end) is in the answer; the
  // filter below keeps exactly those (docs/api.md, "Range ends").
  let raw = await listOrGiveUp(w.start - 1, w.end, w, ctx);
  if (raw.length >= cfg.maxRecordsPerPage) {
    const halves = bisect(w);
    if (halves) {
      const first = await listWindow(halves[0], ctx);
      const second = await listWindow(halves[1], ctx);
      return { window: w, records: first.records.concat(second.records) };
    }
    const exact = await listOneSecond(w.start, ctx);
    raw = exact.raw;
    if (exact.full) {
      metrics.counts.truncatedWindows++;
      log.error({
        error:
          `the second ${w.start} holds at least ${raw.length} records, the API page limit: ` +
          'records beyond the page cannot be fetched and are missing from the output',
        code: 'UZP_TRUNCATED_WINDOW',
        errorClass: 'TruncatedWindow',
        from: w.start,
        to: w.end,
        received: raw.length,
      });
    }
  }
  if (ctx.resumedAt === w.start) {
    ctx.resumedAt = undefined;
    if (raw.some((r) => eventTime(cfg.category, r) === undefined)) {
      // [P-1, P] is exactly where this request overlaps the previous run's last
      // one, whatever range ends the service includes: its timeless records are
      // already written. Asked only when there are timeless records to check.
      const overlap = await listOrGiveUp(w.start - 1, w.start, w, ctx);
      ctx.timeless.push(new Set(overlap.filter((r) => eventTime(cfg.category, r) === undefined).map((r) => JSON.stringify(r))));
    }
  }
  // The API answers newest first; reversed, ties keep the service's order.
  const keyed: { t: number; r: unknown }[] = [];
  const timelessHere = new Set<string>();
  for (let i = raw.length - 1; i >= 0; i--) {
    const r = raw[i];
    const t = eventTime(cfg.category, r);
    if (t === undefined) {
      // Written with the window it came in, never silently dropped (docs/api.md, "Records and event time"),
      // but only once when the overlap of two requests returned it twice.
      const text = JSON.stringify(r);
      timelessHere.add(text);
      if (ctx.timeless.some((seen) => seen.has(text))) continue;
      metrics.counts.recordsWithoutTime++;
      keyed.push({ t: w.start, r });
    } else if (t >= w.start && t < w.end) {
      keyed.push({ t, r });
    }
  }
  ctx.timeless.push(timelessHere);
  if (ctx.timeless.length > 2) ctx.timeless.shift();
  keyed.sort((a, b) => a.t - b.t); // Array.prototype.sort is stable
  return { window: w, records: keyed.map((k) => k.r) };
}

/** One list request; a failure after all retries gives the window up (the position stays before it). */
async function listOrGiveUp(starttime: number, endtime: number, w: Window, ctx: SegmentContext): Promise<unknown[]> {
  const { config: cfg } = ctx;
  try {
    return await ctx.client.list(starttime, endtime);
  } catch (err) {
    if (err instanceof AbortedError || err instanceof ApiAuthError) throw err;
    const e = err instanceof UzpError ? err : undefined;
    throw new WindowGivenUpError(
      `section ${cfg.section}: window ${w.start}–${w.end} could not be fetched after ${cfg.listRetries} retries ` +
        `(${e ? e.message : String(err)}); the position stays at ${w.start} and the next run fetches it again`,
      { section: cfg.section, from: w.start, to: w.end, cause: e?.code },
      { cause: err },
    );
  }
}

/**
 * A full page for a one-second window: the widened request also held the
 * neighbouring seconds, whose newer records may have pushed this second's
 * out. Ask for the second alone, in each of the forms that return exactly it
 * under one of the possible range-end rules, and keep the largest answer.
 */
async function listOneSecond(s: number, ctx: SegmentContext): Promise<{ raw: unknown[]; full: boolean }> {
  const { config: cfg } = ctx;
  let best: unknown[] = [];
  let bestFull = false;
  for (const [from, to] of [
    [s, s], // both ends included
    [s, s + 1], // start included, end excluded
    [s - 1, s], // start excluded, end included
  ] as const) {
    const page = await listOrGiveUp(from, to, { start: s, end: s + 1 }, ctx);
    const only = page.filter((r) => eventTime(cfg.category, r) === s);
    if (only.length > best.length) {
      best = only;
      bestFull = page.length >= cfg.maxRecordsPerPage;
    }
  }
  return { raw: best, full: bestFull };
}

async function withDetailsFetched(listed: ListedWindow, ctx: SegmentContext, limiter: Limiter): Promise<unknown[]> {
  if (ctx.config.category !== 'mail') return listed.records;
  const { metrics } = ctx;
  return Promise.all(
    listed.records.map(async (summary) => {
      const qid = (summary as Record<string, unknown> | null)?.queue_id;
      const t = eventTime('mail', summary);
      if ((typeof qid !== 'string' && typeof qid !== 'number') || t === undefined) return summary;
      const res = await limiter.run(() => ctx.client.detail(String(qid), t));
      switch (res.status) {
        case 'ok':
          metrics.counts.detailsFetched++;
          return res.record;
        case 'missing':
          metrics.counts.detailsMissing++;
          return summary;
        case 'failed':
          // Never drop the record: the summary stands in (docs/api.md, "Detail").
          metrics.counts.detailsFailed++;
          return summary;
        default: {
          const never: never = res;
          throw new Error(`unknown detail result ${JSON.stringify(never)}`);
        }
      }
    }),
  );
}

function commit(w: Window, records: unknown[], seg: Segment, ctx: SegmentContext): void {
  const { config: cfg, metrics } = ctx;
  const appends = new Map<string, string>();
  const writeTime = new Date();
  for (const r of records) {
    const t = cfg.fileTime === 'event' ? eventTime(cfg.category, r) ?? w.start : undefined;
    const file = dataFileName(cfg, t === undefined ? writeTime : new Date(t * 1000));
    appends.set(file, (appends.get(file) ?? '') + JSON.stringify(r) + '\n');
  }
  commitWindow({
    section: cfg.section,
    positionFile: seg.positionFile,
    fromPosition: w.start,
    toPosition: w.end,
    appends,
    hooks: ctx.commitHooks,
  });
  metrics.counts.recordsWritten += records.length;
  metrics.counts.windowsCommitted++;
}

/** At most `size` tasks at once, started in the order they were asked for. */
class Limiter {
  private active = 0;
  private readonly queue: (() => void)[] = [];

  constructor(private readonly size: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.size) await new Promise<void>((resolve) => this.queue.push(resolve));
    this.active++;
    try {
      return await task();
    } finally {
      this.active--;
      this.queue.shift()?.();
    }
  }
}
