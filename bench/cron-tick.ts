// Benchmark "cron tick": what one run of the collector costs the machine when
// cron starts it every few minutes, as a whole process (CPU seconds, peak RSS,
// wall time from spawn to exit, startup included).
//
// - tick: 7 sections (4 mail streams, quarantine, hold, authentication;
//   `--all --parallel --max-workers 5`), run as cron does (no --start-time):
//   first with about 7,400 records to fetch (mail records with their details),
//   then again at once with nothing new, five times, interleaved with five
//   runs of the stack's floor on the same config (bench/stack-floor/: only
//   what the brief fixes -- Node, yargs, ini, Piscina with one worker thread,
//   undici, winston, lockfile, write-file-atomic -- one request and one
//   position per section, none of the collector's work), so the two are
//   measured side by side under the same load. Medians are reported.
// - many: 200 and 1,000 sections (authentication and quarantine in turn, little
//   data each), also as a cron tick.

import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startMockApi, type MockStreamSpec } from '../src/mock-api/index.js';
import { expectSuccess, smallSections, REPO_ROOT, round, runCollector, runNodeScript, scratch, totalLine, type BenchSection, type ChildRun } from './support.js';
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
/** Runs of the nothing-new tick and of the floor, taken in turn. */
const QUIET_RUNS = 5;

interface BundleConfig {
  bundleOptions(o: { entryPoints: Record<string, string>; outdir: string }): object;
  bundle(options: object): Promise<boolean>;
}

/** Bundles bench/stack-floor/ as the collector is bundled, inside the repository (Piscina is found from there); returns the main script. */
async function buildStackFloor(): Promise<string> {
  const outdir = join(REPO_ROOT, 'dist', 'bench', 'stack-floor-bundle');
  const esbuild = (await import(pathToFileURL(join(REPO_ROOT, 'esbuild.config.mjs')).href)) as BundleConfig;
  const src = join(REPO_ROOT, 'bench', 'stack-floor');
  const options = esbuild.bundleOptions({ entryPoints: { 'floor-main': join(src, 'floor-main.ts'), 'floor-worker': join(src, 'floor-worker.ts') }, outdir });
  if (!(await esbuild.bundle(options))) throw new Error('bench/stack-floor: esbuild failed');
  return join(outdir, 'floor-main.js');
}

/** The run whose CPU time is the median of `runs` (its RSS and wall time come with it). */
function medianRun(runs: ChildRun[]): ChildRun {
  const sorted = [...runs].sort((a, b) => a.cpuUserSeconds + a.cpuSystemSeconds - (b.cpuUserSeconds + b.cpuSystemSeconds));
  return sorted[Math.floor(sorted.length / 2)] as ChildRun;
}

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
    const floorMain = await buildStackFloor();
    const quiet: ChildRun[] = [];
    const floor: ChildRun[] = [];
    for (let i = 0; i < QUIET_RUNS; i++) {
      const tick = await runCollector(args, work.dir);
      expectSuccess(tick, 'tick with nothing new');
      quiet.push(tick);
      const bare = await runNodeScript(floorMain, args, work.dir);
      expectSuccess(bare, 'the stack floor');
      floor.push(bare);
    }
    const quietRequests = Math.round((mock.stats().requests - afterFirst - floor.length * sections.length) / QUIET_RUNS);
    return [
      figures('7 sections, new data', first, records, afterFirst),
      figures(`7 sections, nothing new (median of ${QUIET_RUNS})`, medianRun(quiet), 0, quietRequests),
      figures(`stack floor, 7 sections (median of ${QUIET_RUNS})`, medianRun(floor), 0, sections.length),
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
