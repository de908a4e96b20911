// Benchmark (b), rate-limit bound: several sections share one API key whose
// quota the mock enforces with a token bucket (perKeyRateLimit R req/s,
// burst R). Nothing tells the collector R: it must find it from the 429s
// (and, in the second scenario, from X-RateLimit-* headers) and keep the
// service busy at close to R without provoking many 429s. A third scenario
// sets `rate_limit` and no service limit: the ceiling must hold in every
// second while the run still gets close to it.

import { startMockApi, type MockFaults, type MockRequestLogEntry } from '../src/mock-api/index.js';
import { expectSuccess, mailSections, FIXED_END, round, runCollector, scratch, totalLine } from './support.js';
import { writeSectionsIni } from '../test/support/sections-ini.js';

export type RateScenario = 'quota-429' | 'quota-headers' | 'rate_limit';

export interface RateLimitOptions {
  scenario: RateScenario;
  /** The key's quota (or rate_limit), requests per second. */
  rate: number;
  sections: number;
  latencyMs: number;
  /** Minutes of mail per section at 40 records a minute. */
  minutes: number;
}

export interface RateLimitResult {
  options: RateLimitOptions;
  requests: number;
  admitted: number;
  rateLimited: number;
  /** Admitted requests per second, first to last request. */
  achievedPerSecond: number;
  ofRate: number;
  share429: number;
  /** Most requests the service saw in any 1 s window. */
  maxInAnySecond: number;
  wallSeconds: number;
  peakRssMiB: number;
  summary: string;
}

const KEY = 'bench-rate-key-0123456789abc';

export async function rateLimitBound(o: RateLimitOptions): Promise<RateLimitResult> {
  const end = FIXED_END;
  const start = end - Math.round(o.minutes * 60);
  const sections = mailSections(o.sections, KEY, { name: 'rate', domain: 'r' });
  const faults: MockFaults = { latencyMs: o.latencyMs };
  if (o.scenario !== 'rate_limit') faults.perKeyRateLimit = { requestsPerSecond: o.rate };
  if (o.scenario === 'quota-headers') faults.rateLimitHeaders = true;
  const mock = await startMockApi({ seed: 21, from: start - 60, to: end + 60, streams: sections.map((s) => s.stream), faults, logLimit: 1_000_000 });
  const work = scratch('rate');
  try {
    const defaults: Record<string, string | number> = { start_time: start };
    if (o.scenario === 'rate_limit') defaults['rate_limit'] = o.rate;
    const config = writeSectionsIni(work.dir, mock, sections, defaults);
    const run = await runCollector(
      ['--config', config, '--all', '--parallel', '--max-workers', String(o.sections), '--start-time', String(start), '--end-time', String(end)],
      work.dir,
    );
    expectSuccess(run, `rate limit (${o.scenario})`);
    const log = mock.stats().log;
    const rateLimited = log.filter((e) => e.status === 429).length;
    const admitted = log.length - rateLimited;
    const first = log[0]?.at ?? 0;
    const last = log[log.length - 1]?.at ?? first;
    const achieved = admitted / Math.max(0.001, (last - first) / 1000);
    return {
      options: o,
      requests: log.length,
      admitted,
      rateLimited,
      achievedPerSecond: round(achieved, 1),
      ofRate: round(achieved / o.rate, 3),
      share429: round(rateLimited / Math.max(1, log.length), 4),
      maxInAnySecond: maxInWindow(log, 1000),
      wallSeconds: round(run.wallSeconds, 1),
      peakRssMiB: round(run.peakRssMiB),
      summary: totalLine(run),
    };
  } finally {
    await mock.close();
    work.remove();
  }
}

/** Most entries whose arrival falls in any window [t, t + ms). */
export function maxInWindow(log: readonly MockRequestLogEntry[], ms: number): number {
  let max = 0;
  let lo = 0;
  for (let hi = 0; hi < log.length; hi++) {
    while ((log[hi]?.at ?? 0) - (log[lo]?.at ?? 0) >= ms) lo++;
    max = Math.max(max, hi - lo + 1);
  }
  return max;
}
