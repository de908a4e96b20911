// Synchronous file operations that survive a power loss once they return.
// A write is durable only when the file's data AND the directory entry naming
// it have reached the disk, so every create, rename or unlink here is followed
// by an fsync of the containing directory (the one exception: an atomic write
// the caller marks advisory, see AtomicWriteOptions). Errors are the raw Node
// errors; callers turn them into WriteError with their own context.

import fs from 'node:fs';
import path from 'node:path';
import writeFileAtomic from 'write-file-atomic';

export const DIR_MODE = 0o750;
export const FILE_MODE = 0o640;

export function fsyncFile(file: string): void {
  const fd = fs.openSync(file, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

export function fsyncDir(dir: string): void {
  // Windows cannot open a directory for fsync; NTFS journals names itself.
  if (process.platform === 'win32') return;
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } catch (err) {
    // A few file systems (some network/FUSE mounts) refuse fsync on a directory;
    // there is nothing stronger to do there, and failing every commit would be worse.
    if (!isErrno(err, 'EINVAL') && !isErrno(err, 'ENOTSUP')) throw err;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * `mkdir -p` with mode 0750 (less the umask) that also fsyncs the parent of
 * every directory it creates, so a file made inside survives a power loss.
 */
export function mkdirDurable(dir: string, mode: number = DIR_MODE): void {
  const missing: string[] = [];
  let cur = path.resolve(dir);
  for (;;) {
    try {
      const st = fs.statSync(cur);
      if (!st.isDirectory()) throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${cur}'`), { code: 'ENOTDIR', path: cur });
      break;
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
      missing.push(cur);
      const parent = path.dirname(cur);
      if (parent === cur) break;
      cur = parent;
    }
  }
  for (const d of missing.reverse()) {
    try {
      fs.mkdirSync(d, { mode });
    } catch (err) {
      // Another section's worker may create a shared parent at the same moment.
      if (!isErrno(err, 'EEXIST')) throw err;
      continue;
    }
    fsyncDir(path.dirname(d));
  }
}

/**
 * Appends all of `data`, fsyncs it, and makes a newly created file's name
 * durable. New files get mode 0640 less the umask. Returns whether the file
 * was created by this call.
 */
export function appendDurable(file: string, data: string | Uint8Array, mode: number = FILE_MODE): { created: boolean } {
  mkdirDurable(path.dirname(file));
  const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  let created = true;
  let fd: number;
  try {
    // O_EXCL tells us, race-free, whether this call created the file.
    fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT | fs.constants.O_EXCL, mode);
  } catch (err) {
    if (!isErrno(err, 'EEXIST')) throw err;
    created = false;
    fd = fs.openSync(file, 'a', mode);
  }
  try {
    let off = 0;
    // writeSync may write fewer bytes than asked (signals, quotas): loop.
    while (off < buf.length) off += fs.writeSync(fd, buf, off, buf.length - off);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  if (created) fsyncDir(path.dirname(file));
  return { created };
}

export interface AtomicWriteOptions {
  /** Mode of a new file, less the umask; an existing file keeps its own. Default 0640. */
  mode?: number;
  /**
   * Give the file exactly `mode`, new or not, whatever the umask: for a file
   * another user's program must read (the metrics file and node_exporter).
   */
  exactMode?: boolean;
  /**
   * false for advisory files rewritten every few seconds (heartbeat, metrics):
   * still replaced in one rename, so a reader never sees half a file, but
   * without the fsyncs, as losing the last version to a power cut is harmless.
   * Default true.
   */
  durable?: boolean;
}

/**
 * Replaces `file` atomically: temp file, fsync, rename, fsync of the directory.
 * The one atomic write of the collector: positions, pending commits,
 * heartbeats and metrics files all go through it.
 */
export function writeFileAtomicDurable(file: string, data: string, opts: AtomicWriteOptions = {}): void {
  const { mode = FILE_MODE, durable = true } = opts;
  const dir = path.dirname(file);
  mkdirDurable(dir);
  const options: writeFileAtomic.Options = { fsync: durable, encoding: 'utf8' };
  // write-file-atomic chmods the temp file to `mode` verbatim, bypassing the
  // umask, so apply the umask ourselves; without `mode` it keeps an existing file's.
  if (opts.exactMode) options.mode = mode;
  else if (!fs.existsSync(file)) options.mode = mode & ~currentUmask();
  writeFileAtomic.sync(file, data, options);
  if (durable) fsyncDir(dir);
}

export function truncateDurable(file: string, size: number): void {
  const fd = fs.openSync(file, 'r+');
  try {
    fs.ftruncateSync(fd, size);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Unlinks `file` (absent is fine) and makes the removal durable. Returns whether it existed. */
export function removeDurable(file: string): boolean {
  try {
    fs.unlinkSync(file);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return false;
    throw err;
  }
  fsyncDir(path.dirname(file));
  return true;
}

export function isErrno(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as NodeJS.ErrnoException).code === code;
}

export function errnoCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null) {
    const code = (err as NodeJS.ErrnoException).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

function currentUmask(): number {
  // Reading the umask (no argument) is allowed in worker threads; setting it is not.
  return process.umask();
}
