import { catchError, until } from '../support/harness.js';
import { onCleanup } from '../support/cleanup.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { expect } from 'chai';
import { acquireSectionLock, readLockHolder, type LockHolder } from '../../src/storage/section-lock.js';
import { LockHeldError } from '../../src/common/errors.js';

const SECTION = 'MailLogger:example.com-in';

describe('section-lock', () => {
  let dir: string;
  let lockPath: string;
  const children: ChildProcess[] = [];

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'uzp-lock-'));
    lockPath = path.join(dir, 'locks', 'sec.lock');
  });
  afterEach(async () => {
    for (const c of children.splice(0)) {
      if (c.exitCode === null && c.signalCode === null) {
        c.kill('SIGKILL');
        await once(c, 'exit');
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function spawnLocker(env: Record<string, string> = {}): ChildProcess & { lines: string[] } {
    const child = spawn(process.execPath, ['--input-type=module', '-e', LOCKER], {
      stdio: ['pipe', 'pipe', 'inherit'],
      env: { ...process.env, UZP_LOCK_MODULE: new URL('../../src/storage/section-lock.js', import.meta.url).href, UZP_LOCK_PATH: lockPath, ...env },
    }) as ChildProcess & { lines: string[] };
    children.push(child);
    child.lines = [];
    let buf = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      buf += chunk.toString('utf8');
      const parts = buf.split('\n');
      buf = parts.pop() ?? '';
      child.lines.push(...parts);
      child.emit('lines');
    });
    return child;
  }

  it('writes the holder record and releases idempotently', () => {
    const lock = acquireSectionLock(lockPath, SECTION);
    expect(lock.path).to.equal(lockPath);
    const holder = readLockHolder(lockPath);
    expect(holder?.pid).to.equal(process.pid);
    expect(holder?.hostname).to.equal(os.hostname());
    expect(Date.parse(holder?.startedAt ?? '')).to.not.be.NaN;
    if (process.platform === 'linux') expect(holder?.procStart).to.match(/^[0-9a-f-]+:[0-9]+$/);
    lock.release();
    expect(fs.existsSync(lockPath)).to.equal(false);
    lock.release();
    const again = acquireSectionLock(lockPath, SECTION);
    expect(readLockHolder(lockPath)?.pid).to.equal(process.pid);
    again.release();
  });

  it('refuses a second acquirer in the same process: the holder is alive', () => {
    const lock = acquireSectionLock(lockPath, SECTION);
    const err = catchError(() => acquireSectionLock(lockPath, SECTION));
    expect(err).to.be.instanceOf(LockHeldError);
    expect((err as LockHeldError).context.pid).to.equal(process.pid);
    lock.release();
  });

  it('another process holding the lock: LockHeldError naming its pid, host and since; taken over after kill -9', async () => {
    const child = spawnLocker();
    await waitForLine(child, (l) => l === 'ACQUIRED');
    const holder = readLockHolder(lockPath);
    expect(holder?.pid).to.equal(child.pid);

    const err = catchError(() => acquireSectionLock(lockPath, SECTION));
    expect(err).to.be.instanceOf(LockHeldError);
    const e = err as LockHeldError;
    expect(e.code).to.equal('UZP_LOCK_HELD');
    expect(e.context).to.deep.include({ section: SECTION, path: lockPath, pid: child.pid, hostname: os.hostname(), since: holder?.startedAt });
    expect(e.message).to.include(String(child.pid)).and.to.include(holder?.startedAt ?? '?').and.to.include('skipping');

    child.kill('SIGKILL');
    await once(child, 'exit');
    expect(fs.existsSync(lockPath), 'kill -9 leaves the lock behind').to.equal(true);

    const logs: string[] = [];
    const lock = acquireSectionLock(lockPath, SECTION, (m) => logs.push(m));
    expect(readLockHolder(lockPath)?.pid).to.equal(process.pid);
    expect(logs).to.have.length(1);
    expect(logs[0]).to.include(String(child.pid)).and.to.include('no longer runs');
    lock.release();
  });

  it('the lock is removed when its holder exits normally', async () => {
    const child = spawnLocker();
    await waitForLine(child, (l) => l === 'ACQUIRED');
    child.stdin?.end();
    await once(child, 'exit');
    expect(fs.existsSync(lockPath)).to.equal(false);
  });

  it('never breaks a live holder\'s lock, however old', () => {
    const holder: LockHolder = { pid: process.pid, hostname: os.hostname(), startedAt: '2001-01-01T00:00:00.000Z' };
    writeHolder(holder);
    const old = new Date('2001-01-01T00:00:00Z');
    fs.utimesSync(lockPath, old, old);
    const err = catchError(() => acquireSectionLock(lockPath, SECTION));
    expect(err).to.be.instanceOf(LockHeldError);
    expect((err as LockHeldError).context.since).to.equal('2001-01-01T00:00:00.000Z');
    expect(readLockHolder(lockPath)).to.deep.equal(holder);
  });

  it('never breaks a lock from another host, even with a dead-looking pid', async () => {
    const deadPid = await pidOfExitedProcess();
    writeHolder({ pid: deadPid, hostname: `not-${os.hostname()}`, startedAt: '2001-01-01T00:00:00.000Z' });
    const err = catchError(() => acquireSectionLock(lockPath, SECTION));
    expect(err).to.be.instanceOf(LockHeldError);
    expect((err as Error).message).to.include(`not-${os.hostname()}`).and.to.include('never taken over');
  });

  it('takes over a lock whose pid is gone, and logs it', async () => {
    const deadPid = await pidOfExitedProcess();
    writeHolder({ pid: deadPid, hostname: os.hostname(), startedAt: '2001-01-01T00:00:00.000Z' });
    const logs: string[] = [];
    const lock = acquireSectionLock(lockPath, SECTION, (m) => logs.push(m));
    expect(readLockHolder(lockPath)?.pid).to.equal(process.pid);
    expect(logs.join('\n')).to.include(String(deadPid)).and.to.include(lockPath);
    expect(fs.readdirSync(path.dirname(lockPath))).to.deep.equal(['sec.lock']);
    lock.release();
  });

  (process.platform === 'linux' ? it : it.skip)('takes over a lock whose holder is a zombie (killed, never reaped)', async () => {
    // `sleep 0` exits at once, and its parent, having become `sleep 30` by exec,
    // never waits for it: a zombie, as a killed collector is in a container
    // without an init process.
    const parent = spawn('sh', ['-c', 'sleep 0 & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] });
    onCleanup(() => {
      parent.kill('SIGKILL');
    });
    const [line] = (await once(parent.stdout!, 'data')) as [Buffer];
    const zombie = Number(line.toString().trim());
    await until(() => (/\) [ZX] /.test(readFileOr(`/proc/${zombie}/stat`)) ? true : undefined), 'the child to be a zombie');
    writeHolder({ pid: zombie, hostname: os.hostname(), startedAt: '2001-01-01T00:00:00.000Z' });
    const logs: string[] = [];
    const lock = acquireSectionLock(lockPath, SECTION, (m) => logs.push(m));
    expect(readLockHolder(lockPath)?.pid).to.equal(process.pid);
    expect(logs.join('\n')).to.include(`process ${zombie} `).and.to.include('it is a zombie');
    lock.release();
  });

  (process.platform === 'linux' ? it : it.skip)('takes over a lock whose pid was reused by a later process', () => {
    // Our own pid is alive, but not the process that started at this made-up time.
    writeHolder({ pid: process.pid, hostname: os.hostname(), startedAt: '2001-01-01T00:00:00.000Z', procStart: 'other-boot:12' });
    const logs: string[] = [];
    const lock = acquireSectionLock(lockPath, SECTION, (m) => logs.push(m));
    expect(logs.join('\n')).to.include('pid now belongs to a process started later');
    lock.release();
  });

  it('does not delete a lock another process took between the staleness check and the takeover', async () => {
    const deadPid = await pidOfExitedProcess();
    writeHolder({ pid: deadPid, hostname: os.hostname(), startedAt: '2001-01-01T00:00:00.000Z' });
    const live: LockHolder = { pid: process.pid, hostname: os.hostname(), startedAt: new Date().toISOString() };
    const logs: string[] = [];
    let raced = false;
    const err = catchError(() =>
      acquireSectionLock(lockPath, SECTION, (m) => logs.push(m), {
        beforeTakeover() {
          if (raced) return;
          raced = true;
          // Another process removed the stale lock and took the section first.
          fs.rmSync(lockPath);
          fs.writeFileSync(lockPath, JSON.stringify(live));
        },
      }),
    );
    expect(raced).to.equal(true);
    expect(err).to.be.instanceOf(LockHeldError);
    expect((err as LockHeldError).context.pid).to.equal(process.pid);
    expect(readLockHolder(lockPath)).to.deep.equal(live);
    expect(fs.readdirSync(path.dirname(lockPath))).to.deep.equal(['sec.lock']);
    expect(logs).to.deep.equal([]);
    fs.rmSync(lockPath);
  });

  it('a lock file without an owner record is being written when fresh, stale when old', () => {
    fs.mkdirSync(path.dirname(lockPath), { recursive: true });
    fs.writeFileSync(lockPath, '{"pid":');
    const err = catchError(() => acquireSectionLock(lockPath, SECTION));
    expect(err).to.be.instanceOf(LockHeldError);
    expect(fs.readFileSync(lockPath, 'utf8')).to.equal('{"pid":');

    // A minute before the lock's own mtime: the file system's clock, not this process's.
    const old = new Date(fs.statSync(lockPath).mtimeMs - 60_000);
    fs.utimesSync(lockPath, old, old);
    const logs: string[] = [];
    const lock = acquireSectionLock(lockPath, SECTION, (m) => logs.push(m));
    expect(readLockHolder(lockPath)?.pid).to.equal(process.pid);
    expect(logs.join('\n')).to.include('no owner record');
    lock.release();
  });

  it('an empty lock file no one holds a flock on (the Python tool stopped) is taken over at once', function () {
    if (process.platform !== 'linux') this.skip();
    fs.mkdirSync(path.dirname(lockPath), { recursive: true });
    fs.writeFileSync(lockPath, '');
    const logs: string[] = [];
    const lock = acquireSectionLock(lockPath, SECTION, (m) => logs.push(m));
    expect(readLockHolder(lockPath)?.pid).to.equal(process.pid);
    expect(logs.join('\n')).to.include('it is empty and no process holds a flock on it');
    lock.release();
    expect(fs.existsSync(lockPath)).to.equal(false);
  });

  it("honours a live flock on the lock file (the Python tool's), empty or not, and takes it at once when that process is gone", async function () {
    const holder = flockHolder(lockPath);
    if (!holder) this.skip();
    fs.mkdirSync(path.dirname(lockPath), { recursive: true });
    fs.writeFileSync(lockPath, '');
    const child = holder.spawn();
    children.push(child);
    await waitForLine(child, (l) => l === 'LOCKED');
    for (const content of ['', '{"pid":1,"hostname":"elsewhere","startedAt":"x"}']) {
      fs.writeFileSync(lockPath, content);
      const err = catchError(() => acquireSectionLock(lockPath, SECTION));
      expect(err, `content ${JSON.stringify(content)}`).to.be.instanceOf(LockHeldError);
      expect((err as LockHeldError).message).to.include(`process ${String(child.pid)}, which holds a FLOCK lock on ${lockPath}`);
      expect((err as LockHeldError).context.pid).to.equal(child.pid);
    }
    fs.writeFileSync(lockPath, '');
    child.kill('SIGKILL');
    await once(child, 'exit');
    const lock = acquireSectionLock(lockPath, SECTION);
    expect(readLockHolder(lockPath)?.pid).to.equal(process.pid);
    lock.release();
  });

  it('a process that exits without releasing removes its own lock, never one that names another holder', async () => {
    const own = spawnLocker();
    await waitForLine(own, (l) => l === 'ACQUIRED');
    const other: LockHolder = { pid: 1, hostname: os.hostname(), startedAt: new Date().toISOString() };
    fs.writeFileSync(lockPath, JSON.stringify(other));
    own.stdin?.end(); // process.exit(0) without release
    await once(own, 'exit');
    expect(readLockHolder(lockPath)).to.deep.equal(other);
  });

  it('a lock of ours is never seen without its owner record', () => {
    const lock = acquireSectionLock(lockPath, SECTION);
    expect(fs.readdirSync(path.dirname(lockPath))).to.deep.equal(['sec.lock']);
    expect(readLockHolder(lockPath)?.pid).to.equal(process.pid);
    lock.release();
  });

  it('release leaves a lock that names another holder in place', () => {
    const lock = acquireSectionLock(lockPath, SECTION);
    const other: LockHolder = { pid: 1, hostname: os.hostname(), startedAt: new Date().toISOString() };
    fs.writeFileSync(lockPath, JSON.stringify(other));
    lock.release();
    expect(readLockHolder(lockPath)).to.deep.equal(other);
    fs.rmSync(lockPath); // keep lockfile's exit handler from mattering either way
  });

  it('readLockHolder gives undefined for a missing or unparsable file', () => {
    expect(readLockHolder(lockPath)).to.equal(undefined);
    fs.mkdirSync(path.dirname(lockPath), { recursive: true });
    fs.writeFileSync(lockPath, '{"pid":');
    expect(readLockHolder(lockPath)).to.equal(undefined);
    fs.writeFileSync(lockPath, JSON.stringify({ pid: 0, hostname: 'h', startedAt: 'x' }));
    expect(readLockHolder(lockPath)).to.equal(undefined);
  });

  it('several processes breaking the same stale lock at once: exactly one wins', async function () {
    this.timeout(20_000);
    const deadPid = await pidOfExitedProcess();
    writeHolder({ pid: deadPid, hostname: os.hostname(), startedAt: '2001-01-01T00:00:00.000Z' });
    const racers = Array.from({ length: 4 }, () => spawnLocker({ UZP_WAIT_FOR_GO: '1' }));
    await Promise.all(racers.map((c) => waitForLine(c, (l) => l === 'READY')));
    for (const c of racers) c.stdin?.write('go\n');
    const outcomes = await Promise.all(racers.map((c) => waitForLine(c, (l) => l === 'ACQUIRED' || l.startsWith('HELD'))));
    expect(outcomes.filter((o) => o === 'ACQUIRED')).to.have.length(1);
    expect(outcomes.filter((o) => o === 'HELD UZP_LOCK_HELD')).to.have.length(racers.length - 1);
    const winner = racers[outcomes.indexOf('ACQUIRED')];
    expect(readLockHolder(lockPath)?.pid).to.equal(winner?.pid);
    expect(fs.readdirSync(path.dirname(lockPath))).to.deep.equal(['sec.lock']);
  });

  function writeHolder(h: LockHolder): void {
    fs.mkdirSync(path.dirname(lockPath), { recursive: true });
    fs.writeFileSync(lockPath, JSON.stringify(h));
  }
});

/** Acquires the lock (after "go" on stdin when asked), reports, then holds it until stdin ends. */
const LOCKER = `
const { acquireSectionLock } = await import(process.env.UZP_LOCK_MODULE);
const lines = [];
let wake;
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => { lines.push(d); wake?.(); });
process.stdin.on('end', () => process.exit(0));
if (process.env.UZP_WAIT_FOR_GO) {
  console.log('READY');
  await new Promise((r) => { wake = r; if (lines.length) r(); });
}
try {
  acquireSectionLock(process.env.UZP_LOCK_PATH, ${JSON.stringify(SECTION)}, (m) => console.log('LOG ' + m));
  console.log('ACQUIRED');
} catch (e) {
  console.log('HELD ' + e.code);
}
`;

function waitForLine(child: ChildProcess & { lines: string[] }, match: (line: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`child ${child.pid} printed no matching line; got ${JSON.stringify(child.lines)}`)), 15_000);
    const check = (): void => {
      const line = child.lines.find(match);
      if (line !== undefined) done(undefined, line);
    };
    const onExit = (): void => done(new Error(`child ${child.pid} exited; it printed ${JSON.stringify(child.lines)}`));
    function done(err?: Error, line?: string): void {
      clearTimeout(timer);
      child.off('lines', check);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(line as string);
    }
    child.on('lines', check);
    child.once('exit', onExit);
    check();
  });
}

/**
 * A child that takes flock(2) on `file` the way the Python tool does and
 * prints LOCKED: util-linux `flock` if installed, else python3's fcntl;
 * undefined when neither is there.
 */
function flockHolder(file: string): { spawn: () => ChildProcess & { lines: string[] } } | undefined {
  if (process.platform !== 'linux') return undefined;
  const has = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
  const wrap = (child: ChildProcess): ChildProcess & { lines: string[] } => {
    const c = child as ChildProcess & { lines: string[] };
    c.lines = [];
    c.stdout?.setEncoding('utf8').on('data', (d: string) => {
      c.lines.push(...d.split('\n').filter(Boolean));
      c.emit('lines');
    });
    return c;
  };
  // exec: the flock holder is the very process the test kills; -o: its child does not inherit the lock.
  if (has('flock')) return { spawn: () => wrap(spawn('sh', ['-c', 'exec flock -o "$0" sh -c \'echo LOCKED; exec cat\'', file], { stdio: ['pipe', 'pipe', 'inherit'] })) };
  if (has('python3')) {
    const py = 'import fcntl,sys\nf=open(sys.argv[1],"a")\nfcntl.flock(f,fcntl.LOCK_EX)\nprint("LOCKED",flush=True)\nsys.stdin.read()';
    return { spawn: () => wrap(spawn('python3', ['-c', py, file], { stdio: ['pipe', 'pipe', 'inherit'] })) };
  }
  return undefined;
}

async function pidOfExitedProcess(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await once(child, 'exit');
  if (child.pid === undefined) throw new Error('no pid');
  return child.pid;
}

function readFileOr(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
