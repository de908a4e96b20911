// A collector run that gets killed: the mock API with enough data for a run
// of several seconds, a config of several sections, and a campaign that
// SIGKILLs the real CLI at seeded moments (at a random delay once the run has
// committed, while a detail request is held unanswered, and inside a commit
// through the test-only commit hooks: support/commit-hooks.ts), then checks
// the files against the ground truth.
// Shared by test/e2e/crash-safety.test.ts and bench/soak.ts.

import { createRng } from '../../src/mock-api/random.js';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { Heartbeat } from '../../src/reporting/heartbeat.js';
import { startMockApi, type FaultRequestInfo, type MockApi, type MockHold, type StreamSelector } from '../../src/mock-api/index.js';
import { writeIni } from './write-ini.js';
import { collect, readStream, spawnCli, type CliRun } from './harness.js';
import { commitHooksEnv } from './commit-hooks.js';
import { dayAnchor } from './epochs.js';

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
  /** Seconds of data, ending at 12:30:15 UTC two days back (support/epochs.ts). */
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
  /** Commit kills strike in a section's commit number 2 to 1 + this (drawn per kill). Default 12. */
  commitKillSpread?: number;
  /** Delay kills strike up to this many ms after the run's first commit. Default 600. */
  maxKillDelayMs?: number;
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
  /** True when the run ended by SIGKILL; false when it ended on its own before the moment came. */
  killed: boolean;
  /** How the run ended: 'SIGKILL' for every kill. */
  signal: NodeJS.Signals | null;
  afterMs: number;
  /** Detail requests held unanswered by the mock when the kill was sent. */
  detailsInFlight: number;
  /** Pending commit records this run wrote and the kill left: a window was being written. */
  pendingLeft: number;
  /** Position files this run moved: windows it committed before the kill. */
  committed: number;
  /** Requests the mock received from this run. */
  requests: number;
  /** The run's result when it ended on its own. */
  run?: CliRun;
}

export interface CampaignReport {
  kills: KillOutcome[];
  /** Runs that ended on their own during the campaign (each was checked, then its files removed). */
  rounds: number;
  finalRun: CliRun;
  checks: StreamCheck[];
  /** "an interrupted window was rolled forward" lines in the message logs. */
  rollbacks: number;
  /** "an interrupted commit had already saved its position" lines. */
  completedCommits: number;
  ms: number;
}

/**
 * Why a kill does not count, or undefined when it landed: the run ended by
 * SIGKILL after it had done work (asked the API, and committed a window or
 * begun one), at the moment its mode names.
 */
export function missedLanding(k: KillOutcome, i: number): string | undefined {
  const which = `kill ${i + 1} (${k.mode}, after ${k.afterMs} ms)`;
  if (k.signal !== 'SIGKILL') return `${which}: the run ended by ${k.signal ?? 'itself'}, not SIGKILL`;
  if (k.requests === 0 || k.committed + k.pendingLeft === 0) return `${which}: the run had not started work (${k.requests} requests, ${k.committed} windows committed)`;
  if (k.mode === 'detail' && k.detailsInFlight === 0) return `${which}: no detail request was in flight`;
  if ((k.mode === 'pending' || k.mode === 'append') && k.pendingLeft === 0) return `${which}: no commit was cut short`;
  return undefined;
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
  readonly runArgs: string[];
  private readonly mock: MockApi;
  private readonly commitKillSpread: number;
  private readonly maxKillDelayMs: number;

  private constructor(mock: MockApi, opts: CrashScenarioOptions, streams: CrashStream[], start: number, end: number) {
    this.mock = mock;
    this.dir = opts.dir;
    this.configPath = join(opts.dir, 'uzmanposta.ini');
    this.streams = streams;
    this.start = start;
    this.end = end;
    this.runArgs = opts.runArgs;
    this.commitKillSpread = opts.commitKillSpread ?? 12;
    this.maxKillDelayMs = opts.maxKillDelayMs ?? 600;
  }

  static async create(opts: CrashScenarioOptions): Promise<CrashScenario> {
    const now = Math.floor(Date.now() / 1000);
    // Not on a whole minute, so windows straddle hour boundaries (see file_time below).
    const end = dayAnchor() + 12 * 3600 + 30 * 60 + 15;
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

    writeIni(scenario.configPath, {
      DEFAULT: {
        api_key: CRASH_KEY,
        start_time: start,
        // Every run ends at least this far behind now, so past `end`; there are no records there.
        end_delay: now - end,
        split_interval: opts.splitInterval ?? 90,
        // Event-time files: a window near an hour boundary appends to two files in one commit.
        file_time: 'event',
        max_parallel_details: opts.maxParallelDetails ?? 4,
        list_sleep_time: 0.01,
        detail_sleep_time: 0.01,
      },
      ...Object.fromEntries(
        streams.map((s) => [`MailLogger:${s.section}`, { domain: s.stream.domain, category: s.stream.category, type: s.stream.type, url: mock.urls[s.stream.category] }]),
      ),
    });
    scenario.makeWatchedDirs();
    return scenario;
  }

  get args(): string[] {
    return ['--config', this.configPath, ...this.runArgs];
  }

  /** `env` adds to the CLI's environment (e.g. support/commit-hooks.ts's commitHooksEnv). */
  spawn(env: Record<string, string> = {}): ChildProcess {
    return spawnCli(this.args, { cwd: this.dir, env });
  }

  /** The mock's hold (see MockApi.hold): a request kept unanswered until released. */
  hold(match: (request: FaultRequestInfo) => boolean, count?: number): MockHold {
    return this.mock.hold(match, count);
  }

  /** Requests the mock has answered so far. */
  requestsAnswered(): number {
    return this.mock.stats().requests;
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
   * Commit journals now on disk, each with its mtime; with `before`
   * (an earlier answer), only those written since. Compared with each other,
   * never with Date.now(): file times come from the file system's clock.
   */
  pendingRecords(before?: ReadonlyMap<string, number>): Map<string, number> {
    const dir = join(this.dir, 'positions');
    const now = new Map<string, number>();
    if (!existsSync(dir)) return now;
    for (const f of readdirSync(dir).filter((name) => name.endsWith('.journal'))) {
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

  /** Each stream's position file as it is now (undefined: none). */
  positions(): (number | undefined)[] {
    return this.streams.map((s) => readPositionFile(s.positionFile));
  }

  /**
   * Runs the CLI once and SIGKILLs it at the moment `mode` picks (parameters
   * drawn from `random`), or lets it finish if it ends first. 'delay' and
   * 'detail' arm once the run has committed a window, so no kill lands on a
   * process still starting; 'pending' and 'append' are struck by the run
   * itself, inside a commit (support/commit-hooks.ts).
   */
  async runAndKill(mode: KillMode, random: () => number): Promise<KillOutcome> {
    const started = Date.now();
    const pendingBefore = this.pendingRecords();
    const positionsBefore = this.positions();
    const requestsBefore = this.requestsAnswered();
    const commitKill = mode === 'pending' || mode === 'append';
    // Drawn before the run, so the seed alone fixes each kill's parameters.
    const nthCommit = 2 + Math.floor(random() * this.commitKillSpread);
    const delayMs = random() * this.maxKillDelayMs;
    const nthDetail = 1 + Math.floor(random() * 40);
    const child = this.spawn(commitKill ? commitHooksEnv({ action: 'kill', at: mode, commit: nthCommit }) : {});
    const result = collect(child);
    let killedAt: number | undefined;
    let detailsInFlight = 0;
    let hold: MockHold | undefined;
    const kill = (): void => {
      if (killedAt !== undefined || child.exitCode !== null || child.signalCode !== null) return;
      killedAt = Date.now();
      detailsInFlight = hold?.waiting ?? 0;
      child.kill('SIGKILL');
    };
    const exited = once(child, 'exit');
    let watcher: FSWatcher | undefined;
    let timer: NodeJS.Timeout | undefined;
    const arm = (): void => {
      watcher?.close();
      watcher = undefined;
      if (mode === 'delay') timer = setTimeout(kill, delayMs);
      else {
        let seen = 0;
        hold = this.mock.hold((r) => r.kind === 'detail' && ++seen === nthDetail);
        void hold.arrived.then(kill);
      }
    };
    try {
      if (!commitKill) {
        // A position file written by this run: it has committed a window.
        watcher = watch(join(this.dir, 'positions'), (_event, file) => {
          if (file !== null && file.endsWith('.pos') && watcher) arm();
        });
      }
      await exited;
    } finally {
      if (timer) clearTimeout(timer);
      watcher?.close();
      // A held detail of a killed run goes to a closed connection; of a finished run, nowhere.
      hold?.release();
    }
    const run = await result;
    const killed = run.signal === 'SIGKILL';
    if (killed && !commitKill && killedAt === undefined) throw new Error(`the run died by a SIGKILL the test did not send:\n${run.stderr}`);
    const positionsAfter = this.positions();
    return {
      mode,
      killed,
      signal: run.signal,
      afterMs: (killedAt ?? Date.now()) - started,
      detailsInFlight: killed ? detailsInFlight : 0,
      // Only this run's: a record left by an earlier kill may wait for a section not yet restarted.
      pendingLeft: killed ? this.pendingRecords(pendingBefore).size : 0,
      committed: positionsAfter.filter((p, i) => p !== positionsBefore[i]).length,
      requests: this.requestsAnswered() - requestsBefore,
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
    while (kills.length < opts.kills) {
      // By kill, not by attempt: a mode whose run finished first is tried again.
      const mode = KILL_MODES[kills.length % KILL_MODES.length] ?? 'delay';
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
    return this.messageLogLines(/an interrupted window was rolled forward/);
  }

  completedCommitsLogged(): number {
    return this.messageLogLines(/cleared the journal of a committed window|a committed window's data files were completed/);
  }

  /** Every data file now, path → its bytes. */
  dataFiles(): Map<string, Buffer> {
    const files = new Map<string, Buffer>();
    for (const s of this.streams) {
      if (!existsSync(s.dir)) continue;
      for (const f of readdirSync(s.dir)) {
        if (!this.isDataFile(s.dir, f)) continue;
        try {
          files.set(join(s.dir, f), readFileSync(join(s.dir, f)));
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        }
      }
    }
    return files;
  }

  private isDataFile(dir: string, file: string): boolean {
    return this.streams.some((s) => s.dir === dir && file.startsWith(s.prefix) && file.endsWith('.log'));
  }

  /** fs.watch needs the directory to exist before the collector makes it (it accepts an existing one). */
  private makeWatchedDirs(): void {
    mkdirSync(join(this.dir, 'positions'), { recursive: true });
  }
}

/** The start of the window a list request asks for: lists ask from one second before it. */
export function listWindowStart(request: FaultRequestInfo): number | undefined {
  if (request.kind !== 'list') return undefined;
  const starttime = new URLSearchParams(request.rawUrl.split('?')[1] ?? '').get('starttime');
  return starttime === null ? undefined : Number(starttime) + 1;
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

