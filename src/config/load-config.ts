// Reads the INI file into validated SectionConfig objects, before any worker
// starts. Every problem in the file is collected and reported at once
// (ConfigError); unknown options and risky permissions are warnings.
//
// Option defaults and single-value rules are in config-options.ts; this module
// applies precedence (section > [DEFAULT] > built-in, url aside: see there),
// the rules that need several options, and path resolution. Relative paths
// resolve against the config file's directory, never the working directory,
// so cron and a shell in another directory use the same files.

import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ConfigError, type ConfigIssue } from '../common/errors.js';
import { maskKey } from '../common/mask.js';
import { TYPES_BY_CATEGORY, type Category, type SectionConfig } from './section-config.js';
import {
  CATEGORIES,
  CATEGORY_URLS,
  DEFAULT_TYPE,
  OPTIONS,
  OPTION_KEYS,
  PLACEHOLDER_KEYS,
  START_TIME_LOOKBACK,
  isOptionKey,
  pathSegmentProblem,
  type OptionKey,
  type OptionValue,
  type Parser,
} from './config-options.js';
import { DEFAULT_SECTION, parseIni, type IniDocument, type IniSection } from './ini-file.js';
import { PLACEHOLDERS, escapeStrftime, expandPlaceholders, unknownPlaceholders } from './file-names.js';

export interface LoadedConfig {
  /** Absolute. */
  path: string;
  /** Directory relative paths in the file resolve against. */
  dir: string;
  sections: SectionConfig[];
  /** Sections that are neither [DEFAULT] nor [MailLogger]/[MailLogger:NAME]; not validated. */
  otherSections: string[];
  warnings: ConfigIssue[];
}

const LEGACY_SECTION = 'MailLogger';
const SECTION_PREFIX = 'MailLogger:';
const KEY_SOURCES = ['api_key', 'api_key_env', 'api_key_file'] as const;
// Options resolved by their own rules below rather than plain precedence.
const SPECIAL: ReadonlySet<OptionKey> = new Set<OptionKey>([...KEY_SOURCES, 'type', 'url', 'start_time']);
type PlainKey = Exclude<OptionKey, (typeof KEY_SOURCES)[number] | 'type' | 'url' | 'start_time'>;
type PlainValues = { [K in PlainKey]: OptionValue<K> };

export function loadConfig(
  path: string,
  opts: { now?: number; env?: Record<string, string | undefined> } = {},
): LoadedConfig {
  const abs = resolve(path);
  const dir = dirname(abs);
  const { text, mode } = readConfigFile(abs);
  const doc = parseIni(text);
  const issues = new IssueList();
  for (const p of doc.problems) {
    issues.add({ section: p.section, ...(p.option === undefined ? {} : { option: p.option }), message: p.message, severity: p.severity });
  }

  const mailSections = doc.sections.filter((s) => isMailLoggerSection(s.name));
  const otherSections = doc.sections.filter((s) => !isMailLoggerSection(s.name)).map((s) => s.name);
  if (mailSections.length === 0) {
    const found = otherSections.length > 0 ? ` (it has only ${otherSections.map((n) => `[${n}]`).join(', ')})` : '';
    issues.add({
      section: '',
      message: `no [MailLogger:NAME] section in ${abs}${found}; add one per domain and log type, e.g. [MailLogger:example.com-out] with api_key and domain`,
      severity: 'error',
    });
  }

  warnUnknownOptions(DEFAULT_SECTION, doc.defaults, issues);
  const ctx: SectionContext = {
    dir,
    env: opts.env ?? process.env,
    now: Math.floor(opts.now ?? Date.now() / 1000),
    defaults: doc.defaults,
    issues,
  };
  const sections: SectionConfig[] = [];
  for (const s of mailSections) {
    warnUnknownOptions(s.name, s.options, issues);
    const cfg = resolveSection(s, ctx);
    if (cfg) sections.push(cfg);
  }
  checkSharedFiles(sections, issues);
  checkFileMode(abs, mode, doc, issues);

  if (issues.hasErrors()) throw new ConfigError(summarize(abs, issues.all()), issues.all(), { path: abs });
  return { path: abs, dir, sections, otherSections, warnings: issues.all() };
}

/** Finds a section by its full name (`MailLogger:x`) or the part after `MailLogger:` (`x`). */
export function findSection(cfg: LoadedConfig, nameOrShort: string): SectionConfig | undefined {
  return cfg.sections.find((s) => s.section === nameOrShort) ?? cfg.sections.find((s) => s.name === nameOrShort);
}

/** One line per issue, as the ConfigError message lists them. */
export function formatIssue(issue: ConfigIssue): string {
  const where = issue.section ? `[${issue.section}]` : '';
  const option = issue.option ? `${where ? ' ' : ''}${issue.option}` : '';
  const value = issue.value !== undefined ? ` = ${JSON.stringify(issue.value)}` : '';
  const head = `${where}${option}${value}`;
  return `${issue.severity}: ${head ? `${head}: ` : ''}${issue.message}`;
}

function isMailLoggerSection(name: string): boolean {
  return name === LEGACY_SECTION || name.startsWith(SECTION_PREFIX);
}

interface SectionContext {
  dir: string;
  env: Record<string, string | undefined>;
  now: number;
  defaults: ReadonlyMap<string, string>;
  issues: IssueList;
}

function resolveSection(s: IniSection, ctx: SectionContext): SectionConfig | undefined {
  let failed = false;
  const error = (section: string, option: string | undefined, value: string | undefined, message: string): void => {
    failed = true;
    ctx.issues.add({
      section,
      ...(option === undefined ? {} : { option }),
      ...(value === undefined ? {} : { value }),
      message,
      severity: 'error',
    });
  };
  const warn = (option: string, message: string): void => {
    ctx.issues.add({ section: s.name, option, message, severity: 'warning' });
  };
  const lookup = (key: string): { raw: string; from: string } | undefined => {
    const own = s.options.get(key);
    if (own !== undefined) return { raw: own, from: s.name };
    const inherited = ctx.defaults.get(key);
    return inherited === undefined ? undefined : { raw: inherited, from: DEFAULT_SECTION };
  };
  const get = <K extends OptionKey>(key: K): OptionValue<K> | undefined => {
    const found = lookup(key);
    const raw = found?.raw ?? OPTIONS[key].default;
    if (raw === undefined) return undefined;
    const parsed = (OPTIONS[key].parse as Parser<OptionValue<K>>)(raw);
    if (parsed.ok) return parsed.value;
    // A bad [DEFAULT] value is reported once, under [DEFAULT], not once per section.
    error(found?.from ?? s.name, key, raw, parsed.message);
    return undefined;
  };

  const name = s.name === LEGACY_SECTION ? LEGACY_SECTION : s.name.slice(SECTION_PREFIX.length);
  const nameProblem = name === '' ? 'is empty' : pathSegmentProblem(name);
  if (nameProblem) {
    error(s.name, undefined, undefined, `the name after 'MailLogger:' is used in file names ({section}) and ${nameProblem}; use letters, digits, '.', '-' and '_'`);
  }

  const plain: Partial<PlainValues> = {};
  for (const key of OPTION_KEYS) {
    if (SPECIAL.has(key)) continue;
    const value = get(key);
    if (value !== undefined) (plain as Record<string, unknown>)[key] = value;
  }
  const category = plain.category;
  const type = category === undefined ? undefined : resolveType(category);
  const url = category === undefined ? undefined : resolveUrl(category);
  const apiKey = resolveApiKey();
  const startTime = lookup('start_time') ? get('start_time') : ctx.now - START_TIME_LOOKBACK;
  if (failed || category === undefined || type === undefined || url === undefined || apiKey === undefined || startTime === undefined) {
    return undefined;
  }
  const v = plain as PlainValues;

  // The Python tool's id, byte for byte (md5 of f"{api_key}{domain}{log_type}{api_category}{url}"),
  // so `position_file = positions/{id}.pos` finds the files it wrote. It hashed the type as
  // configured with its own fallback 'outgoinglog' (whatever the category: authentication and an
  // unset quarantine type included) and the url before any trailing '/' is dropped.
  const idType = lookup('type')?.raw ?? DEFAULT_TYPE.mail;
  const id = createHash('md5').update(`${apiKey}${v.domain}${idType}${category}${url.raw}`, 'utf8').digest('hex').slice(0, 8);

  // Python's file names say 'global' for a section without a domain; paths follow suit.
  const domainDir = v.domain || 'global';
  const values: Record<string, string> = { section: name, id, domain: domainDir, type, category };
  const formatValues = Object.fromEntries(Object.entries(values).map(([k, x]) => [k, escapeStrftime(x)]));
  for (const key of ['log_directory', 'log_file_name_format', 'message_log_file_name', 'error_log_file_name', 'heartbeat_file', 'position_file', 'lock_file_path', 'metrics_file', 'ca_file'] as const) {
    const unknown = unknownPlaceholders(v[key], PLACEHOLDERS);
    if (unknown.length > 0) {
      warn(key, `${unknown.map((u) => `{${u}}`).join(', ')} is not a placeholder and stays as written; placeholders: ${PLACEHOLDERS.map((p) => `{${p}}`).join(' ')}`);
    }
  }
  const inConfigDir = (p: string): string => (p === '' ? '' : resolve(ctx.dir, expandPlaceholders(p, values)));

  const logDirectory = inConfigDir(v.log_directory);
  // The Python tool's layout: no `quarantine/quarantine`, and authentication has no type.
  const typeLevel = !(category === 'authentication' || (category === 'quarantine' && type === 'quarantine'));
  const outputDirectory = join(logDirectory, domainDir, category, ...(typeLevel ? [type] : []));
  const caFile = inConfigDir(v.ca_file);
  if (caFile !== '') {
    const problem = unreadableFile(caFile);
    if (problem) {
      error(lookup('ca_file')?.from ?? s.name, 'ca_file', v.ca_file, `${problem}; give the path of a PEM bundle, or leave ca_file empty`);
      return undefined;
    }
  }

  return {
    section: s.name,
    name,
    id,
    apiKey,
    domain: v.domain,
    category,
    type,
    url: url.value,
    startTime,
    endDelay: v.end_delay,
    logDirectory,
    outputDirectory,
    logFileNameFormat: expandPlaceholders(v.log_file_name_format, formatValues),
    messageLogFileName: expandPlaceholders(v.message_log_file_name, formatValues),
    messageLogRetentionCount: v.message_log_retention_count,
    errorLogFileName: expandPlaceholders(v.error_log_file_name, formatValues),
    errorLogRetentionCount: v.error_log_retention_count,
    heartbeatFile: resolve(outputDirectory, expandPlaceholders(v.heartbeat_file, values)),
    positionFile: inConfigDir(v.position_file),
    lockFilePath: inConfigDir(v.lock_file_path),
    splitInterval: v.split_interval,
    maxTimeGap: v.max_time_gap,
    maxRecordsPerPage: v.max_records_per_page,
    listTimeout: v.list_timeout,
    detailTimeout: v.detail_timeout,
    listRetries: v.list_retries,
    listSleepTime: v.list_sleep_time,
    detailRetries: v.detail_retries,
    detailSleepTime: v.detail_sleep_time,
    maxParallelDetails: v.max_parallel_details,
    useSession: v.use_session,
    verbose: v.verbose,
    fileTime: v.file_time,
    rateLimit: v.rate_limit,
    metricsFile: inConfigDir(v.metrics_file),
    caFile,
  };

  function resolveType(category: Category): string | undefined {
    if (category === 'authentication') return DEFAULT_TYPE.authentication;
    const found = lookup('type');
    if (!found) return DEFAULT_TYPE[category];
    const allowed = TYPES_BY_CATEGORY[category];
    if (allowed.includes(found.raw)) return found.raw;
    const inherited = found.from === DEFAULT_SECTION ? ' (inherited from [DEFAULT])' : '';
    const owner = ['auth', 'authentication'].includes(found.raw)
      ? 'authentication'
      : CATEGORIES.find((c) => TYPES_BY_CATEGORY[c].includes(found.raw));
    const hint = owner ? `; '${found.raw}' belongs to category ${owner}: set category = ${owner}` : '';
    error(s.name, 'type', found.raw, `must be one of ${allowed.join(', ')} for category ${category}${inherited}${hint}`);
    return undefined;
  }

  function resolveUrl(category: Category): { value: string; raw: string } | undefined {
    // Empty counts as unset, as the Python tool's `if not url` did.
    const own = s.options.get('url');
    const inherited = ctx.defaults.get('url');
    const chosen = own
      ? { raw: own, from: s.name }
      : category === 'mail' && inherited
        ? { raw: inherited, from: DEFAULT_SECTION }
        : { raw: CATEGORY_URLS[category], from: s.name };
    const parsed = OPTIONS.url.parse(chosen.raw);
    if (parsed.ok) return { value: parsed.value, raw: chosen.raw };
    error(chosen.from, 'url', chosen.raw, parsed.message);
    return undefined;
  }

  function resolveApiKey(): string | undefined {
    // The three sources are one setting: a section naming any of them replaces
    // whatever [DEFAULT] names, so a shared key can be overridden per section.
    const level = [s.options, ctx.defaults].find((m) => KEY_SOURCES.some((k) => m.has(k)));
    if (!level) {
      error(s.name, 'api_key', undefined,
        'no API key: set one of api_key, api_key_env (an environment variable holding the key) or api_key_file (a file holding it), here or in [DEFAULT]');
      return undefined;
    }
    const from = level === s.options ? s.name : DEFAULT_SECTION;
    const set = KEY_SOURCES.filter((k) => level.has(k));
    const source = set[0];
    if (source === undefined) return undefined;
    if (set.length > 1) {
      error(from, source, undefined, `set exactly one of ${KEY_SOURCES.join(', ')}; [${from}] sets ${set.join(' and ')}`);
      return undefined;
    }
    const raw = level.get(source) ?? '';
    let key: string;
    let origin: string;
    if (source === 'api_key') {
      key = raw;
      origin = 'api_key';
    } else if (source === 'api_key_env') {
      const parsed = OPTIONS.api_key_env.parse(raw);
      if (!parsed.ok) {
        // A key pasted here by mistake must not be echoed.
        error(from, source, maskKey(raw), parsed.message);
        return undefined;
      }
      const fromEnv = ctx.env[parsed.value];
      if (fromEnv === undefined || fromEnv.trim() === '') {
        error(from, source, raw, `environment variable ${raw} is not set or is empty; export it for the collector, or use api_key_file`);
        return undefined;
      }
      key = fromEnv.trim();
      origin = `environment variable ${raw}`;
    } else {
      const parsed = OPTIONS.api_key_file.parse(raw);
      if (!parsed.ok) {
        error(from, source, raw, parsed.message);
        return undefined;
      }
      const file = resolve(ctx.dir, parsed.value);
      let content: string;
      try {
        content = fs.readFileSync(file, 'utf8');
      } catch (err) {
        error(from, source, raw, `${describeFsError(file, err)}; api_key_file must name a readable file holding only the key`);
        return undefined;
      }
      key = content.replace(/^\uFEFF/, '').trim();
      origin = file;
      warnIfShared(file, from, source);
    }
    const shown = source === 'api_key' ? maskKey(raw) : raw;
    if (key === '') {
      error(from, source, shown, `${origin} is empty; it must hold the API key`);
      return undefined;
    }
    if (PLACEHOLDER_KEYS.includes(key)) {
      error(from, source, shown, `${origin} holds the example placeholder ${key}; put the API key from the Uzman Posta panel there`);
      return undefined;
    }
    if (/[\s\u0000-\u001f\u007f]/.test(key)) {
      error(from, source, shown, `${origin} holds whitespace or control characters inside the key; an API key is one word`);
      return undefined;
    }
    // It travels in an HTTP header, which carries visible ASCII only: a key
    // with other characters would fail every request of the run instead.
    if (/[^\x21-\x7e]/.test(key)) {
      error(from, source, shown, `${origin} holds characters outside visible ASCII (often a stray quote or letter from copying); an API key is ASCII only`);
      return undefined;
    }
    return key;
  }

  function warnIfShared(file: string, from: string, option: string): void {
    if (process.platform === 'win32') return;
    const mode = fs.statSync(file).mode & 0o777;
    if (mode & 0o044) {
      ctx.issues.add({
        section: from,
        option,
        value: file,
        message: `the key file is readable by group or others (mode ${octal(mode)}); run chmod 600 ${file}`,
        severity: 'warning',
      });
    }
  }
}

// Two sections sharing one of these files would corrupt each other's state.
const SHARED_FILE_CHECKS: { option: string; file: (c: SectionConfig) => string; harm: string }[] = [
  { option: 'position_file', file: (c) => c.positionFile, harm: "overwrite each other's position and skip or repeat records" },
  { option: 'lock_file_path', file: (c) => c.lockFilePath, harm: 'lock each other out' },
  { option: 'heartbeat_file', file: (c) => c.heartbeatFile, harm: "overwrite each other's heartbeat" },
  { option: 'log_file_name_format', file: (c) => join(c.outputDirectory, c.logFileNameFormat), harm: 'write into the same data files' },
];

function checkSharedFiles(sections: SectionConfig[], issues: IssueList): void {
  for (const check of SHARED_FILE_CHECKS) {
    const owners = new Map<string, SectionConfig>();
    for (const c of sections) {
      const file = check.file(c);
      const first = owners.get(file);
      if (!first) {
        owners.set(file, c);
        continue;
      }
      issues.add({
        section: c.section,
        option: check.option,
        value: file,
        message: `[${first.section}] and [${c.section}] both resolve to ${file} and would ${check.harm}; include {section} in ${check.option}, or give one of them its own value`,
        severity: 'error',
      });
    }
  }
}

function checkFileMode(path: string, mode: number, doc: IniDocument, issues: IssueList): void {
  if (process.platform === 'win32' || (mode & 0o044) === 0) return;
  const holder = [{ name: DEFAULT_SECTION, options: doc.defaults }, ...doc.sections].find((s) => (s.options.get('api_key') ?? '') !== '');
  if (!holder) return;
  issues.add({
    section: holder.name,
    option: 'api_key',
    message: `${path} holds an API key and is readable by group or others (mode ${octal(mode)}); run chmod 600 ${path}, or move the key to api_key_file or api_key_env`,
    severity: 'warning',
  });
}

function warnUnknownOptions(section: string, options: ReadonlyMap<string, string>, issues: IssueList): void {
  for (const key of options.keys()) {
    if (isOptionKey(key)) continue;
    const near = OPTION_KEYS.find((k) => editDistance(k, key) <= 2);
    // The value is left out: a misspelt api_key would otherwise be printed.
    issues.add({
      section,
      option: key,
      message: `unknown option, ignored${near ? ` (did you mean ${near}?)` : ''}`,
      severity: 'warning',
    });
  }
}

function readConfigFile(path: string): { text: string; mode: number } {
  const fail = (message: string): never => {
    throw new ConfigError(message, [{ section: '', value: path, message, severity: 'error' }], { path });
  };
  let stat: fs.Stats | undefined;
  try {
    stat = fs.statSync(path);
  } catch (err) {
    fail(`${describeFsError(path, err)}; pass the INI file with --config PATH (a relative PATH is taken from the working directory)`);
  }
  if (stat?.isDirectory()) fail(`config file ${path} is a directory; pass the INI file itself, e.g. --config ${join(path, 'uzmanposta.ini')}`);
  let bytes: Buffer | undefined;
  try {
    bytes = fs.readFileSync(path);
  } catch (err) {
    fail(`${describeFsError(path, err)}; make it readable by the user running the collector`);
  }
  let text = '';
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    fail(`config file ${path} is not UTF-8 text; save it as UTF-8`);
  }
  return { text, mode: (stat?.mode ?? 0) & 0o777 };
}

function unreadableFile(path: string): string | undefined {
  try {
    if (!fs.statSync(path).isFile()) return `${path} is not a file`;
    fs.accessSync(path, fs.constants.R_OK);
    return undefined;
  } catch (err) {
    return describeFsError(path, err);
  }
}

function describeFsError(path: string, err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
      return `${path} does not exist`;
    case 'EACCES':
    case 'EPERM':
      return `${path} cannot be read (permission denied)`;
    case 'ENOTDIR':
      return `${path} cannot exist: part of its directory path is a file`;
    case 'EISDIR':
      return `${path} is a directory`;
    default:
      return `${path} cannot be read (${code ?? (err instanceof Error ? err.message : String(err))})`;
  }
}

function summarize(path: string, issues: ConfigIssue[]): string {
  const errors = issues.filter((i) => i.severity === 'error');
  const warnings = issues.filter((i) => i.severity === 'warning');
  const count = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
  const head = `config file ${path} has ${count(errors.length, 'error')}${warnings.length ? ` and ${count(warnings.length, 'warning')}` : ''}:`;
  return [head, ...[...errors, ...warnings].map((i) => `  ${formatIssue(i)}`)].join('\n');
}

function octal(mode: number): string {
  return `0${mode.toString(8).padStart(3, '0')}`;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
    }
    prev = row;
  }
  return prev[b.length] ?? 0;
}

/** Issues in the order found; the same issue (e.g. a bad [DEFAULT] value seen from each section) once. */
class IssueList {
  readonly #issues: ConfigIssue[] = [];
  readonly #seen = new Set<string>();

  add(issue: ConfigIssue): void {
    const id = JSON.stringify([issue.section, issue.option, issue.value, issue.message, issue.severity]);
    if (this.#seen.has(id)) return;
    this.#seen.add(id);
    this.#issues.push(issue);
  }

  hasErrors(): boolean {
    return this.#issues.some((i) => i.severity === 'error');
  }

  all(): ConfigIssue[] {
    return [...this.#issues];
  }
}
