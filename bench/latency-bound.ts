// Benchmark (a), latency bound: every answer takes L ms and nothing fails, so
// a collector can do no better than requests × L / concurrency, where the
// concurrency is what the defaults allow: sections at once (--max-workers,
// default 5) × detail requests in flight per section (max_parallel_details,
// default 2). A section cannot borrow another's slots, so the run also lasts
// at least as long as its busiest section: requests of it × L / 2. The bound
// reported is the larger of the two. How close the run comes to it shows
// what the engine itself (threads, rate-budget round trips, commits) costs.
//
// A control measures what any client gets from this mock on this machine:
// plain undici requests at the same concurrency, no threads, no files. Its
// time per request, put in place of L, gives the practical bound.

import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { encodePathSegment } from '../src/api/api-client.js';
import { eventTimeOf, startMockApi, type MockApi, type StreamSelector } from '../src/mock-api/index.js';
import type { ControlSpec } from './control-client.js';
import { expectSuccess, mailSections, FIXED_END, round, runCollector, scratch, totalLine, type BenchSection } from './support.js';
import { writeSectionsIni } from '../test/support/sections-ini.js';

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
  /** requests × L / concurrency. */
  sharedBoundSeconds: number;
  /** The busiest section's requests × L / max_parallel_details. */
  sectionBoundSeconds: number;
  boundSeconds: number;
  /** bound / wall: 1 = as fast as the latency allows. */
  ofBound: number;
  /** What one request took the control, end to end, ms (L plus the mock's and the network's own time). */
  controlRequestMs: number;
  /** The bound with controlRequestMs in place of L. */
  practicalBoundSeconds: number;
  ofPracticalBound: number;
  recordsPerSecond: number;
  cpuSecondsPer10k: number;
  peakRssMiB: number;
  summary: string;
}

const KEY = 'bench-latency-key-0123456789';
const DEFAULT_WORKERS = 5;
const DEFAULT_PARALLEL_DETAILS = 2;
const CONTROL = new URL('./control-client.js', import.meta.url);
const CONTROL_REQUESTS = 4000;

export const LATENCY_DEFAULTS: LatencyBoundOptions = { latencyMs: 20, sections: 5, perMinute: 40, hours: 1.25 };

export async function latencyBound(o: LatencyBoundOptions = LATENCY_DEFAULTS): Promise<LatencyBoundResult> {
  const end = FIXED_END;
  const start = end - Math.round(o.hours * 3600);
  const sections = await balancedSections(o, start, end);
  const mock = await startMockApi({
    seed: 11,
    from: start - 60,
    to: end + 60,
    streams: sections.map((s) => s.stream),
    faults: { latencyMs: o.latencyMs },
    logLimit: 1_000_000,
  });
  const work = scratch('latency');
  try {
    const config = writeSectionsIni(work.dir, mock, sections, { start_time: start });
    const run = await runCollector(['--config', config, '--all', '--parallel', '--start-time', String(start), '--end-time', String(end)], work.dir);
    expectSuccess(run, 'latency bound');
    const stats = mock.stats();
    const perDomain = new Map<string, number>();
    for (const e of stats.log) if (e.domain !== undefined) perDomain.set(e.domain, (perDomain.get(e.domain) ?? 0) + 1);
    const records = sections.reduce((n, s) => n + mock.count(s.stream, start, end), 0);
    const concurrency = Math.min(o.sections, DEFAULT_WORKERS) * DEFAULT_PARALLEL_DETAILS;
    const bound = (requestMs: number): { shared: number; section: number } => ({
      shared: (stats.requests * requestMs) / 1000 / concurrency,
      section: (Math.max(...perDomain.values()) * requestMs) / 1000 / DEFAULT_PARALLEL_DETAILS,
    });
    const nominal = bound(o.latencyMs);
    const boundSeconds = Math.max(nominal.shared, nominal.section);
    const first = sections[0];
    if (!first) throw new Error('no sections');
    const controlRequests = Math.min(stats.requests, CONTROL_REQUESTS);
    const controlSeconds = await runControl(mock, first.stream, start, end, work.dir, controlRequests, concurrency);
    const controlRequestMs = (controlSeconds * 1000 * concurrency) / controlRequests;
    const practical = bound(controlRequestMs);
    const practicalBoundSeconds = Math.max(practical.shared, practical.section);
    return {
      options: o,
      concurrency,
      requests: stats.requests,
      records,
      wallSeconds: round(run.wallSeconds, 2),
      sharedBoundSeconds: round(nominal.shared, 2),
      sectionBoundSeconds: round(nominal.section, 2),
      boundSeconds: round(boundSeconds, 2),
      ofBound: round(boundSeconds / run.wallSeconds, 3),
      controlRequestMs: round(controlRequestMs, 2),
      practicalBoundSeconds: round(practicalBoundSeconds, 2),
      ofPracticalBound: round(practicalBoundSeconds / run.wallSeconds, 3),
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

/**
 * `o.sections` mail streams whose record counts are within a few per cent of
 * each other: the mock's streams differ by up to a third (a daily wave with a
 * phase per stream), and with uneven sections the run waits for the busiest
 * one while the others' slots idle, which says nothing about the engine.
 */
async function balancedSections(o: LatencyBoundOptions, start: number, end: number): Promise<BenchSection[]> {
  const candidates = mailSections(o.sections * 8, KEY, { name: 'lat', domain: 'd' }, o.perMinute);
  const probe = await startMockApi({ seed: 11, from: start - 60, to: end + 60, streams: candidates.map((c) => c.stream) });
  try {
    const counted = candidates.map((c) => ({ c, n: probe.count(c.stream, start, end) })).sort((a, b) => a.n - b.n);
    let best = 0;
    for (let i = 0; i + o.sections <= counted.length; i++) {
      const spread = (k: number): number => (counted[k + o.sections - 1]?.n ?? 0) - (counted[k]?.n ?? 0);
      if (spread(i) < spread(best)) best = i;
    }
    return counted.slice(best, best + o.sections).map(({ c }, i) => ({ name: `lat-${i}`, stream: c.stream }));
  } finally {
    await probe.close();
  }
}

/** Seconds plain undici needs for `requests` detail GETs, `concurrency` at a time. */
async function runControl(mock: MockApi, stream: StreamSelector, from: number, to: number, dir: string, requests: number, concurrency: number): Promise<number> {
  const paths: string[] = [];
  for (const r of mock.iterateExpected(stream, from, to)) {
    const qid = r['queue_id'];
    if (typeof qid === 'string') paths.push(`${new URL(mock.urls.mail).pathname}/${encodePathSegment(qid)}?time=${eventTimeOf('mail', r) ?? 0}`);
    if (paths.length >= 1000) break;
  }
  const spec: ControlSpec = { origin: mock.url, key: KEY, paths, requests, concurrency };
  const file = join(dir, 'control.json');
  writeFileSync(file, JSON.stringify(spec));
  const { stdout } = await promisify(execFile)(process.execPath, [CONTROL.pathname, file], { maxBuffer: 1 << 20 });
  return (JSON.parse(stdout) as { seconds: number }).seconds;
}
