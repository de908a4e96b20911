// The optional `metrics_file`: the run's figures in the Prometheus text
// exposition format, written atomically for node_exporter's textfile
// collector so that a lagging or failing section can raise an alert.

import fs from 'node:fs';
import type { SectionState } from '../engine/main/coordinator.js';
import type { SectionConfig } from '../config/section-config.js';
import { SECTION_STATUSES } from '../engine/shared/section-status.js';
import { writeFileAtomicDurable } from '../storage/durable-fs.js';

interface Family {
  name: string;
  help: string;
  value: (s: SectionState, nowSeconds: number) => number | null;
}

// Names follow Prometheus' conventions: base units (seconds), no unit-less
// "_ms". Each HELP says what the value is now: the file is rewritten with every
// round of heartbeats (2 s) while a run goes, and once more at its end.
const RUN = 'by the current run so far, or by the last run once it ended';
const FAMILIES: Family[] = [
  { name: 'uzmanposta_records_written', help: `Records written ${RUN}`, value: (s) => s.metrics.recordsWritten },
  { name: 'uzmanposta_records_per_second', help: `Records written per second ${RUN}`, value: (s) => s.metrics.recordsPerSecond },
  { name: 'uzmanposta_windows_committed', help: `Time windows committed ${RUN}`, value: (s) => s.metrics.windowsCommitted },
  { name: 'uzmanposta_api_calls', help: `API requests made ${RUN}`, value: (s) => s.metrics.apiCalls },
  { name: 'uzmanposta_api_errors', help: `API requests that failed ${RUN}`, value: (s) => s.metrics.apiErrors },
  { name: 'uzmanposta_api_rate_limited', help: `API answers 429 ${RUN}`, value: (s) => s.metrics.http429 },
  { name: 'uzmanposta_api_retries', help: `API request retries ${RUN}`, value: (s) => s.metrics.retries },
  { name: 'uzmanposta_api_response_avg_seconds', help: `Average API response time in seconds ${RUN}`, value: (s) => seconds(s.metrics.apiTimeAvgMs) },
  { name: 'uzmanposta_api_response_p95_seconds', help: `95th percentile API response time in seconds ${RUN}`, value: (s) => seconds(s.metrics.apiTimeP95Ms) },
  { name: 'uzmanposta_api_response_max_seconds', help: `Slowest API response in seconds ${RUN}`, value: (s) => seconds(s.metrics.apiTimeMaxMs) },
  { name: 'uzmanposta_details_failed', help: `Mail records written as summaries after detail failures ${RUN}`, value: (s) => s.metrics.detailsFailed },
  { name: 'uzmanposta_details_missing', help: `Mail records the API has no detail for (404), written as summaries ${RUN}`, value: (s) => s.metrics.detailsMissing },
  { name: 'uzmanposta_truncated_windows', help: `Overfull one-second windows (records missing) ${RUN}`, value: (s) => s.metrics.truncatedWindows },
  { name: 'uzmanposta_records_without_time', help: `Records without a usable event time ${RUN}`, value: (s) => s.metrics.recordsWithoutTime },
  { name: 'uzmanposta_records_out_of_range', help: `Listed records outside the requested time range, not written ${RUN}`, value: (s) => s.metrics.recordsOutOfRange },
  { name: 'uzmanposta_data_files_deleted', help: `Old data files deleted by data_retention_days ${RUN}`, value: (s) => s.metrics.dataFilesDeleted },
  { name: 'uzmanposta_gap_seconds', help: `Seconds of data given up (gaps logged) ${RUN}`, value: (s) => s.metrics.gapSeconds },
  { name: 'uzmanposta_position_seconds', help: 'Unix time up to which the section is written now', value: (s) => s.metrics.position },
  // Taken when the file is written, not when the worker last posted its figures.
  { name: 'uzmanposta_lag_seconds', help: 'How far the position is behind the time the file was written, in seconds', value: (s, now) => (s.metrics.position === null ? null : Math.max(0, Math.floor(now) - s.metrics.position)) },
  { name: 'uzmanposta_run_seconds', help: 'How long the section has run in the current run, or ran in the last one', value: (s) => s.metrics.elapsedSeconds },
  { name: 'uzmanposta_section_failed', help: '1 when the section failed in the last run, else 0', value: (s) => (s.status === 'failed' ? 1 : 0) },
  { name: 'uzmanposta_lock_holder_stale', help: '1 when the last run skipped the section because a live process has held its lock for long with a stale heartbeat, else 0', value: (s) => (s.staleHolder ? 1 : 0) },
];

function seconds(ms: number): number {
  return ms / 1000;
}

// Every figure is a gauge: the file describes the last run, and a counter
// would be read as monotonic across runs, which these are not.
export function renderPrometheus(states: SectionState[], nowSeconds = Date.now() / 1000, kept: ReadonlyMap<string, readonly string[]> = new Map()): string {
  const lines: string[] = [];
  for (const f of FAMILIES) {
    lines.push(`# HELP ${f.name} ${help(f.help)}`, `# TYPE ${f.name} gauge`);
    for (const s of states) {
      const v = f.value(s, nowSeconds);
      if (v === null) continue;
      lines.push(`${f.name}{${labels(s.config)}} ${value(v)}`);
    }
    lines.push(...(kept.get(f.name) ?? []));
  }
  lines.push('# HELP uzmanposta_last_run_timestamp_seconds When this file was written (Unix time): during a run, its latest heartbeat; after it, its end', '# TYPE uzmanposta_last_run_timestamp_seconds gauge');
  lines.push(`uzmanposta_last_run_timestamp_seconds ${Math.floor(nowSeconds)}`);
  // One series per status, 1 for the section's current one: an alert can test `== 1` without absent().
  lines.push('# HELP uzmanposta_section_status Where the section stands when this file was written: 1 for its status, 0 for the others', '# TYPE uzmanposta_section_status gauge');
  for (const s of states) for (const st of SECTION_STATUSES) lines.push(`uzmanposta_section_status{${labels(s.config)},status="${st}"} ${s.status === st ? 1 : 0}`);
  lines.push(...(kept.get('uzmanposta_section_status') ?? []));
  return lines.join('\n') + '\n';
}

/**
 * The sample lines of `file` (as this module wrote it) that belong to sections
 * other than `running`, by family: a `--section X` run must not make every
 * other section's series vanish from a shared file until the next `--all` run.
 */
function otherSectionsSeries(file: string, running: ReadonlySet<string>): Map<string, string[]> {
  const kept = new Map<string, string[]>();
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return kept; // no file yet (or unreadable: it is about to be replaced)
  }
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)\{section="((?:[^"\\]|\\.)*)"/.exec(line);
    if (!m || running.has(unescapeLabel(m[2]!))) continue;
    kept.set(m[1]!, [...(kept.get(m[1]!) ?? []), line]);
  }
  return kept;
}

function unescapeLabel(v: string): string {
  return v.replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

/** Writes every configured metrics_file with the sections that name it. */
export function writeMetricsFiles(
  sections: SectionConfig[],
  states: ReadonlyMap<string, SectionState>,
  warn: (message: string) => void,
): void {
  const byFile = new Map<string, SectionState[]>();
  for (const cfg of sections) {
    const st = states.get(cfg.section);
    if (!cfg.metricsFile || !st) continue;
    byFile.set(cfg.metricsFile, [...(byFile.get(cfg.metricsFile) ?? []), st]);
  }
  for (const [file, list] of byFile) {
    try {
      // Rewritten with every round of heartbeats: a lost last version is harmless.
      // node_exporter runs as its own user and must read the file whatever the
      // collector's umask (systemd's UMask=0027 would make it 0640); it holds
      // no personal data, only counts and section names.
      const kept = otherSectionsSeries(file, new Set(list.map((st) => st.config.section)));
      writeFileAtomicDurable(file, renderPrometheus(list, Date.now() / 1000, kept), { mode: 0o644, exactMode: true, durable: false });
    } catch (err) {
      warn(`could not write metrics_file ${file}: ${(err as Error).message}`);
    }
  }
}

function labels(cfg: SectionConfig): string {
  return [`section="${esc(cfg.section)}"`, `domain="${esc(cfg.domain)}"`, `category="${esc(cfg.category)}"`, `type="${esc(cfg.type)}"`].join(',');
}

// Label values escape backslash, double quote and newline (exposition format).
function esc(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

// HELP text escapes backslash and newline only.
function help(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

// The format spells infinities +Inf and -Inf; JavaScript would print "Infinity".
function value(v: number): string {
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}
