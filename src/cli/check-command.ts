// `uzmanposta --check [--online]`: validates the config and shows what each
// section resolves to, so an operator sees where files will go before cron
// does; --online proves each key and domain with one small request. Exit 0
// only if all is well: 1 when a section has a problem, 2 (from the CLI) when
// the config itself is invalid.

import fs from 'node:fs';
import { dirname } from 'node:path';
import { EXIT, type CliArgs, type CliIo } from './cli-contract.js';
import { ApiClient } from '../api/api-client.js';
import { clientOptions } from '../api/client-options.js';
import { NetworkError, UzpError } from '../common/errors.js';
import { maskKey, redact } from '../common/mask.js';
import { readPosition } from '../storage/position-store.js';
import type { SectionConfig } from '../config/section-config.js';
import { readLockHolder } from '../storage/section-lock.js';
import { loadFromCli, selectSections } from './section-selection.js';
import { splitKeys } from './shard-assignment.js';
import { pendingFileFor } from '../storage/legacy-pending-commit.js';
import { journalFileFor } from '../storage/window-commit.js';
import { capQuarantineStart } from '../engine/worker/window-plan.js';
import { positionAhead } from '../engine/worker/segment-plan.js';

/** The probe asks for one minute that ended a minute ago: small, and already indexed by the service. */
const PROBE_SPAN = 60;
const PROBE_END_AGE = 60;
/** An operator waits for --check; a section's own longer timeouts are for bulk pages. */
const PROBE_TIMEOUT_SECONDS = 30;

/** One section as --check sees it; --check --json gives exactly this. */
interface SectionCheck {
  section: string;
  /** First and last four characters only. */
  apiKey: string;
  category: string;
  type: string;
  domain: string;
  url: string;
  outputDirectory: string;
  positionFile: string;
  lockFile: string;
  lock: string;
  heartbeatFile: string;
  metricsFile?: string;
  caFile?: string;
  /** Where the next run starts, or null when the position makes the run stop (see problems). */
  start: { at: number; iso: string; behindSeconds: number; from: 'position' | 'start_time'; text: string } | null;
  /** A run that did not finish: the next run completes its last window from this journal (or rolls back an older release's pending record). */
  pendingFile?: string;
  pendingNote?: string;
  problems: string[];
}

interface ProbeCheck {
  sections: string[];
  ok: boolean;
  text: string;
  hint?: string;
}

/** The whole of what --check found; the text form and --json render it. */
interface CheckReport {
  config: string;
  warnings: { section: string; option?: string; message: string }[];
  otherSections: string[];
  /** With --shard: which shard this is, and each key its sections split between shards (--shard-by section). */
  shard?: { index: number; count: number; by: string; sectionsInConfig: number; splitKeys: { sections: string[]; shards: number[] }[] };
  sections: SectionCheck[];
  online?: { spanSeconds: number; endAgeSeconds: number; probes: ProbeCheck[] };
  problems: number;
  ok: boolean;
}

export async function checkCommand(args: CliArgs, io: CliIo): Promise<number> {
  const cfg = loadFromCli(args.config, io.env);
  const keys = cfg.sections.map((s) => s.apiKey);
  const sections = selectSections(cfg, { section: args.section, all: true, shard: args.shard });
  const now = Math.floor(Date.now() / 1000);

  const report: CheckReport = {
    config: cfg.path,
    warnings: cfg.warnings.map((w) => ({ section: w.section, ...(w.option ? { option: w.option } : {}), message: w.message })),
    otherSections: cfg.otherSections,
    ...(args.shard === undefined ? {} : { shard: { ...args.shard, sectionsInConfig: cfg.sections.length, splitKeys: splitKeys(cfg.sections, args.shard) } }),
    sections: sections.map((s) => checkSection(s, now)),
    problems: 0,
    ok: true,
  };
  if (args.online) {
    const probes: ProbeCheck[] = [];
    for (const group of probeGroups(sections)) {
      const first = group[0];
      if (!first) continue;
      const verdict = await probe(first, now, io.env);
      probes.push({ sections: group.map((s) => s.section), ok: verdict.ok, text: verdict.text, ...(verdict.ok ? {} : { hint: verdict.hint }) });
    }
    report.online = { spanSeconds: PROBE_SPAN, endAgeSeconds: PROBE_END_AGE, probes };
  }
  report.problems = report.sections.reduce((n, s) => n + s.problems.length, 0) + (report.online?.probes.filter((p) => !p.ok).length ?? 0);
  report.ok = report.problems === 0;

  const text = args.json ? `${JSON.stringify(report, null, 2)}\n` : renderText(report);
  // The masked key is all that is shown, but this output lands in tickets and chats.
  io.stdout.write(redact(text, keys));
  return report.ok ? EXIT.ok : EXIT.failed;
}

function checkSection(s: SectionConfig, now: number): SectionCheck {
  const problems: string[] = [];
  let start: SectionCheck['start'] = null;
  try {
    start = describeStart(s, now);
  } catch (err) {
    problems.push((err as Error).message);
  }
  const journal = journalFileFor(s.positionFile);
  const legacy = pendingFileFor(s.positionFile);
  const pending = fs.existsSync(journal)
    ? { pendingFile: journal, pendingNote: 'a run did not finish; the next run completes its last window from this journal' }
    : fs.existsSync(legacy)
      ? { pendingFile: legacy, pendingNote: 'a window of an older release did not finish; the next run rolls it back' }
      : {};
  const seen = new Set<string>();
  for (const [what, dir] of writableDirs(s)) {
    if (seen.has(dir)) continue;
    seen.add(dir);
    const why = notWritable(dir);
    if (why) problems.push(`the ${what} directory ${dir} cannot be created or written: ${why}`);
  }
  return {
    section: s.section,
    apiKey: maskKey(s.apiKey),
    category: s.category,
    type: s.type,
    domain: s.domain,
    url: s.url,
    outputDirectory: s.outputDirectory,
    positionFile: s.positionFile,
    lockFile: s.lockFilePath,
    lock: lockState(s.lockFilePath),
    heartbeatFile: s.heartbeatFile,
    ...(s.metricsFile ? { metricsFile: s.metricsFile } : {}),
    ...(s.caFile ? { caFile: s.caFile } : {}),
    start,
    ...pending,
    problems,
  };
}

function renderText(r: CheckReport): string {
  const lines: string[] = [];
  const out = (text: string): void => void lines.push(text);
  out(`Config ${r.config}: valid, ${r.sections.length} section(s)`);
  for (const w of r.warnings) out(`  warning: [${w.section}]${w.option ? ` ${w.option}` : ''}: ${w.message}`);
  if (r.otherSections.length) out(`  not collected (not [MailLogger:*]): ${r.otherSections.join(', ')}`);
  if (r.shard) {
    out(`  shard ${r.shard.index}/${r.shard.count} (by ${r.shard.by}): ${r.sections.length} of ${r.shard.sectionsInConfig} section(s) below`);
    for (const split of r.shard.splitKeys) {
      out(
        `  warning: the sections ${split.sections.join(', ')} share one API key but land on shards ${split.shards.join(', ')}: ` +
          "each shard keeps its own rate budget for that key, so together they may exceed the key's quota; shard by key (the default) to keep it whole",
      );
    }
  }
  for (const s of r.sections) {
    out(`\n[${s.section}]`);
    out(`  api_key     ${s.apiKey}`);
    out(`  category    ${s.category}   type ${s.type}   domain ${s.domain || '(none: all domains of the key)'}`);
    out(`  url         ${s.url}`);
    out(`  output      ${s.outputDirectory}`);
    out(`  position    ${s.positionFile}`);
    out(`  lock        ${s.lockFile} (${s.lock})`);
    out(`  heartbeat   ${s.heartbeatFile}`);
    if (s.metricsFile) out(`  metrics     ${s.metricsFile}`);
    if (s.caFile) out(`  ca_file     ${s.caFile}`);
    if (s.start) out(`  start       ${s.start.text}`);
    // A start that cannot be known is the first problem, shown where the start would be.
    const [first, ...rest] = s.start ? [undefined, ...s.problems] : s.problems;
    if (first !== undefined) out(`  PROBLEM: ${first}`);
    if (s.pendingFile) out(`  pending     ${s.pendingFile}: ${s.pendingNote ?? ''}`);
    for (const p of rest) out(`  PROBLEM: ${p}`);
  }
  if (r.online) {
    out(`\nOnline check (one request per key, domain and url, for the minute that ended ${r.online.endAgeSeconds} s ago):`);
    for (const p of r.online.probes) {
      const names = p.sections.join(', ');
      if (p.ok) {
        out(`  [${names}] OK: ${p.text}`);
      } else {
        out(`  [${names}] FAILED: ${p.text}`);
        out(`    what to do: ${p.hint ?? ''}`);
      }
    }
  }
  out(r.ok ? '\nAll checks passed.' : `\n${r.problems} problem(s) found.`);
  return lines.join('\n') + '\n';
}

function describeStart(s: SectionConfig, now: number): NonNullable<SectionCheck['start']> {
  const saved = readPosition(s.positionFile, s.section);
  const ahead = saved === undefined ? undefined : positionAhead(s, s.positionFile, saved, now);
  if (ahead) throw ahead;
  const start = saved ?? s.startTime;
  const from = saved === undefined ? 'from start_time (no position file yet)' : 'from the position file';
  let text = `${start} (${iso(start)}, ${now - start} s behind) ${from}`;
  if (s.category === 'quarantine') {
    const capped = capQuarantineStart(start, now);
    // The service keeps quarantine for 7 days and answers 406 beyond; the run caps the start (docs/api.md, "Retention").
    if (capped.skipped) text += `; older than 6 days, so the run starts at ${capped.start} (${iso(capped.start)}) and logs the gap`;
  }
  return { at: start, iso: iso(start), behindSeconds: now - start, from: saved === undefined ? 'start_time' : 'position', text };
}

function lockState(lockPath: string): string {
  if (!fs.existsSync(lockPath)) return 'free';
  const holder = readLockHolder(lockPath);
  if (!holder) return 'present, holder unreadable; the next run decides whether it is stale';
  return `held by pid ${holder.pid} on ${holder.hostname} since ${holder.startedAt}; a run skips the section while that process lives`;
}

function writableDirs(s: SectionConfig): [string, string][] {
  const dirs: [string, string][] = [
    ['output', s.outputDirectory],
    ['position', dirname(s.positionFile)],
    ['lock', dirname(s.lockFilePath)],
    ['heartbeat', dirname(s.heartbeatFile)],
  ];
  if (s.metricsFile) dirs.push(['metrics', dirname(s.metricsFile)]);
  return dirs;
}

/** Why `dir` cannot be used by this user, or undefined; checks the nearest existing ancestor when it does not exist yet. */
function notWritable(dir: string): string | undefined {
  let cur = dir;
  for (;;) {
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(cur);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // ENOTDIR: a file sits somewhere above; walking up finds and names it.
      if (code !== 'ENOENT' && code !== 'ENOTDIR') return `${cur}: ${code ?? String(err)}`;
    }
    if (st) {
      if (!st.isDirectory()) return `${cur} is a file, not a directory`;
      try {
        fs.accessSync(cur, fs.constants.W_OK | fs.constants.X_OK);
        return undefined;
      } catch {
        return `${cur} is not writable by the user running this check (uid ${process.getuid?.() ?? '?'})`;
      }
    }
    const parent = dirname(cur);
    if (parent === cur) return 'no part of the path exists';
    cur = parent;
  }
}

/** Sections that would send the same probe request share one; incoming and outgoing differ only in type. */
function probeGroups(sections: SectionConfig[]): SectionConfig[][] {
  const groups = new Map<string, SectionConfig[]>();
  for (const s of sections) {
    const id = JSON.stringify([s.apiKey, s.domain, s.url]);
    groups.set(id, [...(groups.get(id) ?? []), s]);
  }
  return [...groups.values()];
}

type Verdict = { ok: true; text: string } | { ok: false; text: string; hint: string };

async function probe(s: SectionConfig, now: number, env: Record<string, string | undefined>): Promise<Verdict> {
  let client: ApiClient;
  try {
    client = new ApiClient({
      // The proxy the run would use, from the same environment.
      ...clientOptions(s, { env }),
      listTimeoutMs: Math.min(s.listTimeout, PROBE_TIMEOUT_SECONDS) * 1000,
      detailTimeoutMs: Math.min(s.detailTimeout, PROBE_TIMEOUT_SECONDS) * 1000,
      // One answer is the verdict: a retry would only hide what is wrong.
      listRetries: 0,
      listSleepSeconds: 0,
      detailRetries: 0,
      detailSleepSeconds: 0,
      useSession: false,
      maxConnections: 1,
    });
  } catch (err) {
    return { ok: false, text: (err as Error).message, hint: hintFor(err, s) };
  }
  const started = Date.now();
  const to = now - PROBE_END_AGE;
  try {
    const records = await client.list(to - PROBE_SPAN, to);
    return { ok: true, text: `key and domain accepted: ${records.length} record(s) in that minute, answered in ${Date.now() - started} ms` };
  } catch (err) {
    return { ok: false, text: (err as Error).message, hint: hintFor(err, s) };
  } finally {
    await client.close().catch(() => client.destroy());
  }
}

function hintFor(err: unknown, s: SectionConfig): string {
  const domain = s.domain ? ` and allowed for domain ${s.domain}` : '';
  if (!(err instanceof UzpError)) return 'this looks like a bug; report it with the message above';
  if (err instanceof NetworkError) {
    switch (err.kind) {
      case 'dns':
        return `the host in url (${s.url}) does not resolve from this machine: check the url and this machine's DNS resolver`;
      case 'refused':
        return 'nothing accepts connections at the url\'s host and port: check the url, a firewall, or HTTPS_PROXY';
      case 'tls':
        return 'the server certificate is not trusted: if a TLS-inspecting proxy or a private CA signs it, set ca_file to that CA\'s PEM bundle (verification cannot be turned off)';
      case 'timeout':
        return `no answer within ${Math.min(s.listTimeout, PROBE_TIMEOUT_SECONDS)} s: check the network path, a firewall or HTTPS_PROXY, then try again`;
      default:
        return 'the connection failed: check the network path to the url and try again';
    }
  }
  const status = typeof err.context.status === 'number' ? err.context.status : undefined;
  switch (err.code) {
    case 'UZP_API_AUTH':
      return `put a valid key from the Uzman Posta panel in api_key (or api_key_env / api_key_file) of [${s.section}] or [DEFAULT]; it must be active${domain}`;
    case 'UZP_API_MALFORMED':
      return 'the url answers, but not like the Uzman Posta API: check that url is the base URL of the category\'s endpoint';
    case 'UZP_CONFIG_INVALID':
      return 'fix ca_file: it must be a readable PEM bundle';
    case 'UZP_API_HTTP':
      if (status === 429) return 'the key is rate limited right now: wait a minute and check again; if runs hit 429 often, lower --max-workers or max_parallel_details, or set rate_limit';
      if (status !== undefined && status >= 500) return 'the service is failing right now: check again later; runs retry such errors on their own';
      if (status === 404) return 'check url: it must be the base URL of the category\'s endpoint (see the url option)';
      return 'check url, category and type of the section';
    default:
      return 'see the message above';
  }
}

function iso(seconds: number): string {
  return new Date(seconds * 1000).toISOString();
}
