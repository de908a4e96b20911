// Running one segment: its windows are listed one after the other, their
// mail details fetched, and each window committed, strictly in order. Listing
// and detail fetching run ahead of the commits (pipelining).

import type { ApiClient } from '../../api/api-client.js';
import { dataFileName } from '../../config/file-names.js';
import type { SectionConfig } from '../../config/section-config.js';
import { readPosition } from '../../storage/position-store.js';
import type { SectionLog } from '../../storage/section-log.js';
import { commitWindow, type CommitHooks } from '../../storage/window-commit.js';
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

  // Pipelining: while one window's details are fetched, the next window's
  // list is already requested, and once listed its details queue behind the
  // current ones, so detail slots do not idle at a window's end or during a
  // commit. Commits still happen strictly in order; at most two windows wait
  // for details and one more is being listed.
  let next: Promise<ListedWindow> | undefined;
  const startListing = (): Promise<ListedWindow> | undefined => {
    const w = windows.next();
    if (w.done || ctx.signal.aborted) return undefined;
    const p = lister.list(w.value);
    p.catch(() => undefined); // observed when awaited in order below
    return p;
  };
  const commitWhenFetched = async (pending: PendingWindow): Promise<boolean> => {
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
          return summary;
        default: {
          const never: never = res;
          throw new Error(`unknown detail result ${JSON.stringify(never)}`);
        }
      }
    }),
  );
}

function commit(w: Window, records: unknown[], seg: Segment, ctx: SegmentRunContext): void {
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
