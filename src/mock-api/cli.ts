// `uzmanposta-mock`: the mock API as a standalone process, for the demo, CI
// smoke runs and trying the collector by hand. Prints one JSON line once
// listening, so a script can read the URL and key, and runs until SIGINT/SIGTERM.

import yargs from 'yargs';

import { UsageError } from '../common/errors.js';
import { packageVersion } from '../common/package-version.js';
import { TYPES_BY_CATEGORY, type MockCategory, type MockStreamSpec } from './dataset.js';
import type { FixedWindowLimit, MockFaults } from './faults.js';
import { startMockApi, type MockApi } from './server.js';

export const DEFAULT_KEY = 'demo-key-0123456789abcdef';
export const DEFAULT_DOMAINS = ['example.com', 'example.org'];
/** How far past its start a --live mock has data: a week of cron runs. */
export const LIVE_DAYS = 7;
const DEFAULT_PER_MINUTE: Record<MockCategory, number> = { mail: 30, quarantine: 4, authentication: 12 };

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Called once per signal that should stop the server. */
  onSignal: (signal: 'SIGINT' | 'SIGTERM', handler: () => void) => void;
  setExitCode: (code: number) => void;
  /** Unix seconds; the default span ends here. */
  now: () => number;
}

const processIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  onSignal: (signal, handler) => process.once(signal, handler),
  setExitCode: (code) => {
    process.exitCode = code;
  },
  now: () => Math.floor(Date.now() / 1000),
};

/**
 * `category[:type][@domain][=perMinute]`, comma-separated. A missing type means
 * every type of the category, a missing domain every --domains entry.
 */
export function parseStreams(spec: string, domains: readonly string[], key: string, rate?: number): MockStreamSpec[] {
  const streams: MockStreamSpec[] = [];
  for (const item of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([a-z]+)(?::([a-z]+))?(?:@([^=]+))?(?:=(\d+(?:\.\d+)?))?$/.exec(item);
    const category = m?.[1] as MockCategory | undefined;
    if (!m || category === undefined || !(category in TYPES_BY_CATEGORY)) {
      throw new UsageError(`--streams: cannot read "${item}"; expected category[:type][@domain][=perMinute] with category mail, quarantine or authentication`, { option: 'streams' });
    }
    const allTypes = TYPES_BY_CATEGORY[category];
    const type = m[2];
    if (type !== undefined && !allTypes.includes(type)) {
      throw new UsageError(`--streams: "${item}": type ${type} is not one of ${allTypes.join(', ') || '(none for authentication)'}`, { option: 'streams' });
    }
    const types: (string | undefined)[] = type !== undefined ? [type] : allTypes.length > 0 ? [...allTypes] : [undefined];
    const perMinute = m[4] !== undefined ? Number(m[4]) : (rate ?? DEFAULT_PER_MINUTE[category]);
    for (const domain of m[3] !== undefined ? [m[3]] : domains) {
      for (const t of types) streams.push(t === undefined ? { key, domain, category, perMinute } : { key, domain, category, type: t, perMinute });
    }
  }
  if (streams.length === 0) throw new UsageError('--streams: no streams given', { option: 'streams' });
  return streams;
}

function parser(argv: string[]) {
  return yargs(argv)
    .scriptName('uzmanposta-mock')
    .usage('$0 [options]\n\nServes a deterministic mock of the Uzman Posta log API over HTTP.')
    .version(false)
    .help(false)
    .option('port', { type: 'number', default: 0, describe: 'port to listen on (0: any free port)' })
    .option('host', { type: 'string', default: '127.0.0.1', describe: 'address to listen on' })
    .option('seed', { type: 'number', default: 1, describe: 'same seed, same records' })
    .option('from', { type: 'number', describe: 'first second of the data (unix seconds)' })
    .option('to', { type: 'number', describe: 'end of the data, exclusive (unix seconds; default now)' })
    .option('hours', { type: 'number', describe: 'length of the data when --to or --from is missing (default 6)' })
    .option('streams', { type: 'string', describe: 'category[:type][@domain][=perMinute],... (default: every category and type for every domain)' })
    .option('domains', { type: 'string', default: DEFAULT_DOMAINS.join(','), describe: 'domains for streams that name none' })
    .option('rate', { type: 'number', describe: 'records per minute for streams that give none' })
    .option('latency', { type: 'number', default: 0, describe: 'milliseconds added to every response' })
    .option('page-size', { type: 'number', default: 1000, describe: 'most records in one list answer' })
    .option('key', { type: 'string', default: DEFAULT_KEY, describe: 'the API key that may read every domain' })
    .option('range-ends', { choices: ['both', 'start', 'end'] as const, default: 'both' as const, describe: 'which ends of [starttime, endtime] a list includes' })
    .option('fixed-window', { type: 'string', describe: 'N/S: at most N requests per key in a window of S seconds from its first request (Laravel throttle: 429 with Retry-After, X-RateLimit-*)' })
    .option('random-429', { type: 'number', describe: 'share P in [0, 1] of requests answered 429 whatever the rate' })
    .option('random-429-retry-after', { type: 'string', default: '1', describe: "Retry-After of those 429s: seconds, 'none' (no header) or 'garbage'" })
    .option('hostile-queue-ids', { type: 'boolean', default: false, describe: "queue ids with '/', '?', '%', '..', spaces and non-ASCII" })
    .option('live', { type: 'boolean', default: false, describe: `keep serving new records as time passes (data runs ${LIVE_DAYS} days past now; not with --to)` })
    .option('help', { type: 'boolean', alias: 'h', describe: 'show this help' })
    .option('version', { type: 'boolean', alias: 'V', describe: 'show the version' })
    .strict()
    .exitProcess(false)
    .fail((message: string | undefined, error: Error | undefined) => {
      throw new UsageError(message ?? error?.message ?? 'invalid arguments', { option: 'argv' });
    });
}

function integer(name: string, value: number | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || value < min) throw new UsageError(`--${name} must be an integer >= ${min}, got ${value}`, { option: name });
  return value;
}

/** `N/S` for --fixed-window: N requests per S seconds. */
export function parseFixedWindow(spec: string): FixedWindowLimit {
  const m = /^\s*(\d+)\s*\/\s*(\d+(?:\.\d+)?)\s*$/.exec(spec);
  const requests = Number(m?.[1]);
  const seconds = Number(m?.[2]);
  if (!m || !(requests >= 1) || !(seconds > 0)) {
    throw new UsageError(`--fixed-window: cannot read "${spec}"; expected N/S, e.g. 300/60 for 300 requests per 60 s`, { option: 'fixed-window' });
  }
  return { requests, seconds };
}

/** The faults the command line asks for. */
function faultsFrom(args: { latency: number; 'fixed-window'?: string | undefined; 'random-429'?: number | undefined; 'random-429-retry-after': string }): MockFaults {
  const faults: MockFaults = {};
  if (!(args.latency >= 0)) throw new UsageError(`--latency must be >= 0, got ${args.latency}`, { option: 'latency' });
  if (args.latency > 0) faults.latencyMs = args.latency;
  if (args['fixed-window'] !== undefined) faults.fixedWindow = parseFixedWindow(args['fixed-window']);
  const p = args['random-429'];
  if (p !== undefined) {
    if (!(p >= 0 && p <= 1)) throw new UsageError(`--random-429 must be a share in [0, 1], got ${p}`, { option: 'random-429' });
    faults.status429 = p;
  }
  const ra = args['random-429-retry-after'].trim();
  if (ra === 'none') faults.retryAfter = 'absent';
  else if (ra === 'garbage') faults.retryAfter = 'garbage';
  else if (/^\d+$/.test(ra)) faults.retryAfter = Number(ra);
  else throw new UsageError(`--random-429-retry-after must be whole seconds, 'none' or 'garbage', got "${ra}"`, { option: 'random-429-retry-after' });
  return faults;
}

/** Starts the mock from command-line arguments; resolves with it running, or undefined after --help, --version or an error. */
export async function main(argv: string[], io: Partial<CliIo> = {}): Promise<MockApi | undefined> {
  const o: CliIo = { ...processIo, ...io };
  try {
    const p = parser(argv);
    const args = await p.parseAsync();
    if (args.help) {
      o.stdout(`${await p.getHelp()}\n`);
      return undefined;
    }
    if (args.version) {
      o.stdout(`${packageVersion()}\n`);
      return undefined;
    }
    const hours = args.hours ?? 6;
    if (!(hours > 0)) throw new UsageError(`--hours must be positive, got ${hours}`, { option: 'hours' });
    const from0 = integer('from', args.from, 0);
    const to0 = integer('to', args.to, 0);
    if (from0 !== undefined && to0 !== undefined && args.hours !== undefined) {
      throw new UsageError('give at most two of --from, --to and --hours', { option: 'hours' });
    }
    const span = Math.round(hours * 3600);
    if (args.live && to0 !== undefined) throw new UsageError('--live and --to cannot be combined: live data runs on past now', { option: 'live' });
    const end = to0 ?? (from0 !== undefined && args.hours !== undefined ? from0 + span : o.now());
    const from = from0 ?? end - span;
    // Live: the data goes on past now, and the server serves it as now reaches it.
    const to = args.live ? Math.max(end, o.now()) + LIVE_DAYS * 86_400 : end;
    if (from > to) throw new UsageError(`--from (${from}) is after --to (${to})`, { option: 'from' });
    const domains = args.domains.split(',').map((d) => d.trim()).filter(Boolean);
    if (domains.length === 0) throw new UsageError('--domains names no domain', { option: 'domains' });
    const key = args.key;
    if (!key) throw new UsageError('--key must not be empty', { option: 'key' });
    const streams = parseStreams(args.streams ?? 'mail,quarantine,authentication', domains, key, args.rate);

    const faults = faultsFrom(args);
    const api = await startMockApi({
      seed: integer('seed', args.seed, 0) ?? 1,
      from,
      to,
      streams,
      pageSize: integer('page-size', args['page-size'], 1) ?? 1000,
      rangeEnds: args['range-ends'],
      hostileQueueIds: args['hostile-queue-ids'],
      host: args.host,
      port: integer('port', args.port, 0) ?? 0,
      faults,
      live: args.live,
      now: o.now,
    });
    const stop = (): void => {
      void api.close();
    };
    o.onSignal('SIGINT', stop);
    o.onSignal('SIGTERM', stop);
    o.stdout(`${JSON.stringify({ url: api.url, urls: api.urls, keys: api.keys, from, to, live: args.live })}\n`);
    return api;
  } catch (err) {
    const usage = err instanceof UsageError;
    o.stderr(`uzmanposta-mock: ${err instanceof Error ? err.message : String(err)}\n${usage ? 'Run with --help for usage.\n' : ''}`);
    o.setExitCode(usage ? 2 : 1);
    return undefined;
  }
}
