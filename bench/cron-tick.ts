// Benchmark "cron tick": what one run of the collector costs the machine when
// cron starts it every few minutes, as a whole process (CPU seconds, peak RSS,
// wall time from spawn to exit, startup included).
//
// - tick: 7 sections (4 mail streams, quarantine, hold, authentication;
//   `--all --parallel --max-workers 5`), run as cron does (no --start-time):
//   first with about 7,400 records to fetch (mail records with their details),
//   then again at once with nothing new.
// - many: 200 and 1,000 sections (authentication and quarantine in turn, little
//   data each), also as a cron tick.

import { startMockApi, type MockStreamSpec } from '../src/mock-api/index.js';
import { expectSuccess, smallSections, round, runCollector, scratch, totalLine, type BenchSection, type ChildRun } from './support.js';
import { writeSectionsIni } from '../test/support/sections-ini.js';

export interface TickFigures {
  label: string;
  records: number;
  requests: number;
  cpuSeconds: number;
  peakRssMiB: number;
  wallSeconds: number;
  summary: string;
}

const KEY = 'bench-tick-key-0123456789abc';
/** Minutes of data the "new data" tick finds. */
const TICK_MINUTES = 20;

function figures(label: string, run: ChildRun, records: number, requests: number): TickFigures {
  return {
    label,
    records,
    requests,
    cpuSeconds: round(run.cpuUserSeconds + run.cpuSystemSeconds, 2),
    peakRssMiB: round(run.peakRssMiB),
    wallSeconds: round(run.wallSeconds, 2),
    summary: totalLine(run),
  };
}

/** The 7-section tick: once with ~7,400 records, then once with nothing new. */
export async function sevenSectionTick(): Promise<TickFigures[]> {
  // The data ends before the runs start, so the second tick finds nothing new
  // however long the first one took.
  const dataEnd = Math.floor(Date.now() / 1000) - 120;
  const start = dataEnd - TICK_MINUTES * 60;
  const mail = (domain: string, type: string): MockStreamSpec => ({ key: KEY, domain, category: 'mail', type, perMinute: 60 });
  const sections: BenchSection[] = [
    { name: 'a-in', stream: mail('a.tick', 'incominglog') },
    { name: 'a-out', stream: mail('a.tick', 'outgoinglog') },
    { name: 'b-in', stream: mail('b.tick', 'incominglog') },
    { name: 'b-out', stream: mail('b.tick', 'outgoinglog') },
    { name: 'quarantine', stream: { key: KEY, domain: 'a.tick', category: 'quarantine', type: 'quarantine', perMinute: 30 } },
    { name: 'hold', stream: { key: KEY, domain: 'a.tick', category: 'quarantine', type: 'hold', perMinute: 20 } },
    { name: 'auth', stream: { key: KEY, domain: 'a.tick', category: 'authentication', perMinute: 80 } },
  ];
  const mock = await startMockApi({
    seed: 51,
    from: start - 60,
    to: dataEnd,
    streams: sections.map((s) => s.stream),
    keys: { [KEY]: ['a.tick', 'b.tick'] },
    logLimit: 1_000_000,
  });
  const work = scratch('tick');
  try {
    const config = writeSectionsIni(work.dir, mock, sections, { start_time: start });
    const args = ['--config', config, '--all', '--parallel', '--max-workers', '5'];
    const records = sections.reduce((n, s) => n + mock.count(s.stream, start, dataEnd), 0);
    const first = await runCollector(args, work.dir);
    expectSuccess(first, 'tick with new data');
    const afterFirst = mock.stats().requests;
    const second = await runCollector(args, work.dir);
    expectSuccess(second, 'tick with nothing new');
    return [
      figures('7 sections, new data', first, records, afterFirst),
      figures('7 sections, nothing new', second, 0, mock.stats().requests - afterFirst),
    ];
  } finally {
    await mock.close();
    work.remove();
  }
}

/** `count` sections (authentication and quarantine in turn), a few records each, one cron tick. */
export async function manySectionTick(count: number, maxWorkers: number): Promise<TickFigures> {
  const dataEnd = Math.floor(Date.now() / 1000) - 120;
  const start = dataEnd - 10 * 60;
  const sections = smallSections(count, KEY, { name: 's', domain: 's', tld: 'tick' }, { authentication: 2, quarantine: 1 });
  const mock = await startMockApi({ seed: 53, from: start - 60, to: dataEnd, streams: sections.map((s) => s.stream), logLimit: 1_000_000 });
  const work = scratch('many-tick');
  try {
    const config = writeSectionsIni(work.dir, mock, sections, { start_time: start });
    const run = await runCollector(['--config', config, '--all', '--parallel', '--max-workers', String(maxWorkers), '--quiet'], work.dir);
    expectSuccess(run, `${count} sections`);
    const records = sections.reduce((n, s) => n + mock.count(s.stream, start, dataEnd), 0);
    return figures(`${count} sections, --max-workers ${maxWorkers}`, run, records, mock.stats().requests);
  } finally {
    await mock.close();
    work.remove();
  }
}
