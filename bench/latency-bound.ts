// Benchmark (a), latency bound: every answer takes L ms and nothing fails, so
// a collector can do no better than requests × L / concurrency, where the
// concurrency is what the defaults allow: sections at once (--max-workers,
// default 5) × detail requests in flight per section (max_parallel_details,
// default 2). How close the run comes to that bound shows how much the engine
// itself (threads, rate-budget round trips, commits) costs.

import { startMockApi } from '../src/mock-api/index.js';
import { expectSuccess, round, runCollector, scratch, totalLine, writeConfig, type BenchSection } from './support.js';

export interface LatencyBoundOptions {
  latencyMs: number;
  sections: number;
  /** Mail records per minute per section. */
  perMinute: number;
  /** Hours of data per section. */
  hours: number;
}

export interface LatencyBoundResult {
  options: LatencyBoundOptions;
  concurrency: number;
  requests: number;
  records: number;
  wallSeconds: number;
  boundSeconds: number;
  /** bound / wall: 1 = as fast as the latency allows. */
  ofBound: number;
  recordsPerSecond: number;
  cpuSecondsPer10k: number;
  peakRssMiB: number;
  summary: string;
}

const KEY = 'bench-latency-key-0123456789';
const DEFAULT_WORKERS = 5;
const DEFAULT_PARALLEL_DETAILS = 2;

export async function latencyBound(o: LatencyBoundOptions = { latencyMs: 20, sections: 5, perMinute: 40, hours: 1 }): Promise<LatencyBoundResult> {
  const end = Math.floor(Date.now() / 1000) - 3600;
  const start = end - Math.round(o.hours * 3600);
  const sections: BenchSection[] = Array.from({ length: o.sections }, (_, i) => ({
    name: `lat-${i}`,
    stream: { key: KEY, domain: `d${i}.bench`, category: 'mail' as const, type: i % 2 ? 'outgoinglog' : 'incominglog', perMinute: o.perMinute },
  }));
  const mock = await startMockApi({ seed: 11, from: start - 60, to: end + 60, streams: sections.map((s) => s.stream), faults: { latencyMs: o.latencyMs } });
  const work = scratch('latency');
  try {
    const config = writeConfig(work.dir, mock, sections, { start_time: start });
    const run = await runCollector(['--config', config, '--all', '--parallel', '--start-time', String(start), '--end-time', String(end)], work.dir);
    expectSuccess(run, 'latency bound');
    const stats = mock.stats();
    const records = sections.reduce((n, s) => n + mock.count(s.stream, start, end), 0);
    const concurrency = Math.min(o.sections, DEFAULT_WORKERS) * DEFAULT_PARALLEL_DETAILS;
    const boundSeconds = (stats.requests * o.latencyMs) / 1000 / concurrency;
    return {
      options: o,
      concurrency,
      requests: stats.requests,
      records,
      wallSeconds: round(run.wallSeconds, 2),
      boundSeconds: round(boundSeconds, 2),
      ofBound: round(boundSeconds / run.wallSeconds, 3),
      recordsPerSecond: Math.round(records / run.wallSeconds),
      cpuSecondsPer10k: round(((run.cpuUserSeconds + run.cpuSystemSeconds) / records) * 10_000, 2),
      peakRssMiB: round(run.peakRssMiB),
      summary: totalLine(run),
    };
  } finally {
    await mock.close();
    work.remove();
  }
}
