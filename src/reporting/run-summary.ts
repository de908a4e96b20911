// The end-of-run summary: per section and in total, on stdout and in each
// section's message log.

import { END_STATUSES, type SectionEndStatus } from '../engine/shared/section-status.js';
import type { SectionResult } from '../engine/shared/worker-protocol.js';

export interface RunTotals extends Record<SectionEndStatus, number> {
  sections: number;
  records: number;
  apiCalls: number;
  apiErrors: number;
  seconds: number;
}

export function totals(results: SectionResult[], seconds: number): RunTotals {
  const t: RunTotals = { sections: results.length, completed: 0, failed: 0, stopped: 0, skipped: 0, records: 0, apiCalls: 0, apiErrors: 0, seconds };
  for (const r of results) {
    t[r.status]++;
    t.records += r.metrics.recordsWritten;
    t.apiCalls += r.metrics.apiCalls;
    t.apiErrors += r.metrics.apiErrors;
  }
  return t;
}

/** "1 record", "2 records": the summary is read by people first. */
function count(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

export function sectionLine(r: SectionResult): string {
  const m = r.metrics;
  const rate = m.apiCalls ? ((100 * (m.apiCalls - m.apiErrors)) / m.apiCalls).toFixed(1) : '100.0';
  const parts = [
    `${r.section}: ${r.status}`,
    count(m.recordsWritten, 'record'),
    `${count(m.apiCalls, 'API call')} (${rate}% ok, ${m.http429} rate-limited, ${count(m.retries, 'retry', 'retries')})`,
    `API time avg/min/max/p95 ${m.apiTimeAvgMs}/${m.apiTimeMinMs}/${m.apiTimeMaxMs}/${m.apiTimeP95Ms} ms`,
    `${m.recordsPerSecond} records/s`,
    `position ${m.position ?? '-'}${m.lagSeconds === null ? '' : ` (${m.lagSeconds} s behind)`}`,
  ];
  const notes: string[] = [];
  if (m.detailsMissing) notes.push(`${m.detailsMissing} without detail (404)`);
  if (m.detailsFailed) notes.push(`${m.detailsFailed} detail failures written as summaries`);
  if (m.recordsWithoutTime) notes.push(`${m.recordsWithoutTime} without event time`);
  if (m.recordsOutOfRange) notes.push(`${m.recordsOutOfRange} outside the requested range, not written`);
  if (m.truncatedWindows) notes.push(`${m.truncatedWindows} overfull seconds (records missing)`);
  if (m.gaps) notes.push(`${count(m.gaps, 'gap')} (${m.gapSeconds} s not fetched)`);
  if (m.dataFilesDeleted) notes.push(`${count(m.dataFilesDeleted, 'old data file')} deleted (data_retention_days)`);
  if (notes.length) parts.push(notes.join(', '));
  if (r.error) parts.push(`error ${r.error.code}: ${r.error.message}`);
  return parts.join(' | ');
}

export interface SummaryRange {
  /** --start-time of a backfill; undefined for a cron run. */
  startTime?: number | undefined;
  endTime?: number | undefined;
}

export function formatSummary(results: SectionResult[], seconds: number, range: SummaryRange = {}): string {
  const t = totals(results, seconds);
  const backfill = range.startTime !== undefined;
  const iso = (u: number): string => new Date(u * 1000).toISOString();
  const lines = [
    backfill
      ? `Summary of the backfill from ${range.startTime} (${iso(range.startTime!)}) to ${range.endTime === undefined ? 'now − end_delay' : `${range.endTime} (${iso(range.endTime)})`}:`
      : 'Summary:',
  ];
  for (const r of results) {
    // A rerun of a finished backfill asks for nothing: say why, or it reads as a silent failure.
    const nothing = backfill && r.status === 'completed' && r.metrics.apiCalls === 0 ? ' | nothing fetched: this range was already complete' : '';
    lines.push(`  ${sectionLine(r)}${nothing}`);
  }
  const ok = t.apiCalls ? ((100 * (t.apiCalls - t.apiErrors)) / t.apiCalls).toFixed(1) : '100.0';
  lines.push(
    `Total: ${count(t.sections, 'section')} (${END_STATUSES.map((s) => `${t[s]} ${s}`).join(', ')}), ` +
      `${count(t.records, 'record')}, ${count(t.apiCalls, 'API call')} (${ok}% ok), ${seconds.toFixed(1)} s, ` +
      `${seconds > 0 ? Math.round(t.records / seconds) : t.records} records/s`,
  );
  return lines.join('\n') + '\n';
}

/**
 * The run's outcome as one JSON document (`--json`), for scripts and
 * monitoring without Prometheus: the range asked for, every section's status,
 * metrics and error (code and message), and the totals.
 */
export function summaryJson(results: SectionResult[], seconds: number, range: { startTime?: number | undefined; endTime?: number | undefined }): string {
  const doc = {
    range: range.startTime === undefined ? { kind: 'cron' } : { kind: 'backfill', from: range.startTime, to: range.endTime ?? null },
    seconds,
    totals: totals(results, seconds),
    sections: results.map((r) => ({
      section: r.section,
      status: r.status,
      metrics: r.metrics,
      ...(r.error ? { error: { code: r.error.code, message: r.error.message } } : {}),
    })),
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}
