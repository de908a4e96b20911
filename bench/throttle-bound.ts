// Benchmark (d), 429s our rate did not cause (issue 8): sections sharing one
// key against the mock with random 429s (status429, Retry-After: 1) with and
// without a quota, and against a Laravel-style fixed window. Each run reports
// the admitted requests per second against the limit, the share of 429s, and
// its wall time, which run-all.ts sets against the same run without the
// random 429s, measured side by side in the same invocation.

import { startMockApi, type FixedWindowRecord, type MockFaults, type MockRequestLogEntry } from '../src/mock-api/index.js';
import { expectSuccess, mailSections, FIXED_END, round, runCollector, scratch, totalLine } from './support.js';
import { writeSectionsIni } from '../test/support/sections-ini.js';

export interface ThrottleOptions {
  /** Share of requests answered 429 whatever the rate. */
  random429: number;
  /** Token-bucket quota, requests per second; 0 = none. */
  quota: number;
  /** Laravel fixed window per key. */
  fixedWindow?: { requests: number; seconds: number };
  sections: number;
  latencyMs: number;
  /** Minutes of mail per section at 40 records a minute. */
  minutes: number;
}

export interface ThrottleResult {
  options: ThrottleOptions;
  requests: number;
  admitted: number;
  rateLimited: number;
  /** 429s the random fault answered. */
  random429s: number;
  share429: number;
  /** Admitted requests per second, first to last request. */
  achievedPerSecond: number;
  wallSeconds: number;
  /** Fixed window only: admitted ÷ the window's N over every window but the last (which the work may not fill). */
  ofWindowQuota?: number;
  windows?: FixedWindowRecord[];
  /**
   * Fixed window only: requests that reached the service while the key should
   * have been paused: later than PAUSE_GRACE_MS after the window's first 429
   * (which says when it ends) and before the window's end.
   */
  sentWhilePaused?: number;
  summary: string;
}

/** Requests already on their way when the first 429 of a window was answered. */
const PAUSE_GRACE_MS = 100;
const KEY = 'bench-throttle-key-0123456789';

export async function throttleBound(o: ThrottleOptions): Promise<ThrottleResult> {
  const end = FIXED_END;
  const start = end - Math.round(o.minutes * 60);
  const sections = mailSections(o.sections, KEY, { name: 'throttle', domain: 't' });
  const faults: MockFaults = { latencyMs: o.latencyMs, retryAfter: 1 };
  if (o.random429 > 0) faults.status429 = o.random429;
  if (o.quota > 0) faults.perKeyRateLimit = { requestsPerSecond: o.quota };
  if (o.fixedWindow) faults.fixedWindow = o.fixedWindow;
  const mock = await startMockApi({ seed: 23, from: start - 60, to: end + 60, streams: sections.map((s) => s.stream), faults, logLimit: 1_000_000 });
  const work = scratch('throttle');
  try {
    const config = writeSectionsIni(work.dir, mock, sections, { start_time: start });
    const run = await runCollector(
      ['--config', config, '--all', '--parallel', '--max-workers', String(o.sections), '--start-time', String(start), '--end-time', String(end)],
      work.dir,
    );
    expectSuccess(run, `throttle (${JSON.stringify(o)})`);
    const stats = mock.stats();
    const log = stats.log;
    const rateLimited = log.filter((e) => e.status === 429).length;
    const admitted = log.length - rateLimited;
    const first = log[0]?.at ?? 0;
    const last = log[log.length - 1]?.at ?? first;
    const result: ThrottleResult = {
      options: o,
      requests: log.length,
      admitted,
      rateLimited,
      random429s: stats.byFault['status429'] ?? 0,
      share429: round(rateLimited / Math.max(1, log.length), 4),
      achievedPerSecond: round(admitted / Math.max(0.001, (last - first) / 1000), 1),
      wallSeconds: round(run.wallSeconds, 2),
      summary: totalLine(run),
    };
    if (o.fixedWindow) {
      const windows = mock.fixedWindows();
      const full = windows.slice(0, -1);
      result.windows = windows;
      result.ofWindowQuota = full.length === 0 ? 1 : round(full.reduce((n, w) => n + w.admitted, 0) / (full.length * o.fixedWindow.requests), 3);
      result.sentWhilePaused = sentWhilePaused(log, windows);
    }
    return result;
  } finally {
    await mock.close();
    work.remove();
  }
}

/** See ThrottleResult.sentWhilePaused. */
export function sentWhilePaused(log: readonly MockRequestLogEntry[], windows: readonly FixedWindowRecord[]): number {
  let n = 0;
  for (const w of windows) {
    const told = log.find((e) => e.fault === 'fixedWindow' && e.at >= w.startAt && e.at < w.endAt);
    if (!told) continue;
    n += log.filter((e) => e.at > told.at + PAUSE_GRACE_MS && e.at < w.endAt).length;
  }
  return n;
}
