// Recovery of a commit record left by version 1 of the commit protocol,
// `<positionFile>.pending`: it lists the data files a window was appending to
// and their sizes before, but not the bytes, so the only safe way back is to
// cut them to those sizes and fetch the window again. Current runs write a
// journal instead and roll forward (window-commit.ts); this is kept so that a
// record left by an older release when it was killed is still honoured once.

import fs from 'node:fs';
import path from 'node:path';
import { StateCorruptError, WriteError } from '../common/errors.js';
import { errnoCode, removeDurable, truncateDurable } from './durable-fs.js';
import { readPosition } from './position-store.js';
import { commitRecordProblem, isWholeNumber } from './json-shape.js';
import { isPlainObject } from '../common/plain-object.js';

export interface PendingFile {
  path: string;
  /** Size in bytes before the window; 0 when the file did not exist. */
  size: number;
  existed: boolean;
  /** Bytes the window appends; lets recovery tell a finished append from a partial one. */
  appendBytes?: number;
}

export interface PendingRecord {
  version: 1;
  section: string;
  fromPosition: number | null;
  toPosition: number;
  files: PendingFile[];
  createdAt: string;
  /**
   * The position file's value when the window began (null: no file). Callers
   * pass the window start as fromPosition, which need not be what the file held.
   */
  positionBefore?: number | null;
}

export interface LegacyRecoveryOutcome {
  action: 'none' | 'completed' | 'rolled-back';
  files: { path: string; truncatedFrom?: number; truncatedTo: number }[];
}

export function pendingFileFor(positionFile: string): string {
  return `${positionFile}.pending`;
}

/**
 * Finishes or undoes a version-1 commit interrupted by a crash, and clears the
 * temp files of interrupted atomic writes beside the position file. Call
 * before the journal is recovered. 'rolled-back' means the window must be
 * fetched again.
 */
export function recoverLegacyPendingCommit(positionFile: string, section: string): LegacyRecoveryOutcome {
  const pendingFile = pendingFileFor(positionFile);
  let text: string;
  try {
    text = fs.readFileSync(pendingFile, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') {
      removeTempFiles(positionFile, section);
      return { action: 'none', files: [] };
    }
    throw corrupt(pendingFile, positionFile, section, `cannot be read (${errnoCode(err) ?? String(err)})`);
  }
  removeTempFiles(positionFile, section);
  const record = parsePendingRecord(text, pendingFile, positionFile, section);
  const position = readPosition(positionFile, section) ?? null;

  if (isCommitted(record, position, section)) {
    removePending(pendingFile, section);
    return { action: 'completed', files: [] };
  }

  const files: LegacyRecoveryOutcome['files'] = [];
  for (const f of record.files) files.push(rollBack(f, section));
  // Only after every file is cut back: a crash before this point repeats the rollback, which is idempotent.
  removePending(pendingFile, section);
  return { action: 'rolled-back', files };
}

/**
 * A kill during an atomic write leaves write-file-atomic's temp file
 * (`<target>.<decimal>`) beside the position file; the section lock makes sure
 * no write of ours is in flight, so they are litter.
 */
function removeTempFiles(positionFile: string, section: string): void {
  const dir = path.dirname(positionFile);
  const base = path.basename(positionFile);
  const temp = new RegExp(`^${escapeRegExp(base)}(\\.pending|\\.journal)?\\.[0-9]{1,10}$`);
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return;
    throw writeError(`cannot list ${dir} to clear temporary files`, dir, section, err);
  }
  for (const name of names) {
    if (!temp.test(name)) continue;
    const file = path.join(dir, name);
    try {
      fs.unlinkSync(file);
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw writeError(`cannot remove the temporary file ${file}`, file, section, err);
    }
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function isCommitted(record: PendingRecord, position: number | null, section: string): boolean {
  if (position !== record.toPosition) return false;
  const before = record.positionBefore !== undefined ? record.positionBefore : record.fromPosition;
  if (before !== record.toPosition) return true;
  // The window did not move the position, so the position cannot say whether
  // it finished; the files can: all appended in full, or roll back.
  return record.files.every((f) => f.appendBytes !== undefined && currentSize(f.path, section) === f.size + f.appendBytes);
}

function rollBack(f: PendingFile, section: string): LegacyRecoveryOutcome['files'][number] {
  const size = currentSize(f.path, section);
  if (size === undefined) return { path: f.path, truncatedTo: 0 };
  try {
    if (!f.existed) {
      removeDurable(f.path);
      return { path: f.path, truncatedFrom: size, truncatedTo: 0 };
    }
    // Shorter than recorded: none of the window's bytes (all past `f.size`) remain.
    if (size <= f.size) return { path: f.path, truncatedTo: size };
    truncateDurable(f.path, f.size);
    return { path: f.path, truncatedFrom: size, truncatedTo: f.size };
  } catch (err) {
    throw writeError(`cannot roll back ${f.path} to ${f.existed ? `${f.size} bytes` : 'its absence'}`, f.path, section, err);
  }
}

function currentSize(file: string, section: string): number | undefined {
  try {
    return fs.statSync(file).size;
  } catch (err) {
    // ENOTDIR: a parent is now a plain file, so this file cannot exist.
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return undefined;
    throw writeError(`cannot inspect ${file} to finish an interrupted commit`, file, section, err);
  }
}

function removePending(pendingFile: string, section: string): void {
  try {
    removeDurable(pendingFile);
  } catch (err) {
    throw writeError(`cannot remove the pending commit record ${pendingFile}`, pendingFile, section, err);
  }
}

function parsePendingRecord(text: string, pendingFile: string, positionFile: string, section: string): PendingRecord {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw corrupt(pendingFile, positionFile, section, `is not valid JSON (${(err as Error).message})`);
  }
  const problem = pendingRecordProblem(value);
  if (problem) throw corrupt(pendingFile, positionFile, section, `is not a pending commit record: ${problem}`);
  return value as PendingRecord;
}

function pendingRecordProblem(v: unknown): string | undefined {
  if (!isPlainObject(v)) return 'expected a JSON object';
  if (v.version !== 1) return `unknown version ${JSON.stringify(v.version)} (expected 1)`;
  if (v.positionBefore !== undefined && v.positionBefore !== null && !isWholeNumber(v.positionBefore)) {
    return 'field "positionBefore" is not a whole number or null';
  }
  return commitRecordProblem(v, 'optional');
}

function corrupt(pendingFile: string, positionFile: string, section: string, what: string): StateCorruptError {
  return new StateCorruptError(
    `pending commit record ${pendingFile} of section ${section} ${what}. It lists the data files an unfinished window ` +
      'was appending to and their sizes before it. Inspect it: to roll back by hand truncate each listed file to its ' +
      '"size" (delete those with "existed": false), or delete the data written after the time in ' +
      `${positionFile} from this section's files; then delete ${pendingFile}. ` +
      'To resume from a known time instead, write that Unix time into the position file and delete the record.',
    { section, path: pendingFile, positionFile },
  );
}

function writeError(message: string, file: string, section: string, err: unknown): WriteError {
  const code = errnoCode(err);
  return new WriteError(`${message} (section ${section}: ${code ?? String(err)})`, { section, path: file, errno: code }, { cause: err });
}
