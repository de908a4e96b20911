// One run per section at a time, across processes and hosts sharing a disk.
// The lock is a file holding a JSON LockHolder, created whole: written to a
// staging file (created exclusively by lockfile, whose exit hook removes it
// if the process ends before it is linked) and linked to its name, which fails
// if the name exists, so a lock of ours is never seen empty, and lockfile
// never tracks (nor, at exit, deletes) the lock's own name. It is broken only
// when its holder provably no longer runs: same host and the pid is gone, or
// the pid now belongs to a process started later (pid reuse, reboot). A live
// holder's lock is never broken by age: a long backfill is not a dead one. A
// process on another host cannot be checked; its lock is taken over only when
// its lease ran out: the holder renews the lock (rewrites it, which moves its
// mtime) every third of `lock_lease`, and a lock not renewed for twice the
// lease is the lock of a dead or cut-off holder (docs/decisions.md, "Leases on the file server's clock").
//
// The Python tool takes flock(2) on the same file and leaves it there, empty,
// when it stops. On Linux /proc/locks lists every live flock with its file's
// device and inode: a lock file someone holds a flock on is held, whatever it
// contains; an empty one no one holds is taken over at once
// (docs/decisions.md, "Locks broken only when provably dead").

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { threadId } from 'node:worker_threads';
import lockfile from 'lockfile';
import { LockHeldError, WriteError } from '../common/errors.js';
import { errnoCode, mkdirDurable } from './durable-fs.js';

export interface LockHolder {
  pid: number;
  hostname: string;
  startedAt: string;
  /** Linux: `<boot id>:<start time in clock ticks>` of the process, to tell a reused pid from the holder. */
  procStart?: string;
  /** Seconds: the holder renews the lock at least every third of this; absent or 0 = no lease. */
  lease?: number;
  /** Random, one per acquisition: tells this holder from any later one (fencing). */
  token?: string;
}

export interface SectionLock {
  path: string;
  /** This acquisition's token, written in the lock (fencing: lockStillNames). */
  token: string;
  /**
   * Renews the lease: rewrites the lock in place (its mtime moves on the file
   * server's clock) if it still names this holder; 'lost' when another holder
   * took it over. Throws on an I/O error.
   */
  renew(): 'renewed' | 'lost';
  /** Idempotent; removes the file only while it still names this holder. */
  release(): void;
}

export interface SectionLockOptions {
  /**
   * How old an empty or unparsable lock file must be before it counts as left
   * by a process that died between creating and writing it. Younger ones are
   * being written right now.
   */
  incompleteGraceMs?: number;
  /** Test hook: runs after a lock was judged stale, before it is moved aside (another process may act here). */
  beforeTakeover?(): void;
  /** `lock_lease` in seconds; 0 or absent: no lease. */
  leaseSeconds?: number;
}

const INCOMPLETE_GRACE_MS = 5000;
/** Each failed attempt means another process changed the lock meanwhile; a few suffice. */
const MAX_ATTEMPTS = 5;

/** Takes the section's lock, taking over one left by a dead process; LockHeldError if a live one holds it. */
export function acquireSectionLock(
  lockPath: string,
  section: string,
  log: (msg: string) => void = () => {},
  options: SectionLockOptions = {},
): SectionLock {
  const file = path.resolve(lockPath);
  const graceMs = options.incompleteGraceMs ?? INCOMPLETE_GRACE_MS;
  try {
    mkdirDurable(path.dirname(file));
  } catch (err) {
    throw lockWriteError('cannot create the directory of the lock', file, section, err);
  }

  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const me = tryCreate(file, section, options.leaseSeconds ?? 0);
    if (me) return ownedLock(file, me, section, log);

    let seen: SeenLock | undefined;
    try {
      seen = inspect(file);
    } catch (err) {
      throw lockWriteError('cannot read the lock', file, section, err);
    }
    if (!seen) continue; // released between our create and our look: try again
    let verdict: Verdict;
    try {
      verdict = judge(seen, file, section, graceMs);
    } catch (err) {
      throw lockWriteError('cannot tell the age of the lock (a probe file beside it failed)', file, section, err);
    }
    if (verdict.held) throw verdict.error;
    options.beforeTakeover?.();
    let removed: boolean;
    try {
      removed = setAside(file, seen, log);
    } catch (err) {
      throw lockWriteError('cannot remove the stale lock', file, section, err);
    }
    if (removed) log(`removed the stale lock ${file} of section ${section}: ${verdict.reason}; taking it over`);
  }
  throw new LockHeldError(
    `section ${section} is locked (${file}): the lock changed hands ${MAX_ATTEMPTS} times while this run tried to take it; skipping this section`,
    { section, path: file },
  );
}

/** The holder written in a lock file; undefined when it is absent or not a holder record. */
export function readLockHolder(lockPath: string): LockHolder | undefined {
  try {
    return parseHolder(fs.readFileSync(lockPath, 'utf8'));
  } catch {
    // Absent or unreadable both mean "no holder we can name"; acquireSectionLock decides what that implies.
    return undefined;
  }
}

/**
 * The host name written in and compared with locks. UZP_TEST_HOSTNAME stands
 * in for it only in tests that cannot give a child process its own UTS
 * namespace (`unshare --uts` needs root).
 */
export function lockHostName(): string {
  return process.env['UZP_TEST_HOSTNAME'] || os.hostname();
}

/**
 * Whether the lock file still names the holder with this token. Read by a
 * worker before each commit, without blocking the other sections on its thread.
 */
export async function lockStillNames(lockPath: string, token: string): Promise<boolean> {
  let raw: string;
  try {
    raw = await fs.promises.readFile(lockPath, 'utf8');
  } catch {
    return false; // gone or unreadable: not ours to commit under
  }
  return parseHolder(raw)?.token === token;
}

function tryCreate(file: string, section: string, leaseSeconds: number): LockHolder | undefined {
  const me: LockHolder = { pid: process.pid, hostname: lockHostName(), startedAt: new Date().toISOString() };
  const procStart = ownProcStart();
  if (procStart !== undefined) me.procStart = procStart;
  if (leaseSeconds > 0) me.lease = leaseSeconds;
  me.token = randomBytes(8).toString('hex');
  const text = `${JSON.stringify(me)}\n`;
  const temp = `${file}.new-${process.pid}-${threadId}-${randomBytes(4).toString('hex')}`;
  try {
    // lockfile: an exclusive create, removed by its exit hook should the process end before the link.
    lockfile.lockSync(temp);
    fs.writeFileSync(temp, text);
  } catch (err) {
    lockfile.unlockSync(temp);
    throw lockWriteError('cannot write the lock', temp, section, err);
  }
  try {
    // link never replaces an existing name: the lock appears complete, or not at all.
    fs.linkSync(temp, file);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'EEXIST') return undefined;
    // A file system without hard links: an exclusive create, then the record.
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'EXDEV') throw lockWriteError('cannot create the lock', file, section, err);
    return createInPlace(file, text, me, section);
  } finally {
    // Removes the staging name (the lock keeps its own link) and lockfile's record of it.
    lockfile.unlockSync(temp);
  }
  return me;
}

function createInPlace(file: string, text: string, me: LockHolder, section: string): LockHolder | undefined {
  let fd: number;
  try {
    fd = fs.openSync(file, 'wx');
  } catch (err) {
    if (errnoCode(err) === 'EEXIST') return undefined;
    throw lockWriteError('cannot create the lock', file, section, err);
  }
  try {
    fs.writeSync(fd, text);
  } catch (err) {
    fs.closeSync(fd);
    fs.unlinkSync(file);
    throw lockWriteError('cannot write the lock', file, section, err);
  }
  fs.closeSync(fd);
  return me;
}

function ownedLock(file: string, me: LockHolder, section: string, log: (msg: string) => void): SectionLock {
  let released = false;
  const token = me.token ?? '';
  const namesMe = (): boolean => {
    const holder = readLockHolder(file);
    return holder !== undefined && holder.pid === me.pid && holder.hostname === me.hostname && holder.startedAt === me.startedAt && holder.token === me.token;
  };
  // A process that exits without releasing (process.exit after a second
  // signal) still removes its own locks, and never one that names another holder.
  const onExit = (): void => {
    if (released) return;
    released = true;
    if (namesMe()) unlinkQuietly(file);
  };
  process.setMaxListeners(process.getMaxListeners() + 1);
  process.on('exit', onExit);
  return {
    path: file,
    token,
    renew(): 'renewed' | 'lost' {
      let fd: number;
      try {
        fd = fs.openSync(file, 'r+');
      } catch (err) {
        if (errnoCode(err) === 'ENOENT') return 'lost';
        throw err;
      }
      try {
        // Read and rewrite through one descriptor: the bytes rewritten are the
        // very file checked to name us, even if a takeover renames it meanwhile.
        const raw = fs.readFileSync(fd, 'utf8');
        if (parseHolder(raw)?.token !== token) return 'lost';
        fs.writeSync(fd, raw, 0, 'utf8');
        return 'renewed';
      } finally {
        fs.closeSync(fd);
      }
    },
    release(): void {
      if (released) return;
      released = true;
      process.off('exit', onExit);
      process.setMaxListeners(Math.max(0, process.getMaxListeners() - 1));
      if (namesMe()) unlinkQuietly(file);
      else log(`lock ${file} of section ${section} no longer names this process at release; left it in place`);
    },
  };
}

function unlinkQuietly(file: string): void {
  try {
    fs.unlinkSync(file);
  } catch {
    // Gone already: nothing to release.
  }
}

interface SeenLock {
  raw: string;
  ino: number;
  dev: number;
  mtimeMs: number;
  size: number;
}

function inspect(file: string): SeenLock | undefined {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
  try {
    // One descriptor for stat and read, so identity and content describe the same file.
    const st = fs.fstatSync(fd);
    return { raw: fs.readFileSync(fd, 'utf8'), ino: st.ino, dev: st.dev, mtimeMs: st.mtimeMs, size: st.size };
  } finally {
    fs.closeSync(fd);
  }
}

/** The same lock file, unchanged: same inode, same modification time, same record. */
function sameLock(a: SeenLock, b: SeenLock): boolean {
  return a.ino === b.ino && a.dev === b.dev && a.mtimeMs === b.mtimeMs && a.raw === b.raw;
}

type Verdict = { held: true; error: LockHeldError } | { held: false; reason: string };

function judge(seen: SeenLock, file: string, section: string, graceMs: number): Verdict {
  const flock = flockHolderOf(seen);
  if (flock !== undefined) {
    const who = flock.pid > 0 ? `process ${flock.pid}` : 'a process';
    return {
      held: true,
      error: new LockHeldError(
        `section ${section} is locked by ${who}, which holds a ${flock.kind} lock on ${file} (the Python uzmanposta tool takes one); skipping this section`,
        { section, path: file, ...(flock.pid > 0 ? { pid: flock.pid } : {}), hostname: lockHostName() },
      ),
    };
  }
  const holder = parseHolder(seen.raw);
  if (!holder && seen.size === 0 && flocksReadable()) {
    // Never one of ours (they are created whole): the Python tool's, and no one holds it.
    return { held: false, reason: 'it is empty and no process holds a flock on it (the Python tool leaves it so when it stops)' };
  }
  if (!holder) {
    // The file's mtime is on the file system's clock (an NFS server's, say), not this process's.
    const ageMs = fileSystemNowMs(path.dirname(file)) - seen.mtimeMs;
    if (ageMs > graceMs) {
      return { held: false, reason: `it holds no owner record and is ${Math.round(ageMs / 1000)} s old (its creator died before writing it)` };
    }
    return {
      held: true,
      error: new LockHeldError(
        `section ${section} is being locked by another process right now (${file} has no owner record yet); skipping this section`,
        { section, path: file },
      ),
    };
  }

  const since = holder.startedAt;
  const context = { section, path: file, pid: holder.pid, hostname: holder.hostname, since };
  if (holder.hostname !== lockHostName()) return judgeLease(holder, seen, file, section, context);
  const death = whyDead(holder);
  if (death === undefined) {
    return {
      held: true,
      error: new LockHeldError(
        `section ${section} is locked by process ${holder.pid} on ${holder.hostname} since ${since} (${file}); skipping this section`,
        context,
      ),
    };
  }
  return { held: false, reason: `process ${holder.pid} on ${holder.hostname}, which took it at ${since}, ${death}` };
}

/**
 * A holder on another host: alive as long as it renews its lease. Its age is
 * the lock's mtime against the file server's own clock, the clock that
 * stamped it, so the hosts' clocks never meet (docs/decisions.md, "Leases on the file server's clock").
 */
function judgeLease(holder: LockHolder, seen: SeenLock, file: string, section: string, context: Record<string, unknown>): Verdict {
  const who = `process ${holder.pid} on host ${holder.hostname}`;
  const lease = holder.lease ?? 0;
  if (lease <= 0) {
    return {
      held: true,
      error: new LockHeldError(
        `section ${section} is locked by ${who} since ${holder.startedAt} (${file}); skipping this section. ` +
          `That lock has no lease (lock_lease = 0, or an older version wrote it), so it is never taken over: if that process is gone, delete ${file}.`,
        context,
      ),
    };
  }
  const ageSeconds = Math.max(0, Math.round((fileSystemNowMs(path.dirname(file)) - seen.mtimeMs) / 1000));
  if (ageSeconds > 2 * lease) {
    return {
      held: false,
      reason: `${who}, which took it at ${holder.startedAt}, has not renewed its lease of ${lease} s for ${ageSeconds} s (more than twice the lease)`,
    };
  }
  return {
    held: true,
    error: new LockHeldError(
      `section ${section} is locked by ${who} since ${holder.startedAt}, lease renewed ${ageSeconds} s ago (${file}); skipping this section. ` +
        `If that process is gone, the lock is taken over once it has gone ${2 * lease} s without renewal.`,
      context,
    ),
  };
}

/** Why the holder is certainly gone, or undefined when it may be alive. */
function whyDead(holder: LockHolder): string | undefined {
  try {
    process.kill(holder.pid, 0);
  } catch (err) {
    // EPERM: it exists under another user. Anything else unknown: assume alive.
    if (errnoCode(err) === 'ESRCH') return 'no longer runs';
    return undefined;
  }
  // A killed process whose parent has not reaped it yet still answers kill(0);
  // in a container without an init process it may never be reaped. It runs no code.
  if (procStateOf(holder.pid) === 'zombie') return 'no longer runs (it is a zombie: exited, not yet reaped by its parent)';
  if (holder.procStart === undefined) return undefined;
  const now = procStartOf(holder.pid);
  if (now !== undefined && now !== holder.procStart) return 'no longer runs (its pid now belongs to a process started later)';
  return undefined;
}

/**
 * Moves the stale lock out of the way, safely against another process doing
 * the same: rename is atomic, and the file renamed is deleted only if it is
 * the very file judged stale (same inode, mtime and content). A fresh lock
 * renamed by mistake is linked back (link never overwrites).
 */
function setAside(file: string, seen: SeenLock, log: (msg: string) => void): boolean {
  // Judging took a while (a probe file, /proc): another run may have broken
  // the stale lock and taken the name meanwhile. Look again, just before the
  // rename, so that its fresh lock is not the file moved aside: moved aside,
  // the name is free for an instant, and a third run could lock it while the
  // fresh one's holder still believes it holds the lock (it would stop at its
  // first commit, UZP_LOCK_LOST, but both would have started).
  const current = inspect(file);
  if (!current || !sameLock(current, seen)) return false;
  const aside = `${file}.stale-${process.pid}-${threadId}-${randomBytes(4).toString('hex')}`;
  try {
    fs.renameSync(file, aside);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return false; // someone else moved it first
    throw err;
  }
  const moved = inspect(aside);
  if (moved && sameLock(moved, seen)) {
    fs.unlinkSync(aside);
    return true;
  }
  try {
    fs.linkSync(aside, file);
    fs.unlinkSync(aside);
  } catch (err) {
    if (errnoCode(err) !== 'EEXIST') throw err;
    // A third process locked in the instant the live lock was aside; leave the
    // displaced file for a human rather than overwrite either.
    log(`lock ${file} changed hands while a stale lock was being removed; the displaced lock is kept as ${aside}`);
  }
  return false;
}

/**
 * "Now" on the clock that stamps files in `dir`: the mtime of a file created
 * there this instant. Comparing a file's mtime with Date.now() would mix two
 * clocks (a file server's and this host's, or a faked process clock).
 */
function fileSystemNowMs(dir: string): number {
  const probe = path.join(dir, `.clock-${process.pid}-${threadId}-${randomBytes(4).toString('hex')}`);
  const fd = fs.openSync(probe, 'wx');
  try {
    return fs.fstatSync(fd).mtimeMs;
  } finally {
    fs.closeSync(fd);
    fs.unlinkSync(probe);
  }
}

function parseHolder(raw: string): LockHolder | undefined {
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    return undefined; // empty or cut short: the caller decides by age
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  // pid 0 or negative would make process.kill signal a process group.
  if (typeof o.pid !== 'number' || !Number.isSafeInteger(o.pid) || o.pid <= 0) return undefined;
  if (typeof o.hostname !== 'string' || typeof o.startedAt !== 'string') return undefined;
  if (o.procStart !== undefined && typeof o.procStart !== 'string') return undefined;
  const holder: LockHolder = { pid: o.pid, hostname: o.hostname, startedAt: o.startedAt };
  if (typeof o.procStart === 'string') holder.procStart = o.procStart;
  if (typeof o.lease === 'number' && Number.isFinite(o.lease) && o.lease > 0) holder.lease = o.lease;
  if (typeof o.token === 'string') holder.token = o.token;
  return holder;
}

/** Whether /proc/locks can be read here (Linux): without it an empty lock file keeps the grace period. */
function flocksReadable(): boolean {
  return readProcLocks() !== undefined;
}

function readProcLocks(): string | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    return fs.readFileSync('/proc/locks', 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * Linux only: who holds a flock (or POSIX/OFD lock) on the file, from
 * /proc/locks: `1: FLOCK  ADVISORY  WRITE 4711 fe:00:2146618 0 EOF`, the
 * device as hex major:minor and the inode. Waiters (`->`) hold nothing. A
 * listed lock is live whatever its pid: the kernel drops a flock with the
 * last descriptor, which a child may have inherited (pid -1 for OFD locks).
 */
export function flockHolderOf(seen: { dev: number; ino: number }): { pid: number; kind: string } | undefined {
  const text = readProcLocks();
  if (text === undefined) return undefined;
  const major = Number((BigInt(seen.dev) >> 8n) & 0xfffn) | Number((BigInt(seen.dev) >> 32n) & ~0xfffn);
  const minor = Number(BigInt(seen.dev) & 0xffn) | Number((BigInt(seen.dev) >> 12n) & ~0xffn);
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 6 || fields[1] === '->') continue;
    const [, kind, , , pidText, where] = fields;
    const parts = (where ?? '').split(':');
    if (parts.length !== 3) continue;
    if (Number(parts[2]) !== seen.ino) continue;
    if (parseInt(parts[0] ?? '', 16) !== major || parseInt(parts[1] ?? '', 16) !== minor) continue;
    return { pid: Number(pidText), kind: kind ?? 'FLOCK' };
  }
  return undefined;
}

/** Linux only: 'zombie' for a process in state Z (zombie) or X (dead), as /proc/<pid>/stat says. */
function procStateOf(pid: number): 'zombie' | 'other' | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 3, after the command name, which may hold spaces and parentheses.
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state === 'Z' || state === 'X' ? 'zombie' : 'other';
  } catch {
    return undefined;
  }
}

/** Linux only: boot id plus the process's start time, which together never repeat. */
let ownStart: { value: string | undefined } | undefined;

/** This process's procStartOf, read once: a run of 1,000 sections takes 1,000 locks. */
function ownProcStart(): string | undefined {
  ownStart ??= { value: procStartOf(process.pid) };
  return ownStart.value;
}

function procStartOf(pid: number): string | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses; fields resume after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const startTicks = fields[19]; // field 22 of proc(5); fields[0] is field 3
    if (startTicks === undefined || !/^[0-9]+$/.test(startTicks)) return undefined;
    const bootId = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    return `${bootId}:${startTicks}`;
  } catch {
    return undefined;
  }
}

function lockWriteError(what: string, file: string, section: string, err: unknown): WriteError {
  const code = errnoCode(err);
  return new WriteError(`${what} ${file} (section ${section}: ${code ?? String(err)})`, { section, path: file, errno: code }, { cause: err });
}
