// Data retention (`data_retention_days`): the data files hold personal data
// (addresses, subjects, IPs) that GDPR/KVKK says not to keep longer than
// needed. At the start of a run the worker deletes the section's own data
// files whose period ended long enough ago. Rules:
// - Only names the section's data format produces, in its output directory:
//   never logs, heartbeats, another section's files or anything else.
// - A file's period is the span its name stands for: an hour for %H, a day
//   for %d or %j, and so on (longest month or year where the format stops
//   there), so a file is never taken for older than it is.
// - Only periods that ended before now − N days AND at or before the
//   section's position: a file the run may still append to (the current
//   hour; with file_time = event, any hour from the position on) stays.
// Compressing finished files is not offered: agents that tail by name and
// inode (Filebeat, Wazuh) would read a file that changes under them.

import fs from 'node:fs';
import path from 'node:path';
import { hasDateTokens, strftimeParse } from '../config/strftime.js';

export interface DataRetentionResult {
  deleted: string[];
  failed: { path: string; message: string }[];
  /** Why nothing was considered. */
  note?: string;
}

const DAY_MS = 86_400_000;

/** The longest span, in ms, one name of `format` can stand for. */
export function periodMs(format: string): number {
  const f = format.replace(/%%/g, '');
  if (f.includes('%S')) return 1000;
  if (f.includes('%M')) return 60_000;
  if (f.includes('%H')) return 3_600_000;
  if (f.includes('%d') || f.includes('%j')) return DAY_MS;
  if (f.includes('%m')) return 31 * DAY_MS;
  return 366 * DAY_MS;
}

export function applyDataRetention(opts: {
  dir: string;
  /** The section's data file name format, placeholders already filled in. */
  format: string;
  days: number;
  nowMs: number;
  /** The section's position (Unix seconds), or null before its first commit. */
  position: number | null;
}): DataRetentionResult {
  const result: DataRetentionResult = { deleted: [], failed: [] };
  if (opts.days <= 0) return result;
  if (!hasDateTokens(opts.format) || opts.format.includes('/') || opts.format.includes(path.sep)) {
    return { ...result, note: `data retention skipped for "${opts.format}": only plain file names with date tokens can be aged` };
  }
  // Nothing before the first commit can be known to be finished.
  if (opts.position === null) return result;
  const cutoff = Math.min(opts.nowMs - opts.days * DAY_MS, opts.position * 1000);
  const span = periodMs(opts.format);
  let names: string[];
  try {
    names = fs.readdirSync(opts.dir);
  } catch {
    return { ...result, note: `data retention skipped: ${opts.dir} cannot be read yet` };
  }
  for (const name of names.sort()) {
    const start = strftimeParse(opts.format, name);
    if (start === null || start + span > cutoff) continue;
    const full = path.join(opts.dir, name);
    try {
      if (!fs.lstatSync(full).isFile()) continue;
      fs.unlinkSync(full);
      result.deleted.push(full);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') result.failed.push({ path: full, message: (err as Error).message });
    }
  }
  return result;
}
