// A collector run that gets killed: the mock API with enough data for a run
// of several seconds, a config of several sections, and a campaign that
// SIGKILLs the real CLI at seeded moments (at a random delay, while detail
// requests are in flight, right after a data file grew, while a commit's
// pending record exists), then checks the files against the ground truth.
// Shared by test/crash-safety.test.ts and bench/soak.ts.

import { createRng } from '../../src/mock-api/random.js';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { Heartbeat } from '../../src/reporting/heartbeat.js';
import { startMockApi, type FaultRequestInfo, type MockApi, type StreamSelector } from '../../src/mock-api/index.js';
import { collect, readStream, spawnCli, type CliRun } from './harness.js';

export const CRASH_KEY = 'crash-key-7d1e0a9b3c5f2e4d6a8b';

export interface CrashStream {
  section: string;
  stream: StreamSelector;
  /** The section's output directory (absolute). */
  dir: string;
  /** Data file name prefix in `dir`. */
  prefix: string;
  positionFile: string;
  lockFile: string;
  heartbeatFile: string;
}

/** Cycled over domains; the first three already cover mail with details, quarantine and authentication. */
const TEMPLATES: readonly { name: string; category: StreamSelector['category']; type?: string; sub: string; fileType: string }[] = [
  { name: 'in', category: 'mail', type: 'incominglog', sub: 'mail/incominglog', fileType: 'incominglog' },
  { name: 'quar', category: 'quarantine', type: 'quarantine', sub: 'quarantine', fileType: 'quarantine' },
  { name: 'auth', category: 'authentication', sub: 'authentication', fileType: 'auth' },
  { name: 'out', category: 'mail', type: 'outgoinglog', sub: 'mail/outgoinglog', fileType: 'outgoinglog' },
  { name: 'hold', category: 'quarantine', type: 'hold', sub: 'quarantine/hold', fileType: 'hold' },
];

export interface CrashScenarioOptions {
  /** Working directory; the config, output, positions and locks go here. */
  dir: string;
  seed: number;
  sections: number;
  /** Seconds of data, ending 10 minutes before now (quarantine must be recent: docs/api.md, "Retention"). */
  spanSeconds: number;
  splitInterval?: number;
  /** Mean records per minute of each mail stream; other streams get a third of it. */
  mailPerMinute?: number;
  /** Mock latency per request; jitter adds up to `jitterMs` more. */
  latencyMs?: number;
  jitterMs?: number;
  maxParallelDetails?: number;
  /** The CLI arguments after `--config <file>`. */
  runArgs: string[];
}

export interface StreamCheck {
  section: string;
  expected: number;
  written: number;
  position: number | undefined;
  /** Why the stream is not exactly the ground truth; undefined when it is. */
  problem?: string;
}

export type KillMode = 'delay' | 'detail' | 'append' | 'pending';
export const KILL_MODES: readonly KillMode[] = ['detail', 'pending', 'delay', 'append'];

export interface KillOutcome {
  mode: KillMode;
  /** False when the run ended on its own before the moment came. */
  killed: boolean;
  afterMs: number;
  /** Detail requests the mock had received but not yet answered when the kill was sent (a lower bound). */
  detailsInFlight: number;
  /** Pending commit records this run wrote and the kill left: a window was being written. */
  pendingLeft: number;
  /** The run's result when it ended on its own. */
  run?: CliRun;
}

export interface CampaignReport {
  kills: KillOutcome[];
  /** Runs that ended on their own during the campaign (each was checked, then its files removed). */
  rounds: number;
  finalRun: CliRun;
  checks: StreamCheck[];
  /** "an interrupted window was rolled back" lines in the message logs. */
  rollbacks: number;
  /** "an interrupted commit had already saved its position" lines. */
  completedCommits: number;
  ms: number;
}

/** Seeded randomness for kill moments: the mock's own generator. */
export const seededRandom = (seed: number): (() => number) => createRng(seed);

export class CrashScenario {
  readonly dir: string;
  readonly configPath: string;
  readonly streams: CrashStream[];
  readonly start: number;
  /** No record exists at or after this time. */
  readonly end: number;
  private latencyMs: number;
  readonly runArgs: string[];
  private readonly mock: MockApi;
  /** Arrival times (ms) of detail requests, for the in-flight count at a kill. */
  private readonly detailArrivals: number[] = [];
  private onDetail: ((info: FaultRequestInfo) => void) | undefined;

  private constructor(mock: MockApi, opts: CrashScenarioOptions, streams: CrashStream[], start: number, end: number) {
    this.mock = mock;
    this.dir = opts.dir;
    this.configPath = join(opts.dir, 'uzmanposta.ini');
    this.streams = streams;
    this.start = start;
    this.end = end;
    this.latencyMs = opts.latencyMs ?? 1;
    this.runArgs = opts.runArgs;
  }

  static async create(opts: CrashScenarioOptions): Promise<CrashScenario> {
    const now = Math.floor(Date.now() / 1000);
    const end = Math.floor(now / 60) * 60 - 600;
    const start = end - opts.spanSeconds;
    const mailPerMinute = opts.mailPerMinute ?? 30;
    const streams: CrashStream[] = [];
    const specs = [];
    for (let i = 0; i < opts.sections; i++) {
      const t = TEMPLATES[i % TEMPLATES.length];
      if (!t) throw new Error('no template');
      const domain = `d${Math.floor(i / TEMPLATES.length)}.example.com`;
      const section = `${t.name}-${domain}`;
      const dir = join(opts.dir, 'output', domain, t.sub);
      streams.push({
        section,
        stream: t.type ? { domain, category: t.category, type: t.type } : { domain, category: t.category },
        dir,
        prefix: `${domain}_${t.fileType}_`,
        positionFile: join(opts.dir, 'positions', `${section}.pos`),
        lockFile: join(opts.dir, 'locks', `${section}.lock`),
        heartbeatFile: join(dir, `${section}_heartbeat.json`),
      });
      specs.push({ key: CRASH_KEY, domain, category: t.category, ...(t.type ? { type: t.type } : {}), perMinute: t.category === 'mail' ? mailPerMinute : mailPerMinute / 3 });
    }
    const mock = await startMockApi({
      seed: opts.seed,
      from: start - 600,
      to: end,
      streams: specs,
      hostileQueueIds: true,
      detailMissingRatio: 0.05,
      faults: { latencyMs: opts.latencyMs ?? 1, jitterMs: opts.jitterMs ?? 2 },
    });
    const scenario = new CrashScenario(mock, opts, streams, start, end);
    mock.setFaults({ failPaths: (info) => scenario.observe(info) });

    const lines = [
      '[DEFAULT]',
      `api_key = ${CRASH_KEY}`,
      `start_time = ${start}`,
      // Every run ends at least this far behind now, so past `end`; there are no records there.
      `end_delay = ${now - end}`,
      `split_interval = ${opts.splitInterval ?? 90}`,
      // Event-time files: a window near an hour boundary appends to two files in one commit.
      'file_time = event',
      `max_parallel_details = ${opts.maxParallelDetails ?? 4}`,
      'list_sleep_time = 0.01',
      'detail_sleep_time = 0.01',
      '',
    ];
    for (const s of streams) {
      lines.push(`[MailLogger:${s.section}]`, `domain = ${s.stream.domain}`, `category = ${s.stream.category}`);
      if (s.stream.type) lines.push(`type = ${s.stream.type}`);
      lines.push(`url = ${mock.urls[s.stream.category]}`, '');
    }
    writeFileSync(scenario.configPath, lines.join('\n'), { mode: 0o600 });
    scenario.makeWatchedDirs();
    return scenario;
  }

  get args(): string[] {
    return ['--config', this.configPath, ...this.runArgs];
  }

  spawn(): ChildProcess {
    return spawnCli(this.args, { cwd: this.dir });
  }

  /** Slower answers keep a run busy (signals, locks); faster ones let the run that checks finish soon. */
  setLatency(latencyMs: number, jitterMs = 0): void {
    this.mock.setFaults({ latencyMs, jitterMs });
    this.latencyMs = latencyMs;
  }

  heartbeat(s: CrashStream): Heartbeat | undefined {
    try {
      return JSON.parse(readFileSync(s.heartbeatFile, 'utf8')) as Heartbeat;
    } catch {
      return undefined;
    }
  }

  /** Whether any data file holds a record yet. */
  hasData(): boolean {
    return this.streams.some((s) => existsSync(s.dir) && readdirSync(s.dir).some((f) => this.isDataFile(s.dir, f) && statSync(join(s.dir, f)).size > 0));
  }

  async close(): Promise<void> {
    this.onDetail = undefined;
    await this.mock.close();
  }

  /** Records the ground truth needs: what the mock holds for [start, end). */
  expectedCount(s: CrashStream): number {
    return this.mock.count(s.stream, this.start, this.end);
  }

  /** Each stream's files against the mock's ground truth up to its saved position. */
  check(): StreamCheck[] {
    return this.streams.map((s) => {
      const position = readPositionFile(s.positionFile);
      let written: unknown[];
      try {
        written = readStream(s.dir, s.prefix);
      } catch (err) {
        return { section: s.section, expected: NaN, written: NaN, position, problem: (err as Error).message };
      }
      if (position === undefined) return { section: s.section, expected: NaN, written: written.length, position, problem: 'no position file' };
      const truth = this.mock.expected(s.stream, this.start, position);
      const base = { section: s.section, expected: truth.length, written: written.length, position };
      const at = firstDifference(written, truth);
      if (at !== undefined) {
        const what =
          at >= written.length
            ? `${truth.length - written.length} record(s) missing from #${at}`
            : at >= truth.length
              ? `${written.length - truth.length} record(s) too many from #${at}`
              : `record #${at} differs: wrote ${JSON.stringify(written[at]).slice(0, 200)}, expected ${JSON.stringify(truth[at]).slice(0, 200)}`;
        return { ...base, problem: `${written.length} written, ${truth.length} expected: ${what}` };
      }
      if (position < this.end) return { ...base, problem: `position ${position} is before the end of the data ${this.end}: the run did not finish` };
      return base;
    });
  }

  /**
   * Pending commit records now on disk, each with its mtime; with `before`
   * (an earlier answer), only those written since. Compared with each other,
   * never with Date.now(): file times come from the file system's clock.
   */
  pendingRecords(before?: ReadonlyMap<string, number>): Map<string, number> {
    const dir = join(this.dir, 'positions');
    const now = new Map<string, number>();
    if (!existsSync(dir)) return now;
    for (const f of readdirSync(dir).filter((name) => name.endsWith('.pending'))) {
      const mtime = statSync(join(dir, f)).mtimeMs;
      if (before?.get(f) !== mtime) now.set(f, mtime);
    }
    return now;
  }

  lockFiles(): string[] {
    return this.streams.map((s) => s.lockFile).filter((f) => existsSync(f));
  }

  /** Counts message-log lines across the sections' output directories. */
  messageLogLines(pattern: RegExp): number {
    let n = 0;
    for (const s of this.streams) {
      if (!existsSync(s.dir)) continue;
      for (const f of readdirSync(s.dir).filter((x) => x.startsWith('messages_'))) {
        for (const line of readFileSync(join(s.dir, f), 'utf8').split('\n')) if (pattern.test(line)) n++;
      }
    }
    return n;
  }

  /** Starts over from nothing: after a run finished early, so the campaign can go on killing. */
  reset(): void {
    for (const d of ['output', 'positions', 'locks']) rmSync(join(this.dir, d), { recursive: true, force: true });
    this.makeWatchedDirs();
  }

  /**
   * Runs the CLI once and SIGKILLs it at the moment `mode` picks (parameters
   * drawn from `random`), or lets it finish if it ends first.
   */
  async runAndKill(mode: KillMode, random: () => number): Promise<KillOutcome> {
    const started = Date.now();
    const pendingBefore = this.pendingRecords();
    const child = this.spawn();
    const result = collect(child);
    let killedAt: number | undefined;
    let detailsInFlight = 0;
    const kill = (): void => {
      if (killedAt !== undefined || child.exitCode !== null || child.signalCode !== null) return;
      killedAt = Date.now();
      detailsInFlight = this.inFlightDetails(killedAt);
      child.kill('SIGKILL');
    };
    const exited = once(child, 'exit');
    const watchers: FSWatcher[] = [];
    let timer: NodeJS.Timeout | undefined;
    try {
      switch (mode) {
        case 'delay':
          // From before the workers start to deep into the run.
          timer = setTimeout(kill, 150 + random() * 2500);
          break;
        case 'detail': {
          let left = 1 + Math.floor(random() * 300);
          // Called by the mock as the request arrives, before it answers: that detail is in flight.
          this.onDetail = () => {
            if (--left === 0) kill();
          };
          break;
        }
        case 'append':
        case 'pending': {
          const armAt = started + 400 + random() * 1500;
          const trigger = (dir: string, file: string | null): void => {
            if (file === null || Date.now() < armAt) return;
            if (mode === 'pending' ? file.endsWith('.pending') && existsSync(join(dir, file)) : this.isDataFile(dir, file)) kill();
          };
          const dirs = mode === 'pending' ? [join(this.dir, 'positions')] : this.streams.map((s) => s.dir);
          for (const d of dirs) watchers.push(watch(d, (_event, file) => trigger(d, file)));
          break;
        }
        default: {
          const never: never = mode;
          throw new Error(`unknown kill mode ${String(never)}`);
        }
      }
      await exited;
    } finally {
      if (timer) clearTimeout(timer);
      for (const w of watchers) w.close();
      this.onDetail = undefined;
    }
    const run = await result;
    const killed = killedAt !== undefined && run.signal === 'SIGKILL';
    return {
      mode,
      killed,
      afterMs: (killedAt ?? Date.now()) - started,
      detailsInFlight: killed ? detailsInFlight : 0,
      // Only this run's: a record left by an earlier kill may wait for a section not yet restarted.
      pendingLeft: killed ? this.pendingRecords(pendingBefore).size : 0,
      ...(killed ? {} : { run }),
    };
  }

  /**
   * Kills the CLI `kills` times, modes in turn, then runs it to the end and
   * checks every stream. A run that finishes before its kill is checked at
   * once and its files removed, so the campaign always reaches `kills`.
   */
  async campaign(opts: { kills: number; seed: number; onKill?: (k: KillOutcome, i: number) => void }): Promise<CampaignReport> {
    const t0 = Date.now();
    const random = seededRandom(opts.seed);
    const kills: KillOutcome[] = [];
    let rounds = 0;
    let rollbacks = 0;
    let completedCommits = 0;
    let attempts = 0;
    while (kills.length < opts.kills) {
      const mode = KILL_MODES[attempts++ % KILL_MODES.length] ?? 'delay';
      const outcome = await this.runAndKill(mode, random);
      if (outcome.killed) {
        kills.push(outcome);
        opts.onKill?.(outcome, kills.length);
        continue;
      }
      const run = outcome.run;
      if (run?.code !== 0) throw new Error(`an unkilled run exited ${String(run?.code)} (signal ${String(run?.signal)}):\n${run?.stderr}`);
      const bad = this.check().filter((c) => c.problem);
      if (bad.length) return { kills, rounds, finalRun: run, checks: this.check(), rollbacks, completedCommits, ms: Date.now() - t0 };
      rounds++;
      rollbacks += this.rollbacksLogged();
      completedCommits += this.completedCommitsLogged();
      this.reset();
    }
    const finalRun = await collect(this.spawn());
    return {
      kills,
      rounds,
      finalRun,
      checks: this.check(),
      rollbacks: rollbacks + this.rollbacksLogged(),
      completedCommits: completedCommits + this.completedCommitsLogged(),
      ms: Date.now() - t0,
    };
  }

  rollbacksLogged(): number {
    return this.messageLogLines(/an interrupted window was rolled back/);
  }

  completedCommitsLogged(): number {
    return this.messageLogLines(/an interrupted commit had already saved its position/);
  }

  private observe(info: FaultRequestInfo): undefined {
    if (info.kind === 'detail') {
      const now = Date.now();
      this.detailArrivals.push(now);
      if (this.detailArrivals.length > 256) this.detailArrivals.splice(0, 128);
      this.onDetail?.(info);
    }
    return undefined;
  }

  /** Each detail answer waits at least latencyMs, so one that arrived within it is still unanswered. */
  private inFlightDetails(at: number): number {
    return this.detailArrivals.filter((t) => at - t < this.latencyMs).length;
  }

  private isDataFile(dir: string, file: string): boolean {
    return this.streams.some((s) => s.dir === dir && file.startsWith(s.prefix) && file.endsWith('.log'));
  }

  /** fs.watch needs the directories to exist before the collector makes them (it accepts existing ones). */
  private makeWatchedDirs(): void {
    mkdirSync(join(this.dir, 'positions'), { recursive: true });
    for (const s of this.streams) mkdirSync(s.dir, { recursive: true });
  }
}

function readPositionFile(file: string): number | undefined {
  try {
    return Number(readFileSync(file, 'utf8').trim());
  } catch {
    return undefined;
  }
}

function firstDifference(a: readonly unknown[], b: readonly unknown[]): number | undefined {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (!isDeepStrictEqual(a[i], b[i])) return i;
  return a.length === b.length ? undefined : n;
}

/** One line per stream, for reports. */
export function describeChecks(checks: readonly StreamCheck[]): string {
  return checks.map((c) => `${c.section}: ${c.written}/${c.expected} records, position ${c.position ?? '-'}${c.problem ? ` — ${c.problem}` : ' ok'}`).join('\n');
}

