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
 * Replaces `file` atomically: temp file, fsync, rename, fsync of the directory
 * (write-file-atomic). The synchronous atomic write of the collector:
 * positions, rejects files, heartbeats and metrics files go through it; the
 * commit path has its own asynchronous one (writeFileAtomicAsync).
 */
export function writeFileAtomicDurable(file: string, data: string, opts: AtomicWriteOptions = {}): void {
  const { mode = FILE_MODE, durable = true } = opts;
  const dir = path.dirname(file);
  mkdirDurable(dir);
  if (!durable) {
    replaceAdvisoryFile(file, data, mode, opts.exactMode === true);
    return;
  }
  const options: writeFileAtomic.Options = { fsync: true, encoding: 'utf8' };
  // write-file-atomic chmods the temp file to `mode` verbatim, bypassing the
  // umask, so apply the umask ourselves; without `mode` it keeps an existing file's.
  if (opts.exactMode) options.mode = mode;
  else if (!fs.existsSync(file)) options.mode = mode & ~currentUmask();
  writeFileAtomic.sync(file, data, options);
  fsyncDir(dir);
}

/**
 * An advisory file's replacement: temp file and rename, nothing more. The
 * main thread writes two heartbeats per section and run and more while it
 * runs (some 2,000 for 1,000 sections); write-file-atomic also resolves the
 * path, stats the file, chowns and chmods the temp file and registers an exit
 * hook on every call: 0.8-1.1 ms of CPU a replacement against 0.2 ms here
 * (1,000 replacements of a heartbeat-sized file on ext4, measured). An
 * existing file keeps its mode, as with write-file-atomic.
 */
function replaceAdvisoryFile(file: string, data: string, mode: number, exactMode: boolean): void {
  let target = mode;
  if (!exactMode) {
    try {
      target = fs.statSync(file).mode & 0o7777;
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
      target = mode & ~currentUmask();
    }
  }
  const temp = tempNameFor(file);
  let fd: number | undefined;
  try {
    fd = fs.openSync(temp, 'wx', target);
    fs.writeFileSync(fd, data, 'utf8');
    // open honours the umask; the file must have exactly the mode decided above.
    fs.fchmodSync(fd, target);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(temp, file);
  } catch (err) {
    if (fd !== undefined) fs.closeSync(fd);
    fs.rmSync(temp, { force: true });
    throw err;
  }
}

/** A temp file's name beside `file` (`<file>.<digits>`), as the replacements here make them. */
function tempNameFor(file: string): string {
  return `${file}.${String(Math.floor(Math.random() * 0xffffffff))}`;
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

// Asynchronous versions for the commit path: a section's fsyncs run on the
// thread pool, so the sockets of other sections in the same worker thread
// keep being served while a window is made durable
// (docs/decisions.md, "Commits roll forward from a journal").

export async function fsyncDirAsync(dir: string): Promise<void> {
  if (process.platform === 'win32') return;
  const fh = await fs.promises.open(dir, 'r');
  try {
    await fh.sync();
  } catch (err) {
    if (!isErrno(err, 'EINVAL') && !isErrno(err, 'ENOTSUP')) throw err;
  } finally {
    await fh.close();
  }
}

export async function fsyncFileAsync(file: string): Promise<void> {
  const fh = await fs.promises.open(file, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * `mkdirDurable` without blocking in the usual case: the directory exists, and
 * one asynchronous stat says so. Only a missing one (the first window of a new
 * hour's directory, say) takes the synchronous path, a handful of mkdirs and
 * directory fsyncs once.
 */
export async function mkdirDurableAsync(dir: string, mode: number = DIR_MODE): Promise<void> {
  try {
    if ((await fs.promises.stat(dir)).isDirectory()) return;
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) throw err;
  }
  mkdirDurable(dir, mode);
}

export interface WriteAtOptions {
  /**
   * Test only: how many more bytes the disk takes. A write beyond it writes
   * that many and fails with ENOSPC, as a full disk does.
   */
  space?: number | undefined;
  mode?: number;
}

/**
 * Writes `data` into `file` at byte `offset` (creating the file, mode 0640
 * less the umask), fsyncs it, and makes a new file's name durable. Never
 * shortens the file. Returns whether the file was created by this call.
 */
export async function writeAtDurable(file: string, offset: number, data: Uint8Array, opts: WriteAtOptions = {}): Promise<{ created: boolean }> {
  await mkdirDurableAsync(path.dirname(file));
  let created = true;
  let fh: fs.promises.FileHandle;
  try {
    fh = await fs.promises.open(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, opts.mode ?? FILE_MODE);
  } catch (err) {
    if (!isErrno(err, 'EEXIST')) throw err;
    created = false;
    fh = await fs.promises.open(file, fs.constants.O_WRONLY);
  }
  try {
    // The name first: a file created here must survive even if the write fails.
    if (created) await fsyncDirAsync(path.dirname(file));
    const room = opts.space === undefined ? data.length : Math.max(0, Math.min(opts.space, data.length));
    let off = 0;
    // write may write fewer bytes than asked (signals, quotas): loop.
    while (off < room) off += (await fh.write(data, off, room - off, offset + off)).bytesWritten;
    if (room < data.length) {
      await fh.sync();
      throw Object.assign(new Error(`ENOSPC: no space left on device, write '${file}'`), { code: 'ENOSPC', errno: -28, syscall: 'write', path: file });
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
  return { created };
}

/**
 * Replaces `file` atomically (temp file `<file>.<digits>`, rename). With
 * `durable`, the temp file is fsynced before the rename and the directory
 * after it; without, the rename is made durable by the next directory fsync
 * of the caller's.
 */
export async function writeFileAtomicAsync(file: string, data: string | Uint8Array, opts: { durable: boolean; mode?: number }): Promise<void> {
  const dir = path.dirname(file);
  await mkdirDurableAsync(dir);
  const temp = tempNameFor(file);
  let mode = opts.mode ?? FILE_MODE;
  try {
    // An existing file keeps its mode, as with write-file-atomic.
    mode = (await fs.promises.stat(file)).mode & 0o7777;
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) throw err;
    mode &= ~currentUmask();
  }
  const fh = await fs.promises.open(temp, 'wx', mode);
  try {
    try {
      await fh.writeFile(data);
      await fh.chmod(mode);
      if (opts.durable) await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.promises.rename(temp, file);
  } catch (err) {
    await fs.promises.unlink(temp).catch(() => undefined);
    throw err;
  }
  if (opts.durable) await fsyncDirAsync(dir);
}

/** Unlinks `file` (absent is fine); with `durable`, fsyncs the directory. */
export async function removeAsync(file: string, durable: boolean): Promise<boolean> {
  try {
    await fs.promises.unlink(file);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return false;
    throw err;
  }
  if (durable) await fsyncDirAsync(path.dirname(file));
  return true;
}
