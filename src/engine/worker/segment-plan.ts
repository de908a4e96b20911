// Planning a run's segments: the stretches of time that each move one
// position file. A cron run is one segment on the section's position file; a
// backfill (--start-time) may add one on a position file of its own.

import { PositionAheadError } from '../../common/errors.js';
import { readPosition, writePosition } from '../../storage/position-store.js';
import { recoverPendingCommit, type CommitHooks, type RecoveryOutcome } from '../../storage/window-commit.js';
import type { SectionConfig } from '../../config/section-config.js';
import type { SectionLog } from '../../storage/section-log.js';
import type { MetricsRecorder } from '../shared/section-metrics.js';
import type { RunRange } from '../shared/worker-protocol.js';
import { capQuarantineStart, type Window } from './window-plan.js';

export interface Segment {
  from: number;
  to: number;
  /**
   * now − end_delay on this host's clock when the run was planned. A run
   * ends no later than this less how far this host's clock is ahead of the
   * API's (segment-run.ts, docs/api.md, "Clock").
   */
  nowLimit?: number;
  positionFile: string;
  label: string;
  /** Runs before the segment's first window. */
  before?: () => void;
}

/** A backfill file holding this has merged into the cron stream (see planSegments). */
const BACKFILL_MERGED = 9_999_999_999;

/**
 * Splits the run into the stretches that each move one position file.
 * Cron run: saved position (or start_time) → now − end_delay, on the section's
 * position file. Backfill (--start-time): the part before the cron position
 * moves a position file of its own, so it is resumable and never moves the
 * cron position backwards; the part at or after the cron position continues
 * the cron stream itself.
 *
 * Finishes interrupted commits of both position files first, and sets
 * `metrics.position` to the cron position it starts from.
 */
export async function planSegments(
  cfg: SectionConfig,
  range: RunRange,
  now: number,
  log: SectionLog,
  metrics: MetricsRecorder,
  hooks?: CommitHooks,
): Promise<Segment[]> {
  noteRecovery(await recoverPendingCommit(cfg.positionFile, cfg.section, hooks), cfg.positionFile, log);
  const cronPos = readPosition(cfg.positionFile, cfg.section);
  metrics.position = cronPos ?? null;
  // No run, cron or backfill, reaches past now − end_delay: records indexed
  // late would be skipped for good, and a position in the future would stop
  // every later run (docs/decisions.md, "Never past now minus end_delay").
  const limit = now - cfg.endDelay;
  const ahead = cronPos === undefined ? undefined : positionAhead(cfg, cfg.positionFile, cronPos, now);
  if (ahead) throw ahead;
  let to = range.to ?? limit;
  if (to > limit) {
    log.info(`--end-time ${to} is after now − end_delay (${limit}, end_delay = ${cfg.endDelay} s): this run ends at ${limit}; the next run goes on from there`);
    to = limit;
  }
  const segments: Segment[] = [];

  if (range.from === undefined) {
    segments.push({ from: cronPos ?? cfg.startTime, to, positionFile: cfg.positionFile, label: 'cron' });
  } else {
    // A backfill keeps its progress in a file of its own, so that running the
    // same command again resumes it. Once it reaches the cron position it
    // merges into the cron stream: the rest of the range moves the cron
    // position, and the backfill file records the merge, so a rerun neither
    // fetches again what the cron stream holds nor moves it backwards.
    const backfillFile = `${cfg.positionFile}.backfill-${range.from}-${range.to ?? 'now'}`;
    noteRecovery(await recoverPendingCommit(backfillFile, cfg.section, hooks), backfillFile, log);
    const backfillPos = readPosition(backfillFile, cfg.section) ?? range.from;
    const backfillAhead = backfillPos === BACKFILL_MERGED ? undefined : positionAhead(cfg, backfillFile, backfillPos, now);
    if (backfillAhead) throw backfillAhead;
    const merge = (): void => writePosition(backfillFile, BACKFILL_MERGED, cfg.section);
    if (cronPos === undefined) {
      segments.push({ from: range.from, to, positionFile: cfg.positionFile, label: 'backfill (starts the cron stream)', before: merge });
    } else {
      if (backfillPos < Math.min(to, cronPos)) {
        segments.push({ from: backfillPos, to: Math.min(to, cronPos), positionFile: backfillFile, label: 'backfill' });
      }
      if (cronPos < to) {
        if (cronPos < range.from) {
          log.info(
            `the cron position ${cronPos} is before the backfill start ${range.from}: continuing the cron stream ` +
              `from ${cronPos} instead, as fetching [${range.from}, ${to}) alone would have the next cron run fetch it again`,
          );
        }
        segments.push({ from: cronPos, to, positionFile: cfg.positionFile, label: 'backfill (continues the cron stream)', before: merge });
      } else if (backfillPos >= Math.min(to, cronPos)) {
        log.info(`backfill ${range.from}–${to} is already complete (${backfillFile})`);
      }
    }
  }

  if (cfg.category === 'quarantine') {
    for (const seg of segments) {
      const capped = capQuarantineStart(seg.from, now);
      if (capped.skipped) {
        recordGap(log, metrics, capped.skipped, 'quarantine records older than 7 days cannot be fetched (API returns 406); start capped at now − 6 days');
        seg.from = Math.min(capped.start, seg.to);
      }
    }
  }
  for (const seg of segments) seg.nowLimit = limit;
  return segments.filter((s) => s.from < s.to);
}

function noteRecovery(outcome: RecoveryOutcome, file: string, log: SectionLog): void {
  for (const f of outcome.files) {
    // Bytes that did not match, or a file something else cut: a human should look (docs/architecture.md, "Commit protocol").
    if (f.problem) log.error({ error: `while completing an interrupted window: ${f.problem}`, code: 'UZP_DATA_REPAIRED', path: f.path, rewritten: f.rewritten, blanked: f.blanked });
  }
  const grown = outcome.files.filter((f) => f.appended > 0).map((f) => `${f.path} +${f.appended} bytes`);
  switch (outcome.action) {
    case 'rolled-forward':
      log.warn(
        `an interrupted window was rolled forward from its journal (${outcome.journal ?? file}): ` +
          (grown.length ? grown.join(', ') : 'its data files were already complete') +
          `; position set to ${String(outcome.toPosition)}`,
      );
      break;
    case 'completed':
      if (grown.length) log.warn(`a committed window's data files were completed from its journal (${outcome.journal ?? file}): ${grown.join(', ')}`);
      else log.info(`cleared the journal of a committed window (${outcome.journal ?? file})`);
      if (outcome.positionKept !== undefined) {
        log.warn(`the position file ${file} holds ${String(outcome.positionKept)}, not the end of the journal's window (${String(outcome.toPosition)}): it was changed by hand, so it is kept`);
      }
      break;
    case 'rolled-back':
      log.warn(
        `an interrupted window of an older release was rolled back (${file}.pending): ` +
          (outcome.truncated ?? [])
            .filter((f) => f.truncatedFrom !== undefined)
            .map((f) => `${f.path} cut from ${String(f.truncatedFrom)} to ${f.truncatedTo} bytes`)
            .join(', ') +
          '; it will be fetched again',
      );
      break;
    case 'none':
      break;
    default: {
      const never: never = outcome.action;
      throw new Error(`unknown recovery ${String(never)}`);
    }
  }
}

function recordGap(log: SectionLog, metrics: MetricsRecorder, gap: Window, reason: string): void {
  metrics.counts.gaps++;
  metrics.counts.gapSeconds += gap.end - gap.start;
  log.error({
    error: `gap: records from ${gap.start} to ${gap.end} were not fetched: ${reason}`,
    code: 'UZP_GAP',
    errorClass: 'Gap',
    gap: true,
    from: gap.start,
    to: gap.end,
    reason,
  });
}

/**
 * The error a position after now − end_delay is, or undefined for a position
 * a run may start from. Runs, --check and --list judge it the same way.
 */
export function positionAhead(cfg: SectionConfig, file: string, position: number, now: number): PositionAheadError | undefined {
  const limit = now - cfg.endDelay;
  if (position <= limit) return undefined;
  const iso = (t: number): string => new Date(t * 1000).toISOString();
  return new PositionAheadError(
    `section ${cfg.section}: the position file ${file} holds ${position} (${iso(position)}), after now − end_delay ` +
      `(${limit}, ${iso(limit)}); running on would skip the records in between for good. Check this host's clock ` +
      `(timedatectl, NTP) and whether the file was restored from a backup or edited; to collect again from a time, ` +
      `write that Unix time into the file`,
    { section: cfg.section, path: file, position, limit },
  );
}
