// Benchmark (c), scale: many sections in one run, and one section's backfill
// of a million records. The mock answers at once (no latency), so what is
// measured is the collector's own work: wall time, CPU and peak RSS. A
// backfill streams window by window, so its peak RSS must not grow with the
// range: the million-record run is compared with one a tenth its size.

import { startMockApi, type MockStreamSpec } from '../src/mock-api/index.js';
import { expectSuccess, smallSections, round, runCollector, scratch, totalLine } from './support.js';
import { writeSectionsIni } from '../test/support/sections-ini.js';

export interface ManySectionsResult {
  sections: number;
  maxWorkers: number;
  records: number;
  requests: number;
  wallSeconds: number;
  cpuSeconds: number;
  peakRssMiB: number;
  summary: string;
}

export interface BackfillResult {
  targetRecords: number;
  records: number;
  requests: number;
  splitInterval: number;
  wallSeconds: number;
  recordsPerSecond: number;
  cpuSecondsPer10k: number;
  peakRssMiB: number;
  summary: string;
}

const KEY = 'bench-scale-key-0123456789ab';

/** `count` sections (authentication and quarantine in turn), an hour each, one run. */
export async function manySections(count = 200, maxWorkers = 5): Promise<ManySectionsResult> {
  const end = Math.floor(Date.now() / 1000) - 600;
  const start = end - 3600;
  const sections = smallSections(count, KEY, { name: 'many', domain: 's' }, { authentication: 12, quarantine: 4 });
  const mock = await startMockApi({ seed: 31, from: start - 60, to: end + 60, streams: sections.map((s) => s.stream) });
  const work = scratch('many');
  try {
    const config = writeSectionsIni(work.dir, mock, sections, { start_time: start });
    const run = await runCollector(
      ['--config', config, '--all', '--parallel', '--max-workers', String(maxWorkers), '--start-time', String(start), '--end-time', String(end)],
      work.dir,
    );
    expectSuccess(run, `${count} sections`);
    return {
      sections: count,
      maxWorkers,
      records: sections.reduce((n, s) => n + mock.count(s.stream, start, end), 0),
      requests: mock.stats().requests,
      wallSeconds: round(run.wallSeconds, 1),
      cpuSeconds: round(run.cpuUserSeconds + run.cpuSystemSeconds, 1),
      peakRssMiB: round(run.peakRssMiB),
      summary: totalLine(run),
    };
  } finally {
    await mock.close();
    work.remove();
  }
}

/** One authentication section backfilled over a range holding at least `target` records. */
export async function bigBackfill(target = 1_000_000, splitInterval = 30): Promise<BackfillResult> {
  const perMinute = 1000;
  const spanMinutes = Math.ceil((target / perMinute) * 1.6) + 60;
  const dataEnd = Math.floor(Date.now() / 1000) - 3600;
  const dataStart = dataEnd - spanMinutes * 60;
  const stream: MockStreamSpec = { key: KEY, domain: 'big.bench', category: 'authentication', perMinute };
  const mock = await startMockApi({ seed: 41, from: dataStart, to: dataEnd, streams: [stream], logLimit: 10 });
  const work = scratch('backfill');
  try {
    // The mock's rate varies through the day: find the first end that holds the target.
    const start = dataStart;
    let lo = start;
    let end = dataEnd;
    while (lo < end) {
      const mid = Math.floor((lo + end) / 2);
      if (mock.count(stream, start, mid) >= target) end = mid;
      else lo = mid + 1;
    }
    const config = writeSectionsIni(work.dir, mock, [{ name: 'big', stream }], { start_time: start, split_interval: splitInterval });
    const run = await runCollector(['--config', config, '--section', 'big', '--start-time', String(start), '--end-time', String(end)], work.dir);
    expectSuccess(run, `backfill of ${target} records`);
    const records = mock.count(stream, start, end);
    const cpu = run.cpuUserSeconds + run.cpuSystemSeconds;
    return {
      targetRecords: target,
      records,
      requests: mock.stats().requests,
      splitInterval,
      wallSeconds: round(run.wallSeconds, 1),
      recordsPerSecond: Math.round(records / run.wallSeconds),
      cpuSecondsPer10k: round((cpu / records) * 10_000, 2),
      peakRssMiB: round(run.peakRssMiB),
      summary: totalLine(run),
    };
  } finally {
    await mock.close();
    work.remove();
  }
}
