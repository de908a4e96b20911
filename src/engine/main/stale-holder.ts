// A section skipped because another process holds its lock is normal while
// that process collects it. It is not when the holder has held the lock for
// long and its heartbeat, which a live run rewrites every few seconds, has
// gone quiet: a process hung on something (a stuck NFS mount, a debugger,
// SIGSTOP) blocks the section for good while every cron run exits 0. The
// lock is still not broken — the process is alive — but the skip is warned
// about on stderr and flagged in the metrics file
// (docs/decisions.md, "Locks broken only when provably dead").

import fs from 'node:fs';
import type { LockHeldError } from '../../common/errors.js';
import type { SectionConfig } from '../../config/section-config.js';

/** How long a lock is held, and its heartbeat silent, before the skip is worth a warning. */
export const STALE_HOLDER_AFTER_MS = 10 * 60 * 1000;

/**
 * The warning for a skip whose holder looks hung, or undefined for an
 * ordinary skip. Both times come from processes on this host (the lock's
 * `startedAt`, the heartbeat's `last_heartbeat`), compared with this
 * process's clock: never a file's mtime.
 */
export function staleHolderWarning(cfg: SectionConfig, err: LockHeldError, nowMs: number = Date.now(), afterMs: number = STALE_HOLDER_AFTER_MS): string | undefined {
  const { pid, since } = err.context as { pid?: unknown; since?: unknown };
  if (typeof pid !== 'number' || typeof since !== 'string') return undefined;
  const sinceMs = Date.parse(since);
  if (!Number.isFinite(sinceMs) || nowMs - sinceMs < afterMs) return undefined;
  let beat: { pid?: unknown; last_heartbeat?: unknown } | undefined;
  try {
    beat = JSON.parse(fs.readFileSync(cfg.heartbeatFile, 'utf8')) as { pid?: unknown; last_heartbeat?: unknown };
  } catch {
    beat = undefined; // none, or unreadable: no sign of life either
  }
  const beatMs = beat && beat.pid === pid && typeof beat.last_heartbeat === 'string' ? Date.parse(beat.last_heartbeat) : NaN;
  if (Number.isFinite(beatMs) && nowMs - beatMs < afterMs) return undefined;
  const minutes = (ms: number): string => `${Math.floor(ms / 60_000)} min`;
  const quiet = Number.isFinite(beatMs) ? `its last heartbeat (${cfg.heartbeatFile}) is ${minutes(nowMs - beatMs)} old` : `it has written no heartbeat (${cfg.heartbeatFile})`;
  return (
    `section ${cfg.section} skipped again: process ${pid} has held its lock for ${minutes(nowMs - sinceMs)} and ${quiet}. ` +
    `It may be hung: check it (ps -o stat,etime,cmd -p ${pid}); once it is stopped the next run takes the lock over`
  );
}
