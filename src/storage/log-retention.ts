// Keeps the collector's own message and error logs from filling the disk, as
// the Python tool's message/error_log_retention_count did. Only names the
// configured strftime format can produce are candidates, so data files, the
// operator's backups and compressed copies (`errors_…log.gz`) are never touched.
//
// Rules:
// - Files are ordered newest first by the time encoded in their name (mtime
//   breaks ties, e.g. a format with only %Y-%m-%d), and the newest `keep` stay.
// - The file the format names for the current hour (`now`) is never deleted,
//   whatever `keep` says: the section is about to append to it. So `keep = 0`
//   deletes every older file but leaves the current one.
// - A format without date tokens names a single file forever; there is nothing
//   to rotate, so retention is disabled and the result says so in `note`.

import fs from 'node:fs';
import path from 'node:path';
import { WriteError } from '../common/errors.js';
import { hasDateTokens, strftime, strftimeParse, strftimeToRegExp } from '../config/strftime.js';

export interface RetentionResult {
  /** Absolute paths removed. */
  deleted: string[];
  /** Absolute paths of matching files left in place, newest first. */
  kept: string[];
  /** Why nothing was considered (retention disabled, directory missing). */
  note?: string;
  /** Files that matched and were due for deletion but could not be removed. */
  failed?: Array<{ path: string; code?: string; message: string }>;
}

export interface RetentionOptions {
  /** The moment whose file is protected; default: now. */
  now?: Date;
  /**
   * strftime formats of files that are never deleted even when their names
   * match (the section's data files): validation refuses log names that
   * overlap them, and this keeps retention safe even so.
   */
  protect?: readonly string[];
}

export function applyRetention(
  dir: string,
  fileNameFormat: string,
  keep: number,
  options: RetentionOptions = {},
): RetentionResult {
  // The config validator guarantees this; a bad value here is a programming error.
  if (!Number.isInteger(keep) || keep < 0) {
    throw new RangeError(`retention count must be a non-negative integer, got ${String(keep)}`);
  }
  if (!hasDateTokens(fileNameFormat)) {
    return {
      deleted: [],
      kept: [],
      note: `retention disabled for "${fileNameFormat}": the name has no date tokens (%Y %m %d %H %M %S %j %y), so there is only one file and nothing to rotate`,
    };
  }
  if (fileNameFormat.includes('/') || fileNameFormat.includes(path.sep)) {
    return {
      deleted: [],
      kept: [],
      note: `retention disabled for "${fileNameFormat}": only plain file names (no directories) are cleaned up`,
    };
  }

  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch (err) {
    // A section that never ran has no directory yet: nothing to clean.
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      return { deleted: [], kept: [], note: `retention skipped: ${dir} does not exist yet` };
    }
    // Otherwise the section's output directory is unusable (e.g. ENOTDIR: part of
    // its path is a file); say which, rather than surface a bare errno as a crash.
    const why = code === 'ENOTDIR' ? 'part of that path is a file, not a directory' : (err as Error).message;
    throw new WriteError(
      `output directory ${dir} cannot be used (${code ?? 'error'}: ${why}); check log_directory and the permissions along its path`,
      { path: dir, errno: code },
      { cause: err },
    );
  }

  const current = strftime(fileNameFormat, options.now ?? new Date());
  const protectedNames = (options.protect ?? []).map((f) => strftimeToRegExp(f));
  const candidates: Array<{ name: string; time: number; mtime: number }> = [];
  for (const entry of entries) {
    // Symlinks and directories are never ours to delete, even with a matching name.
    if (!entry.isFile()) continue;
    const time = strftimeParse(fileNameFormat, entry.name);
    if (time === null || protectedNames.some((p) => p.test(entry.name))) continue;
    let mtime = 0;
    try {
      mtime = fs.lstatSync(path.join(dir, entry.name)).mtimeMs;
    } catch (err) {
      // Removed between readdir and stat (another run's retention): already gone.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    candidates.push({ name: entry.name, time, mtime });
  }
  candidates.sort((a, b) => b.time - a.time || b.mtime - a.mtime || (a.name < b.name ? 1 : a.name > b.name ? -1 : 0));

  const result: RetentionResult = { deleted: [], kept: [] };
  candidates.forEach((c, index) => {
    const full = path.join(dir, c.name);
    if (index < keep || c.name === current) {
      result.kept.push(full);
      return;
    }
    try {
      fs.unlinkSync(full);
      result.deleted.push(full);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'ENOENT') return;
      (result.failed ??= []).push({ path: full, code: e.code, message: e.message });
    }
  });
  return result;
}
