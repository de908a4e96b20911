// Appending a window's records and saving the position are two steps; a crash
// between them would duplicate (data kept, position old) or lose records. And
// an agent tails the data files while they change (Filebeat, Wazuh): a file
// that shrinks is read again from its start, so recovery must never cut one
// back. This module makes the two steps one logical commit that a restart
// always finishes forward, with a journal beside the position file,
// `<positionFile>.journal` (docs/architecture.md, "Commit protocol"):
//
//   1. the journal: the window's end, the position before it, each data file
//      about to grow with its size before, and the very bytes to append —
//      one atomic write (temp file, fsync, rename, directory fsync);
//   2. append to each data file and fsync it (the directory only when the
//      file is new);
//   3. replace the position file, without an fsync: while the journal is on
//      disk it, not the position file, is what a restart trusts;
//   4. at the end of the segment (WindowCommitter.seal): fsync the position
//      file, then remove the journal.
//
// A journal found at start is rolled forward: each file gets the rest of the
// window's bytes (the rest of a partly written line included), bytes that do
// not match the journal are rewritten in place, and the position is set to
// the window's end. Nothing is ever truncated.

import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { StateCorruptError, WriteError } from '../common/errors.js';
import { errnoCode, fsyncDirAsync, fsyncFileAsync, removeAsync, writeAtDurable, writeFileAtomicAsync } from './durable-fs.js';
import { recoverLegacyPendingCommit } from './legacy-pending-commit.js';
import { commitRecordProblem, isWholeNumber } from './json-shape.js';
import { isPlainObject } from '../common/plain-object.js';
import { readPosition, writePositionAsync } from './position-store.js';

export const JOURNAL_VERSION = 2;

export interface JournalFile {
  path: string;
  /** Size in bytes before the window; 0 when the file did not exist. */
  size: number;
  existed: boolean;
  /** Bytes the window appends to this file; they follow the header in file order. */
  appendBytes: number;
}

/** The journal's first line (JSON); the window's bytes follow it. */
export interface JournalHeader {
  version: 2;
  section: string;
  fromPosition: number | null;
  toPosition: number;
  /** The position file's value when the window began (null: no file). */
  positionBefore: number | null;
  files: JournalFile[];
  /** SHA-256 (hex) of the bytes after the header line. */
  sha256: string;
  createdAt: string;
}

/**
 * Test hooks; throwing from one simulates a crash at that point, and a promise
 * that never settles stops this section there without stopping the other
 * sections that share its worker thread.
 */
export interface CommitHooks {
  /** The journal is durable; nothing has been appended yet. */
  afterJournal?(files: readonly JournalFile[]): void | Promise<void>;
  afterAppend?(path: string): void | Promise<void>;
  afterPosition?(): void | Promise<void>;
  /**
   * Test only: how many more bytes the disk takes for a data write to `path`
   * (undefined: no limit). Lets a test run out of space without a small file
   * system of its own.
   */
  spaceFor?(path: string): number | undefined;
}

export interface WindowAppends {
  fromPosition: number | null;
  toPosition: number;
  /** Absolute file path → text to append (newline-terminated JSON lines). */
  appends: Map<string, string>;
}

export function journalFileFor(positionFile: string): string {
  return `${positionFile}.journal`;
}

/**
 * Commits the windows of one segment to one position file, in order. After
 * a failed commit it refuses further ones: the journal of the unfinished
 * window must be rolled forward by the next run first.
 */
export class WindowCommitter {
  private readonly journalFile: string;
  /** This committer's journal is on disk (its window complete, or in flight). */
  private journalOnDisk = false;
  /** The last commit failed part way: its journal stays for the next run. */
  private unfinished = false;
  /** The position file's value, once read. */
  private position: number | null | undefined;
  /** The position file was replaced without an fsync since the last seal. */
  private positionUnsynced = false;

  constructor(
    private readonly positionFile: string,
    private readonly section: string,
    private readonly hooks?: CommitHooks,
  ) {
    this.journalFile = journalFileFor(positionFile);
  }

  /**
   * Appends a window and moves the position as one crash-safe commit. An
   * empty `appends` still moves the position. On WriteError the position has
   * not moved; if the journal was written, the next run rolls it forward.
   */
  async commit(w: WindowAppends): Promise<void> {
    const { section } = this;
    if (!Number.isSafeInteger(w.toPosition) || w.toPosition < 0) {
      throw new RangeError(`toPosition must be a non-negative whole number of seconds, got ${w.toPosition} (section ${section})`);
    }
    if (this.unfinished) {
      throw new StateCorruptError(
        `section ${section}: an earlier window did not commit (its journal ${this.journalFile} is kept); ` +
          'run the section again so it is completed before another window is written',
        { section, path: this.journalFile },
      );
    }
    // Also refuses to append when the position file is corrupt.
    if (this.position === undefined) this.position = readPosition(this.positionFile, section) ?? null;

    const files: JournalFile[] = [];
    const bytes: Buffer[] = [];
    const seen = new Set<string>();
    for (const [rawPath, text] of w.appends) {
      // Nothing to write: a file with no bytes in the window has nothing to complete.
      if (text.length === 0) continue;
      const file = path.resolve(rawPath);
      if (seen.has(file)) throw new RangeError(`the same data file is listed twice in one window: ${file} (section ${section})`);
      seen.add(file);
      const buf = Buffer.from(text, 'utf8');
      files.push({ ...(await sizeBefore(file, section)), appendBytes: buf.length });
      bytes.push(buf);
    }

    if (files.length === 0) {
      // Nothing at stake: without a journal the position write is made durable
      // itself; with one, a lost write only makes the next run list empty windows again.
      await writePositionAsync(this.positionFile, w.toPosition, section, !this.journalOnDisk);
      this.positionUnsynced ||= this.journalOnDisk;
      this.position = w.toPosition;
      await this.hooks?.afterPosition?.();
      return;
    }

    const header: JournalHeader = {
      version: JOURNAL_VERSION,
      section,
      fromPosition: w.fromPosition,
      toPosition: w.toPosition,
      positionBefore: this.position,
      files,
      sha256: sha256(bytes),
      createdAt: new Date().toISOString(),
    };
    this.unfinished = true;
    try {
      await writeFileAtomicAsync(this.journalFile, Buffer.concat([Buffer.from(`${JSON.stringify(header)}\n`, 'utf8'), ...bytes]), { durable: true });
    } catch (err) {
      // Either the journal of the last window is still there (complete) or this one is (nothing appended yet): the next run finishes whichever it finds.
      throw writeError(`cannot write the commit journal ${this.journalFile}; nothing was appended to the data files`, this.journalFile, section, err);
    }
    this.journalOnDisk = true;
    await this.hooks?.afterJournal?.(files);

    for (const [i, f] of files.entries()) {
      const buf = bytes[i] as Buffer;
      try {
        await writeAtDurable(f.path, f.size, buf, { space: this.hooks?.spaceFor?.(f.path) });
      } catch (err) {
        throw writeError(
          `cannot append ${buf.length} bytes to the data file ${f.path}${describeErrno(err)}; the position did not advance. ` +
            `The window's bytes are kept in ${this.journalFile}: the next run completes the file from there (it never shrinks)`,
          f.path,
          section,
          err,
        );
      }
      await this.hooks?.afterAppend?.(f.path);
    }

    await writePositionAsync(this.positionFile, w.toPosition, section, false);
    this.positionUnsynced = true;
    this.position = w.toPosition;
    this.unfinished = false;
    await this.hooks?.afterPosition?.();
  }

  /**
   * Ends the segment's commits: the position is made durable and the journal
   * removed. After a failed commit the journal stays, for the next run.
   */
  async seal(): Promise<void> {
    if (this.unfinished) return;
    const dir = path.dirname(this.positionFile);
    try {
      if (this.positionUnsynced) {
        await fsyncFileAsync(this.positionFile);
        await fsyncDirAsync(dir);
        this.positionUnsynced = false;
      }
      // Only once the position is durable: until then the journal stands for it.
      if (this.journalOnDisk) {
        await removeAsync(this.journalFile, true);
        this.journalOnDisk = false;
      }
    } catch (err) {
      throw writeError(
        `the windows up to ${String(this.position)} are written but the position file ${this.positionFile} cannot be made durable or the journal ${this.journalFile} removed; the next run finishes this`,
        this.positionFile,
        this.section,
        err,
      );
    }
  }
}

/** What recovery did to one data file. */
export interface FileRecovery {
  path: string;
  /** Bytes of the window appended because the file ended before the window did. */
  appended: number;
  /** Bytes inside the window that did not match the journal and were rewritten in place. */
  rewritten: number;
  /** Zero bytes after the window's end (a power loss) turned into newlines. */
  blanked: number;
  /** Anything a human should know: a tail that did not match, a file that had gone. */
  problem?: string;
}

export interface RecoveryOutcome {
  /**
   * none: no journal. completed: the window had committed; the journal was
   * cleared (its files checked). rolled-forward: the window had not
   * committed; its files were completed and the position moved to its end.
   * rolled-back: a version-1 record of an older release was undone (its
   * window will be fetched again).
   */
  action: 'none' | 'completed' | 'rolled-forward' | 'rolled-back';
  journal?: string;
  toPosition?: number;
  files: FileRecovery[];
  /** The position file was kept although it did not say the window committed (edited by hand). */
  positionKept?: number | null;
  /** For 'rolled-back' (version 1): what was cut. */
  truncated?: { path: string; truncatedFrom?: number; truncatedTo: number }[];
}

/**
 * Finishes a commit interrupted by a crash, forward. Call before reading the
 * position at start. Idempotent: a crash during recovery is recovered again.
 */
export async function recoverPendingCommit(positionFile: string, section: string, hooks?: CommitHooks): Promise<RecoveryOutcome> {
  const legacy = recoverLegacyPendingCommit(positionFile, section);
  if (legacy.action !== 'none') {
    const truncated = legacy.files;
    // A version-1 record comes from an older release; no journal can follow it.
    return { action: legacy.action, files: [], truncated };
  }
  const journalFile = journalFileFor(positionFile);
  let raw: Buffer;
  try {
    raw = await fs.promises.readFile(journalFile);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return { action: 'none', files: [] };
    throw corrupt(journalFile, positionFile, section, `cannot be read (${errnoCode(err) ?? String(err)})`);
  }
  const { header, data } = parseJournal(raw, journalFile, positionFile, section);
  const position = readPositionLeniently(positionFile, section);

  const files: FileRecovery[] = [];
  let offset = 0;
  for (const f of header.files) {
    const bytes = data.subarray(offset, offset + f.appendBytes);
    offset += f.appendBytes;
    files.push(await completeFile(f, bytes, journalFile, section, hooks));
  }

  // Which position stands: the window's end, unless the file says a later
  // window committed (empty windows move it without a journal) or a human
  // set it to another time since.
  let action: RecoveryOutcome['action'] = 'completed';
  let positionKept: number | null | undefined;
  if (position === 'corrupt' || position === header.positionBefore || (position === null && header.positionBefore === null)) {
    await writePositionAsync(positionFile, header.toPosition, section, true);
    action = 'rolled-forward';
  } else if (position !== null && position < header.toPosition) {
    positionKept = position;
  } else if (position === null) {
    positionKept = null;
  }
  try {
    await removeAsync(journalFile, true);
  } catch (err) {
    throw writeError(`cannot remove the commit journal ${journalFile} after completing its window`, journalFile, section, err);
  }
  return {
    action,
    journal: journalFile,
    toPosition: header.toPosition,
    files,
    ...(positionKept === undefined ? {} : { positionKept }),
  };
}

/** The journal's header and the window's bytes, checked whole. */
export function parseJournal(raw: Buffer, journalFile: string, positionFile: string, section: string): { header: JournalHeader; data: Buffer } {
  const nl = raw.indexOf(0x0a);
  if (nl < 0) throw corrupt(journalFile, positionFile, section, 'has no header line');
  let value: unknown;
  try {
    value = JSON.parse(raw.subarray(0, nl).toString('utf8'));
  } catch (err) {
    throw corrupt(journalFile, positionFile, section, `has a header that is not valid JSON (${(err as Error).message})`);
  }
  const problem = headerProblem(value);
  if (problem) throw corrupt(journalFile, positionFile, section, `is not a commit journal: ${problem}`);
  const header = value as JournalHeader;
  const data = raw.subarray(nl + 1);
  const expected = header.files.reduce((n, f) => n + f.appendBytes, 0);
  if (data.length !== expected) throw corrupt(journalFile, positionFile, section, `holds ${data.length} bytes of data where its header lists ${expected}`);
  if (sha256([data]) !== header.sha256) throw corrupt(journalFile, positionFile, section, 'holds data whose checksum does not match its header');
  return { header, data };
}

/**
 * Brings one data file to "its size before the window + the window's bytes"
 * without ever making it shorter.
 */
async function completeFile(f: JournalFile, bytes: Buffer, journalFile: string, section: string, hooks: CommitHooks | undefined): Promise<FileRecovery> {
  const out: FileRecovery = { path: f.path, appended: 0, rewritten: 0, blanked: 0 };
  const size = await currentSize(f.path, section);
  const write = async (offset: number, buf: Buffer, what: string): Promise<void> => {
    try {
      await writeAtDurable(f.path, offset, buf, { space: hooks?.spaceFor?.(f.path) });
    } catch (err) {
      throw writeError(
        `cannot ${what} the data file ${f.path} from the journal ${journalFile}${describeErrno(err)}; the file was not shortened, ` +
          'and the next run completes it from the journal (it is kept)',
        f.path,
        section,
        err,
      );
    }
  };

  if (size === undefined || size < f.size) {
    // Removed or cut by something else since: the window's records still belong at its end.
    const at = size ?? 0;
    if (size === undefined ? f.existed || f.size > 0 : true) {
      out.problem =
        size === undefined
          ? `${f.path} had ${f.size} bytes before the interrupted window and no longer exists; it was created again with the window's records`
          : `${f.path} is shorter (${size} bytes) than before the interrupted window (${f.size} bytes): something else cut it; the window's records were appended at its end`;
    }
    await write(at, bytes, 'complete');
    out.appended = bytes.length;
    return out;
  }

  const present = Math.min(size - f.size, bytes.length);
  const fh = await fs.promises.open(f.path, 'r');
  let have: Buffer;
  let past: Buffer;
  try {
    have = Buffer.alloc(present);
    if (present > 0) await fh.read(have, 0, present, f.size);
    const extra = size - (f.size + bytes.length);
    past = Buffer.alloc(Math.max(0, extra));
    if (extra > 0) await fh.read(past, 0, extra, f.size + bytes.length);
  } finally {
    await fh.close();
  }
  let same = 0;
  while (same < present && have[same] === bytes[same]) same++;
  if (same < present) {
    // Garbage where the window's bytes belong (a power loss): rewritten in place, the file does not shrink.
    out.rewritten = present - same;
    out.problem =
      `${f.path}: ${present - same} bytes from offset ${f.size + same} did not match the window's bytes in the journal ` +
      '(a power loss can leave zeros or old blocks there); they were rewritten in place';
    await write(f.size + same, bytes.subarray(same), 'repair');
    out.appended = bytes.length - present;
  } else if (present < bytes.length) {
    await write(f.size + present, bytes.subarray(present), 'complete');
    out.appended = bytes.length - present;
  }
  if (past.length > 0) {
    if (past.every((b) => b === 0)) {
      // Zeros a power loss left past the end: newlines keep the size and read as empty lines.
      await write(f.size + bytes.length, Buffer.alloc(past.length, 0x0a), 'repair');
      out.blanked = past.length;
      const note = `${past.length} zero bytes after the window's end (a power loss) were turned into empty lines`;
      out.problem = out.problem ? `${out.problem}; ${note}` : `${f.path}: ${note}`;
    } else {
      const note = `${past.length} bytes after the window's end were not written by it; they were left as they are`;
      out.problem = out.problem ? `${out.problem}; ${note}` : `${f.path}: ${note}`;
    }
  }
  return out;
}

function readPositionLeniently(positionFile: string, section: string): number | null | 'corrupt' {
  try {
    return readPosition(positionFile, section) ?? null;
  } catch (err) {
    // Its last write was not made durable: a power loss can leave it empty. The journal stands for it.
    if (err instanceof StateCorruptError) return 'corrupt';
    throw err;
  }
}

async function currentSize(file: string, section: string): Promise<number | undefined> {
  try {
    const st = await fs.promises.stat(file);
    if (!st.isFile()) throw new WriteError(`cannot complete ${file} (section ${section}): it is not a regular file`, { section, path: file });
    return st.size;
  } catch (err) {
    // ENOTDIR: a parent is now a plain file, so this file cannot exist.
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return undefined;
    if (err instanceof WriteError) throw err;
    throw writeError(`cannot inspect ${file} to finish an interrupted commit`, file, section, err);
  }
}

async function sizeBefore(file: string, section: string): Promise<{ path: string; size: number; existed: boolean }> {
  let st: fs.Stats;
  try {
    st = await fs.promises.stat(file);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return { path: file, size: 0, existed: false };
    throw writeError(`cannot append to ${file}; nothing was written`, file, section, err);
  }
  if (!st.isFile()) {
    throw new WriteError(`cannot append to ${file} (section ${section}): it is not a regular file; nothing was written`, {
      section,
      path: file,
    });
  }
  return { path: file, size: st.size, existed: true };
}

function sha256(parts: readonly Buffer[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
}

function headerProblem(v: unknown): string | undefined {
  if (!isPlainObject(v)) return 'expected a JSON object';
  if (v.version !== JOURNAL_VERSION) return `unknown version ${JSON.stringify(v.version)} (expected ${JOURNAL_VERSION})`;
  if (v.positionBefore !== null && !isWholeNumber(v.positionBefore)) return 'field "positionBefore" missing or not a whole number or null';
  if (typeof v.sha256 !== 'string') return 'field "sha256" missing or not a string';
  return commitRecordProblem(v, 'required');
}

function corrupt(journalFile: string, positionFile: string, section: string, what: string): StateCorruptError {
  return new StateCorruptError(
    `commit journal ${journalFile} of section ${section} ${what}. Its first line lists the data files an unfinished ` +
      'window was appending to, their sizes before it and the byte counts of the records that follow. Inspect it; ' +
      `if the data files already end with the window's records, delete it and write its "toPosition" into ${positionFile}; ` +
      'otherwise delete it and leave the position file as it is: the window is then fetched again (bytes of it already ' +
      'in a data file would be written twice).',
    { section, path: journalFile, positionFile },
  );
}

function describeErrno(err: unknown): string {
  const code = errnoCode(err);
  if (code === 'ENOSPC') return ' (ENOSPC: the disk is full)';
  if (code === 'EDQUOT') return ' (EDQUOT: the disk quota is used up)';
  return '';
}

function writeError(message: string, file: string, section: string, err: unknown): WriteError {
  const code = errnoCode(err);
  return new WriteError(`${message} (section ${section}: ${code ?? String(err)})`, { section, path: file, errno: code }, { cause: err });
}
