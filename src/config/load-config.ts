// Reads the INI file into validated SectionConfig objects, before any worker
// starts. Every problem in the file is collected and reported at once
// (ConfigError); unknown options and risky permissions are warnings.
//
// Each rule lives in its own module and this one puts them together:
// precedence in option-lookup.ts, option defaults and single-value rules in
// config-options.ts, the options that depend on the category in
// category-rules.ts, the API key in api-key-source.ts, the id and paths in
// section-paths.ts, and the checks of the file as a whole in file-checks.ts.

import fs from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ConfigError, type ConfigIssue } from '../common/errors.js';
import { redact } from '../common/mask.js';
import type { SectionConfig } from './section-config.js';
import { DEFAULT_TYPE, PLACEHOLDER_KEYS, START_TIME_LOOKBACK, pathSegmentProblem } from './config-options.js';
import { DEFAULT_SECTION, parseIni, type IniSection } from './ini-file.js';
import { IssueList, SectionIssues } from './config-issues.js';
import { SectionOptions, type PlainValues } from './option-lookup.js';
import { resolveType, resolveUrl } from './category-rules.js';
import { resolveApiKey } from './api-key-source.js';
import { resolvePaths, sectionId } from './section-paths.js';
import { checkFileMode, checkLogNames, checkSharedFiles, warnUnknownOptions } from './file-checks.js';
import { describeFsError } from './fs-problems.js';

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
  checkLogNames(sections, issues);
  checkFileMode(abs, mode, doc, issues);

  // A key pasted into another option (a url's query, domain, api_key_file)
  // would be echoed with that option's value: every key the file holds or
  // names is masked in what is reported.
  const optionSets = [doc.defaults, ...mailSections.map((m) => m.options)];
  const keys = [
    ...sections.map((c) => c.apiKey),
    ...optionSets.map((o) => o.get('api_key') ?? ''),
    // A section that failed has no resolved key: the one its api_key_env or api_key_file names.
    ...optionSets.map((o) => ctx.env[(o.get('api_key_env') ?? '').trim()] ?? ''),
    ...optionSets.map((o) => keyFileText(dir, o.get('api_key_file'))),
  ].filter((k) => k.trim().length >= 8 && !PLACEHOLDER_KEYS.includes(k.trim()));
  const reported = issues.all().map((i) => maskIssue(i, keys));
  if (issues.hasErrors()) throw new ConfigError(summarize(abs, reported), reported, { path: abs });
  return { path: abs, dir, sections, otherSections, warnings: reported };
}

/** What an api_key_file holds, trimmed, for masking only; '' when it cannot be read or is too big to be a key. */
function keyFileText(dir: string, value: string | undefined): string {
  const name = (value ?? '').trim();
  if (name === '') return '';
  try {
    const file = resolve(dir, name);
    if (fs.statSync(file).size > 4096) return '';
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return '';
  }
}

function maskIssue(issue: ConfigIssue, keys: readonly string[]): ConfigIssue {
  const all = [...keys, ...keys.map((k) => k.trim())];
  return {
    ...issue,
    message: redact(issue.message, all),
    ...(issue.value === undefined ? {} : { value: redact(issue.value, all) }),
  };
}

/** Finds a section by its full name (`MailLogger:x`) or the part after `MailLogger:` (`x`). */
export function findSection(cfg: LoadedConfig, nameOrShort: string): SectionConfig | undefined {
  return cfg.sections.find((s) => s.section === nameOrShort) ?? cfg.sections.find((s) => s.name === nameOrShort);
}

/** One line per issue, as the ConfigError message lists them. */
function formatIssue(issue: ConfigIssue): string {
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
  const issues = new SectionIssues(s.name, ctx.issues);
  const options = new SectionOptions(s, ctx.defaults, issues);
  const name = sectionName(s.name, issues);
  const plain = options.plainValues();
  const category = plain.category;
  const type = category === undefined ? undefined : resolveType(options, category);
  const url = category === undefined ? undefined : resolveUrl(options, category);
  const apiKey = resolveApiKey(options, ctx);
  const startTime = options.find('start_time') ? options.value('start_time') : ctx.now - START_TIME_LOOKBACK;
  if (issues.failed || category === undefined || type === undefined || url === undefined || apiKey === undefined || startTime === undefined) {
    return undefined;
  }
  // Every plain option is set: a missing one was invalid, and that failed the section above.
  const v = plain as PlainValues;
  const id = sectionId({ apiKey, domain: v.domain, configuredType: options.find('type')?.raw ?? DEFAULT_TYPE.mail, category, rawUrl: url.raw });
  // Python's file names say 'global' for a section without a domain; paths follow suit.
  const paths = resolvePaths(options, v, { section: name, id, domain: v.domain || 'global', type, category }, ctx.dir);
  if (!paths) return undefined;

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
    ...paths,
    messageLogRetentionCount: v.message_log_retention_count,
    errorLogRetentionCount: v.error_log_retention_count,
    dataRetentionDays: v.data_retention_days,
    lockLease: v.lock_lease,
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
    maxRunTime: v.max_run_time,
    maxResponseSize: v.max_response_size,
    useSession: v.use_session,
    verbose: v.verbose,
    fileTime: v.file_time,
    createNextDataFile: v.create_next_data_file,
    rateLimit: v.rate_limit,
  };
}

/** The `{section}` placeholder: the part after `MailLogger:`, checked to be one path segment. */
function sectionName(section: string, issues: SectionIssues): string {
  const name = section === LEGACY_SECTION ? LEGACY_SECTION : section.slice(SECTION_PREFIX.length);
  const problem = name === '' ? 'is empty' : pathSegmentProblem(name);
  if (problem) {
    issues.error(section, undefined, undefined, `the name after 'MailLogger:' is used in file names ({section}) and ${problem}; use letters, digits, '.', '-' and '_'`);
  }
  return name;
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

function summarize(path: string, issues: ConfigIssue[]): string {
  const errors = issues.filter((i) => i.severity === 'error');
  const warnings = issues.filter((i) => i.severity === 'warning');
  const count = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
  const head = `config file ${path} has ${count(errors.length, 'error')}${warnings.length ? ` and ${count(warnings.length, 'warning')}` : ''}:`;
  return [head, ...[...errors, ...warnings].map((i) => `  ${formatIssue(i)}`)].join('\n');
}
