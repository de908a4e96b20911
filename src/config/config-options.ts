// Every INI option in one table: its built-in default, the rule its value must
// follow and what it means. This is the only place defaults and rules live;
// load-config.ts applies them (and the few rules that need more than one
// option); the option tables of the docs are checked against it.
//
// Precedence, implemented once in option-lookup.ts: the section's own value >
// [DEFAULT] > the built-in default here. `url` is the one exception
// (category-rules.ts): a [DEFAULT] url applies to category `mail` only.

import { parseTimeValue } from './time-value.js';
import type { Category, FileTime } from './section-config.js';
import { PLACEHOLDERS, STRFTIME_TOKENS, unsupportedDirectives } from './file-names.js';

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };
export type Parser<T> = (raw: string) => Parsed<T>;

export interface OptionSpec<T> {
  /** The built-in default as INI text, parsed like a configured value; undefined when required or derived. */
  readonly default: string | undefined;
  /** The default as docs show it. */
  readonly defaultText: string;
  readonly description: string;
  readonly parse: Parser<T>;
}

export const CATEGORIES: readonly Category[] = ['mail', 'quarantine', 'authentication'];

/** The base URL per category when the section sets none (docs/api.md, "Endpoints"). */
export const CATEGORY_URLS: Record<Category, string> = {
  mail: 'https://yenipanel-api.uzmanposta.com/api/v2/logs/mail',
  quarantine: 'https://yenipanel-api.uzmanposta.com/api/v2/quarantines',
  authentication: 'https://yenipanel.uzmanposta.com/api/v2/logs/authentication',
};

/** `type` when none is configured; authentication sends none and names files `auth`. */
export const DEFAULT_TYPE: Record<Category, string> = {
  mail: 'outgoinglog',
  quarantine: 'quarantine',
  authentication: 'auth',
};

/** Values `api_key` may not have: the examples' placeholders. */
export const PLACEHOLDER_KEYS: readonly string[] = ['YOUR_API_KEY_HERE', 'YOUR_API_KEY'];

/** start_time when unset: this many seconds before now. */
export const START_TIME_LOOKBACK = 60;

// Never ask for a window longer than 14 days (docs/api.md, "List").
const MAX_WINDOW = 14 * 24 * 3600;
// Node timers overflow past 2^31-1 ms and fire at once; a day is far below that.
const MAX_TIMEOUT = 24 * 3600;

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = (message: string): Parsed<never> => ({ ok: false, message });

const text: Parser<string> = (raw) => ok(raw);

function integer(min: number, max?: number): Parser<number> {
  const allowed = max === undefined ? `an integer ≥ ${min}` : `an integer from ${min} to ${max}`;
  return (raw) => {
    // Python's int() takes a sign and surrounding spaces; values are trimmed already.
    if (!/^[+-]?\d+$/.test(raw)) return fail(`must be ${allowed}`);
    const n = Number(raw);
    if (n < min || (max !== undefined && n > max) || !Number.isSafeInteger(n)) return fail(`must be ${allowed}`);
    return ok(n);
  };
}

function decimal(bound: { above?: number; atLeast?: number }, max: number, unit: string): Parser<number> {
  const low = bound.above !== undefined ? `greater than ${bound.above}` : `at least ${bound.atLeast ?? 0}`;
  const allowed = `a number ${low} and at most ${max}${unit}`;
  return (raw) => {
    if (!/^[+-]?(\d+(\.\d*)?|\.\d+)$/.test(raw)) return fail(`must be ${allowed}`);
    const n = Number(raw);
    if (bound.above !== undefined && !(n > bound.above)) return fail(`must be ${allowed}`);
    if (bound.atLeast !== undefined && !(n >= bound.atLeast)) return fail(`must be ${allowed}`);
    if (n > max) return fail(`must be ${allowed}`);
    return ok(n);
  };
}

// configparser's BOOLEAN_STATES.
const TRUE_WORDS = ['1', 'yes', 'true', 'on'];
const FALSE_WORDS = ['0', 'no', 'false', 'off'];
const boolean: Parser<boolean> = (raw) => {
  const word = raw.toLowerCase();
  if (TRUE_WORDS.includes(word)) return ok(true);
  if (FALSE_WORDS.includes(word)) return ok(false);
  return fail(`must be a boolean: ${TRUE_WORDS.join('/')} or ${FALSE_WORDS.join('/')}`);
};

function oneOf<T extends string>(values: readonly T[]): Parser<T> {
  return (raw) =>
    (values as readonly string[]).includes(raw) ? ok(raw as T) : fail(`must be one of: ${values.join(', ')}`);
}

const httpUrl: Parser<string> = (raw) => {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return fail('must be an http:// or https:// URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return fail('must be an http:// or https:// URL');
  // The client appends `?starttime=…` and `/{queue_id}` itself.
  if (url.search || url.hash || raw.includes('?') || raw.includes('#')) {
    return fail('must be a base URL without a query (?…) or fragment (#…)');
  }
  return ok(raw.replace(/\/+$/, ''));
};

const startTime: Parser<number> = (raw) => {
  const t = parseTimeValue(raw);
  return 'error' in t ? fail(t.error) : ok(t.value);
};

function path(opts: { emptyMeans?: string }): Parser<string> {
  return (raw) => {
    if (raw === '' && opts.emptyMeans === undefined) return fail('must be a path; it is empty');
    if (raw.includes('\0')) return fail('must be a path without NUL characters');
    return ok(raw);
  };
}

// Data, message and error logs are found again by name in their directory
// (retention, the SIEM's tail), so a format names a file, not a path.
const fileNameFormat: Parser<string> = (raw) => {
  if (raw === '') return fail('must be a file name format; it is empty');
  if (/[/\\\0]/.test(raw)) return fail("must be a file name without '/', '\\' or NUL; the file goes in the section's output directory");
  const bad = unsupportedDirectives(raw);
  if (bad.length > 0) {
    return fail(`uses ${bad.join(', ')}; supported: ${STRFTIME_TOKENS.map((t) => `%${t}`).join(' ')} and %% for '%'`);
  }
  return ok(raw);
};

/**
 * Why a domain or section name cannot be one directory level, or undefined.
 * Both become path segments; one that escaped log_directory or positions/
 * would let a config write anywhere.
 */
export function pathSegmentProblem(value: string): string | undefined {
  if (value.includes('\0') || /[\u0000-\u001f\u007f]/.test(value)) return 'contains control characters';
  if (/[/\\]/.test(value)) return "contains '/' or '\\'";
  if (value.includes(':')) return "contains ':'";
  if (value.includes('..') || value === '.') return "is or contains '..' or is '.'";
  if (/\s/.test(value)) return 'contains whitespace';
  return undefined;
}

const domain: Parser<string> = (raw) => {
  const problem = pathSegmentProblem(raw);
  return problem
    ? fail(`must be a domain name such as example.com (or empty for all domains); it becomes a directory name and ${problem}`)
    : ok(raw);
};

const envName: Parser<string> = (raw) =>
  /^[A-Za-z_][A-Za-z0-9_]*$/.test(raw)
    ? ok(raw)
    : fail('must be the name of an environment variable (letters, digits and _, not starting with a digit)');

function option<T>(spec: { default?: string; defaultText?: string; description: string; parse: Parser<T> }): OptionSpec<T> {
  return {
    default: spec.default,
    defaultText: spec.defaultText ?? (spec.default === '' ? "'' (none)" : (spec.default ?? '')),
    description: spec.description,
    parse: spec.parse,
  };
}

const placeholders = PLACEHOLDERS.map((p) => `{${p}}`).join(' ');

export const OPTIONS = {
  api_key: option({
    defaultText: '(required: exactly one of api_key, api_key_env, api_key_file)',
    description: "API key sent as 'Authorization: Bearer'. Prefer api_key_env or api_key_file and keep this file chmod 600.",
    parse: text,
  }),
  api_key_env: option({
    defaultText: '(unset)',
    description: 'Name of an environment variable holding the API key.',
    parse: envName,
  }),
  api_key_file: option({
    defaultText: '(unset)',
    description: "Path of a file whose content (trimmed) is the API key; relative to the config file's directory.",
    parse: path({}),
  }),
  domain: option({
    default: '',
    defaultText: "'' (all domains of the key)",
    description: "Domain sent with each request; also the output directory level ('global' when empty).",
    parse: domain,
  }),
  category: option({
    default: 'mail',
    description: `Log category: ${CATEGORIES.join(', ')}.`,
    parse: oneOf(CATEGORIES),
  }),
  type: option({
    default: DEFAULT_TYPE.mail,
    defaultText: `${DEFAULT_TYPE.mail} (${DEFAULT_TYPE.quarantine} for category quarantine)`,
    description: "Log type: mail incominglog|outgoinglog, quarantine quarantine|hold; ignored for authentication ({type} is 'auth').",
    parse: text,
  }),
  url: option({
    defaultText: `per category: ${CATEGORIES.map((c) => `${c} ${CATEGORY_URLS[c]}`).join('; ')}`,
    description:
      "Base URL (http or https; a trailing '/' is dropped). The section's own url wins; else the category default, " +
      'except that for category mail a url in [DEFAULT] replaces the default. Empty means unset.',
    parse: httpUrl,
  }),
  start_time: option({
    defaultText: `now − ${START_TIME_LOOKBACK} s`,
    description: 'Where to start when there is no position file: Unix seconds or ISO 8601 with a zone.',
    parse: startTime,
  }),
  end_delay: option({
    default: '60',
    description: 'Seconds before now that a run stops at, so late records are in place when their window is read.',
    parse: integer(0, MAX_WINDOW),
  }),
  log_directory: option({
    default: './output',
    description: `Root of the output tree {log_directory}/{domain or global}/{category}[/{type}]; relative to the config file's directory. Placeholders: ${placeholders}.`,
    parse: path({}),
  }),
  log_file_name_format: option({
    default: '{domain}_{type}_%Y-%m-%d_%H.log',
    description: `Data file name in the output directory: placeholders ${placeholders} and strftime ${STRFTIME_TOKENS.map((t) => `%${t}`).join(' ')} %% (local time).`,
    parse: fileNameFormat,
  }),
  message_log_file_name: option({
    default: 'messages_%Y-%m-%d_%H.log',
    description: 'Operational log file name in the output directory (placeholders and strftime as log_file_name_format).',
    parse: fileNameFormat,
  }),
  message_log_retention_count: option({
    default: '2',
    description: 'How many of the newest message log files to keep; the one in use always stays, so 0 keeps only it.',
    parse: integer(0),
  }),
  error_log_file_name: option({
    default: 'errors_%Y-%m-%d_%H.log',
    description: 'Error log file name in the output directory (placeholders and strftime as log_file_name_format).',
    parse: fileNameFormat,
  }),
  error_log_retention_count: option({
    default: '2',
    description: 'How many of the newest error log files to keep; the one in use always stays, so 0 keeps only it.',
    parse: integer(0),
  }),
  data_retention_days: option({
    default: '0',
    description:
      "Days to keep data files: at the start of each run, the section's own data files whose period ended more than this many days ago (and before the position) are deleted; 0 keeps them forever.",
    parse: integer(0, 36500),
  }),
  heartbeat_file: option({
    default: '{section}_heartbeat.json',
    description: "Heartbeat JSON file; relative to the section's output directory.",
    parse: path({}),
  }),
  position_file: option({
    default: 'positions/{section}.pos',
    description: "Where the section's resume position is kept; relative to the config file's directory. {id} finds the Python tool's files.",
    parse: path({}),
  }),
  lock_file_path: option({
    default: 'locks/{section}.lock',
    description: "Lock file that keeps two runs off one section; relative to the config file's directory.",
    parse: path({}),
  }),
  lock_lease: option({
    default: '120',
    description:
      "Seconds a run's lock stays valid without renewal; the holder renews it every third of that. A lock from another host not renewed for twice this long is taken over; 0 = never (remove such a lock by hand).",
    parse: integer(0, 86_400),
  }),
  split_interval: option({
    default: '300',
    description: 'Longest window, in seconds, asked for in one list request.',
    parse: integer(1, MAX_WINDOW),
  }),
  max_time_gap: option({
    default: '3600',
    description: 'Longest span, in seconds, a window may cover.',
    parse: integer(1, MAX_WINDOW),
  }),
  max_records_per_page: option({
    default: '1000',
    // The service returns at most 1000 (docs/api.md, "List"); a larger value would take a
    // truncated page for a complete one and lose records.
    description: 'Page size at which a list response counts as full and its window is split; at most the service page size, 1000.',
    parse: integer(2, 1000),
  }),
  list_timeout: option({
    default: '300',
    description: 'Seconds a list request may take.',
    parse: decimal({ above: 0 }, MAX_TIMEOUT, ' seconds'),
  }),
  detail_timeout: option({
    default: '120',
    description: 'Seconds a detail request may take.',
    parse: decimal({ above: 0 }, MAX_TIMEOUT, ' seconds'),
  }),
  list_retries: option({
    default: '10',
    description: 'Retries of a list request after a transient failure (5xx, reset, timeout, DNS) before the window is given up; 0 = one attempt.',
    parse: integer(0, 1000),
  }),
  list_sleep_time: option({
    default: '2',
    description: 'First backoff, in seconds, between list attempts (doubles, capped at 60).',
    parse: decimal({ atLeast: 0 }, 3600, ' seconds'),
  }),
  detail_retries: option({
    default: '10',
    description: 'Retries of a detail request after a transient failure before the summary record is written instead; 0 = one attempt.',
    parse: integer(0, 1000),
  }),
  detail_sleep_time: option({
    default: '2',
    description: 'First backoff, in seconds, between detail attempts (doubles, capped at 60).',
    parse: decimal({ atLeast: 0 }, 3600, ' seconds'),
  }),
  max_run_time: option({
    default: '240',
    description:
      'Seconds after the run starts past which a failing request is not retried: the window in flight is not committed and the section fails (exit 1); 0 = no limit. Keep it below the cron interval.',
    parse: integer(0, MAX_TIMEOUT),
  }),
  max_parallel_details: option({
    default: '2',
    description: 'Detail requests in flight at once for this section.',
    parse: integer(1, 64),
  }),
  max_response_size: option({
    default: '64',
    description: 'Largest API answer, in MiB, read for one request; a bigger one fails that request (UZP_RESPONSE_TOO_LARGE) and bounds memory.',
    parse: integer(1, 1024),
  }),
  use_session: option({
    default: 'true',
    description: 'Keep connections alive between requests.',
    parse: boolean,
  }),
  verbose: option({
    default: 'true',
    description: 'Write operational messages to the message log.',
    parse: boolean,
  }),
  file_time: option({
    default: 'write',
    description: "Which time picks a record's hourly file: write (when written) or event (the record's own time).",
    parse: oneOf<FileTime>(['write', 'event']),
  }),
  create_next_data_file: option({
    default: 'false',
    description:
      "After each run, create the next period's data file, empty, if it does not exist yet (file_time = write only), so an agent that looks for it when the period starts (Wazuh at midnight) reads it from its first line.",
    parse: boolean,
  }),
  rate_limit: option({
    default: '0',
    description: 'Most requests per second for this API key, shared by every section using it; 0 = no limit.',
    parse: decimal({ atLeast: 0 }, 10_000, ' requests per second'),
  }),
  metrics_file: option({
    default: '',
    description: "Prometheus textfile to write metrics to; relative to the config file's directory; empty = none.",
    parse: path({ emptyMeans: 'none' }),
  }),
  ca_file: option({
    default: '',
    description: "Extra CA bundle (PEM) to trust; relative to the config file's directory; must be readable; empty = none.",
    parse: path({ emptyMeans: 'none' }),
  }),
} as const satisfies Record<string, OptionSpec<unknown>>;

export type OptionKey = keyof typeof OPTIONS;
export type OptionValue<K extends OptionKey> = (typeof OPTIONS)[K] extends OptionSpec<infer T> ? T : never;

export const OPTION_KEYS = Object.keys(OPTIONS) as OptionKey[];

export function isOptionKey(key: string): key is OptionKey {
  return Object.prototype.hasOwnProperty.call(OPTIONS, key);
}
