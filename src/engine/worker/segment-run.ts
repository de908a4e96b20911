// Running one segment: its windows are listed one after the other, their
// mail details fetched, and each window committed, strictly in order. Listing
// and detail fetching run ahead of the commits (pipelining).

import type { ApiClient } from '../../api/api-client.js';
import { dataFileName } from '../../config/file-names.js';
import type { SectionConfig } from '../../config/section-config.js';
import { readPosition } from '../../storage/position-store.js';
import type { SectionLog } from '../../storage/section-log.js';
import { WindowCommitter, type CommitHooks } from '../../storage/window-commit.js';
import type { MetricsRecorder } from '../shared/section-metrics.js';
import type { WorkerMessage } from '../shared/worker-protocol.js';
import { eventTime } from './event-time.js';
import { Limiter } from './limiter.js';
import type { Segment } from './segment-plan.js';
import { WindowLister, type ListedWindow } from './window-lister.js';
import { planWindows, windowLength, type Window } from './window-plan.js';

export interface SegmentRunContext {
  config: SectionConfig;
  client: ApiClient;
  metrics: MetricsRecorder;
  log: SectionLog;
  emit: (msg: WorkerMessage) => void;
  /** Stops the run: no new window starts, the one in flight is not committed. */
  signal: AbortSignal;
  /** Test hook (crash tests): called between the steps of each commit. */
  commitHooks?: CommitHooks | undefined;
  /** Called right before each commit; throws when the run may not commit any more (its lock was lost). */
  fence?: (() => Promise<void>) | undefined;
}

interface PendingWindow {
  listed: ListedWindow;
  records: Promise<unknown[]>;
}

export async function runSegment(seg: Segment, ctx: SegmentRunContext): Promise<void> {
  const { config: cfg, metrics, log } = ctx;
  const length = windowLength(cfg.splitInterval, cfg.maxTimeGap);
  const windows = planWindows(seg.from, seg.to, length);
  const details = new Limiter(cfg.maxParallelDetails);
  const lister = new WindowLister({
    config: cfg,
    client: ctx.client,
    metrics,
    log,
    resumedAt: readPosition(seg.positionFile, cfg.section) === seg.from ? seg.from : undefined,
  });
  log.info(`${seg.label} run: ${seg.from} → ${seg.to} in windows of ${length} s`);
  const committer = new WindowCommitter(seg.positionFile, cfg.section, ctx.commitHooks);
  try {
    await runWindows(windows, lister, details, committer, seg, ctx);
  } catch (err) {
    // Also after a failure: the windows committed so far are made durable and
    // their journal removed (a window cut short keeps its journal). The
    // failure itself is what the section reports.
    await committer.seal().catch(() => undefined);
    throw err;
  }
  await committer.seal();
}

async function runWindows(
  windows: Iterator<Window>,
  lister: WindowLister,
  details: Limiter,
  committer: WindowCommitter,
  seg: Segment,
  ctx: SegmentRunContext,
): Promise<void> {
  const { config: cfg, metrics } = ctx;

  // Pipelining: while one window's details are fetched, the next window's
  // list is already requested, and once listed its details queue behind the
  // current ones, so detail slots do not idle at a window's end or during a
  // commit. Commits still happen strictly in order; at most two windows wait
  // for details and one more is being listed.
  let next: Promise<ListedWindow> | undefined;
  const clock = new ClockCheck(seg, ctx);
  const startListing = (): Promise<ListedWindow> | undefined => {
    const w = windows.next();
    if (w.done || ctx.signal.aborted || w.value.start >= clock.end()) return undefined;
    const p = lister.list(w.value);
    p.catch(() => undefined); // observed when awaited in order below
    return p;
  };
  const commitWhenFetched = async (pending: PendingWindow): Promise<boolean> => {
    let records = await pending.records;
    if (ctx.signal.aborted) return false;
    let w = pending.listed.window;
    // The API's clock may be behind this host's: nothing at or after its now − end_delay is written.
    const end = clock.end();
    if (w.start >= end) return false;
    if (w.end > end) {
      const listed = pending.listed.records;
      records = records.filter((_, i) => {
        const t = eventTime(cfg.category, listed[i]);
        return t === undefined || t < end;
      });
      ctx.log.info(`window ${w.start}–${w.end} ends at ${end} instead: the API's clock is ${String(ctx.client.clockSkewSeconds)} s behind this host's; the rest is fetched by the next run`);
      w = { start: w.start, end };
    }
    await commit(w, records, committer, ctx);
    metrics.position = seg.positionFile === cfg.positionFile ? w.end : metrics.position;
    ctx.emit({
      type: 'progress',
      section: cfg.section,
      position: w.end,
      rangeStart: seg.from,
      rangeEnd: seg.to,
      metrics: metrics.snapshot(),
    });
    return true;
  };
  let pending: PendingWindow | undefined;
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

/** Seconds of skew between this host's clock and the API's above which a run says so. */
export const CLOCK_SKEW_WARN_SECONDS = 5;

/**
 * Where the segment must end given the API's clock: the earlier of this
 * host's now and the API's (its Date header), less end_delay. A fast local
 * clock would otherwise reach past records the service has not indexed yet.
 */
/** Clients whose section has been warned about the clock: once a run, however many segments it has. */
const warnedAboutClock = new WeakSet<ApiClient>();

class ClockCheck {
  constructor(
    private readonly seg: Segment,
    private readonly ctx: SegmentRunContext,
  ) {}

  end(): number {
    const skew = this.ctx.client.clockSkewSeconds;
    if (skew === undefined) return this.seg.to;
    if (!warnedAboutClock.has(this.ctx.client) && Math.abs(skew) > CLOCK_SKEW_WARN_SECONDS) {
      warnedAboutClock.add(this.ctx.client);
      const message =
        `this host's clock is ${Math.abs(skew)} s ${skew > 0 ? 'ahead of' : 'behind'} the API's (its Date header)` +
        (skew > 0 ? '; runs end at the API\'s now − end_delay so that late records are not skipped' : '') +
        '. Check NTP (timedatectl, chronyc tracking)';
      this.ctx.log.warn(message);
      this.ctx.emit({ type: 'log', section: this.ctx.config.section, level: 'warn', message });
    }
    if (skew <= 0 || this.seg.nowLimit === undefined) return this.seg.to;
    return Math.min(this.seg.to, this.seg.nowLimit - skew);
  }
}

async function withDetailsFetched(listed: ListedWindow, ctx: SegmentRunContext, limiter: Limiter): Promise<unknown[]> {
  if (ctx.config.category !== 'mail') return listed.records;
  const { metrics } = ctx;
  return Promise.all(
    listed.records.map(async (summary) => {
      const qid = (summary as Record<string, unknown> | null)?.queue_id;
      const t = eventTime('mail', summary);
      if ((typeof qid !== 'string' && typeof qid !== 'number') || t === undefined) return summary;
      // A retry's wait frees the slot for the window's other details (limiter.ts).
      const res = await limiter.run((outside) => ctx.client.detail(String(qid), t, { whileWaiting: outside }));
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
          if (res.error.code === 'UZP_API_MALFORMED') {
            ctx.log.warn(`the detail of queue_id ${JSON.stringify(String(qid))} could not be read (${res.error.message}); its summary record is written instead`);
          }
          return summary;
        default: {
          const never: never = res;
          throw new Error(`unknown detail result ${JSON.stringify(never)}`);
        }
      }
    }),
  );
}

async function commit(w: Window, records: unknown[], committer: WindowCommitter, ctx: SegmentRunContext): Promise<void> {
  const { config: cfg, metrics } = ctx;
  const appends = new Map<string, string>();
  const writeTime = new Date();
  for (const r of records) {
    const t = cfg.fileTime === 'event' ? eventTime(cfg.category, r) ?? w.start : undefined;
    const file = dataFileName(cfg, t === undefined ? writeTime : new Date(t * 1000));
    appends.set(file, (appends.get(file) ?? '') + JSON.stringify(r) + '\n');
  }
  await ctx.fence?.();
  await committer.commit({ fromPosition: w.start, toPosition: w.end, appends });
  metrics.counts.recordsWritten += records.length;
  metrics.counts.windowsCommitted++;
}
