// Lock leases (issue 12): a holder renews its lock while it runs; a lock from
// another host is taken over once it has gone twice its lease without
// renewal, judged on the file system's own clock; a holder whose lock was
// taken over knows it (fencing). Ages are set on the lock file itself, against
// the file system's "now", so nothing here waits for time to pass.

import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { acquireSectionLock, lockStillNames, readLockHolder, type LockHolder } from '../../src/storage/section-lock.js';
import { LeaseKeeper } from '../../src/engine/main/lease-keeper.js';
import { LockHeldError } from '../../src/common/errors.js';
import { catchError, tempDir } from '../support/harness.js';
import { ageOnFileSystem, fileSystemNowMs } from '../support/file-clock.js';

const SECTION = 'MailLogger:example.com-in';
const OTHER_HOST = `not-${os.hostname()}`;

describe('lock leases', () => {
  let lockPath: string;
  beforeEach(() => {
    lockPath = path.join(tempDir('uzp-lease-'), 'locks', 'sec.lock');
  });

  function writeHolder(h: LockHolder): void {
    fs.mkdirSync(path.dirname(lockPath), { recursive: true });
    fs.writeFileSync(lockPath, JSON.stringify(h));
  }

  describe('holding one', () => {
    it('writes the lease and a token of its own, and renewing moves the mtime on the file system clock', async () => {
      const lock = acquireSectionLock(lockPath, SECTION, () => {}, { leaseSeconds: 30 });
      const holder = readLockHolder(lockPath);
      expect(holder?.lease).to.equal(30);
      expect(holder?.token).to.equal(lock.token).and.match(/^[0-9a-f]{16}$/);
      const content = fs.readFileSync(lockPath, 'utf8');
      ageOnFileSystem(lockPath, 3600);
      const before = fs.statSync(lockPath).mtimeMs;
      expect(lock.renew()).to.equal('renewed');
      expect(fs.statSync(lockPath).mtimeMs - before, 'renewed an hour-old lease').to.be.greaterThan(3_000_000);
      expect(fs.readFileSync(lockPath, 'utf8'), 'the same holder record').to.equal(content);
      expect(await lockStillNames(lockPath, lock.token)).to.equal(true);
      lock.release();
      expect(fs.existsSync(lockPath)).to.equal(false);
    });

    it("knows when the lock was taken over or removed: renew says 'lost', lockStillNames false, release leaves the new holder's lock", async () => {
      const lock = acquireSectionLock(lockPath, SECTION, () => {}, { leaseSeconds: 30 });
      // Another host took it over: same path, another holder.
      const successor: LockHolder = { pid: 4242, hostname: OTHER_HOST, startedAt: new Date().toISOString(), lease: 30, token: 'feedfacefeedface' };
      writeHolder(successor);
      expect(lock.renew()).to.equal('lost');
      expect(await lockStillNames(lockPath, lock.token)).to.equal(false);
      lock.release();
      expect(readLockHolder(lockPath), 'the successor keeps its lock').to.deep.equal(successor);
      fs.unlinkSync(lockPath);
      expect(lock.renew()).to.equal('lost');
    });

    it('release leaves a lock with the same pid, host and start but another token', () => {
      const lock = acquireSectionLock(lockPath, SECTION, () => {}, { leaseSeconds: 30 });
      const mine = readLockHolder(lockPath)!;
      writeHolder({ ...mine, token: '0000000000000000' });
      lock.release();
      expect(fs.existsSync(lockPath)).to.equal(true);
    });
  });

  describe("another host's lock", () => {
    const foreign = (lease?: number): LockHolder => ({
      pid: 1,
      hostname: OTHER_HOST,
      startedAt: '2026-01-01T00:00:00.000Z',
      token: 'abcdefabcdefabcd',
      ...(lease === undefined ? {} : { lease }),
    });

    it('is held while its lease is renewed, and the message says when it may be taken over', () => {
      writeHolder(foreign(10));
      ageOnFileSystem(lockPath, 4);
      const err = catchError(() => acquireSectionLock(lockPath, SECTION, () => {}, { leaseSeconds: 10 }));
      expect(err).to.be.instanceOf(LockHeldError);
      expect((err as Error).message).to.match(new RegExp(`locked by process 1 on host ${OTHER_HOST} since 2026-01-01T00:00:00.000Z, lease renewed [3-5] s ago`));
      expect((err as Error).message).to.include('taken over once it has gone 20 s without renewal');
    });

    it('is still held when its lease ran out but not by the lease again (margin for clocks and caches)', () => {
      writeHolder(foreign(10));
      ageOnFileSystem(lockPath, 15);
      expect(catchError(() => acquireSectionLock(lockPath, SECTION))).to.be.instanceOf(LockHeldError);
      expect(readLockHolder(lockPath)?.token).to.equal('abcdefabcdefabcd');
    });

    it('is taken over once it went more than twice its lease without renewal, logging the old holder', () => {
      writeHolder(foreign(10));
      ageOnFileSystem(lockPath, 25);
      const logs: string[] = [];
      const lock = acquireSectionLock(lockPath, SECTION, (m) => logs.push(m), { leaseSeconds: 10 });
      expect(readLockHolder(lockPath)?.token).to.equal(lock.token);
      expect(logs).to.have.length(1);
      expect(logs[0]).to.match(new RegExp(`process 1 on host ${OTHER_HOST}, which took it at 2026-01-01T00:00:00.000Z, has not renewed its lease of 10 s for 2[4-6] s`));
      expect(fs.readdirSync(path.dirname(lockPath)), 'nothing left aside').to.deep.equal(['sec.lock']);
      lock.release();
    });

    it("follows the holder's own lease, not the taker's", () => {
      writeHolder(foreign(100));
      ageOnFileSystem(lockPath, 25);
      expect(catchError(() => acquireSectionLock(lockPath, SECTION, () => {}, { leaseSeconds: 10 }))).to.be.instanceOf(LockHeldError);
    });

    it('without a lease (lock_lease = 0, or an older version) is never taken over, however old', () => {
      writeHolder(foreign());
      ageOnFileSystem(lockPath, 30 * 86_400);
      const err = catchError(() => acquireSectionLock(lockPath, SECTION, () => {}, { leaseSeconds: 10 }));
      expect(err).to.be.instanceOf(LockHeldError);
      expect((err as Error).message).to.include('has no lease').and.include(`delete ${lockPath}`);
    });
  });

  describe('LeaseKeeper', () => {
    /** A keeper on injected timers and clock: the test fires the renewals. */
    function keeper(lock: ReturnType<typeof acquireSectionLock>, leaseSeconds: number) {
      let clockMs = 0;
      let every: number | undefined;
      const lost: string[] = [];
      const trouble: string[] = [];
      const k = new LeaseKeeper({
        lock,
        section: SECTION,
        leaseSeconds,
        onLost: (m) => lost.push(m),
        onTrouble: (m) => trouble.push(m),
        now: () => clockMs,
        setInterval: (_fn, ms) => {
          every = ms;
          return {};
        },
        clearInterval: () => undefined,
      });
      return { k, lost, trouble, every: () => every, advance: (ms: number) => (clockMs += ms) };
    }

    it('renews every third of the lease', () => {
      const lock = acquireSectionLock(lockPath, SECTION, () => {}, { leaseSeconds: 30 });
      const { k, lost, every } = keeper(lock, 30);
      expect(every()).to.equal(10_000);
      ageOnFileSystem(lockPath, 3600);
      k.renew();
      expect(fs.statSync(lockPath).mtimeMs).to.be.greaterThan(fileSystemNowMs(path.dirname(lockPath)) - 60_000);
      expect(lost).to.deep.equal([]);
      lock.release();
    });

    it('reports a lost lock once, naming the section and what to do', () => {
      const lock = acquireSectionLock(lockPath, SECTION, () => {}, { leaseSeconds: 30 });
      const { k, lost } = keeper(lock, 30);
      writeHolder({ pid: 4242, hostname: OTHER_HOST, startedAt: new Date().toISOString(), lease: 30, token: 'feedfacefeedface' });
      k.renew();
      k.renew();
      expect(lost).to.have.length(1);
      expect(lost[0]).to.include(`section ${SECTION}: its lock ${lockPath} was taken over by another run`).and.include('raise lock_lease');
    });

    it('keeps trying while renewals fail for less than a lease, and gives the lease up after a whole one', () => {
      const lock = acquireSectionLock(lockPath, SECTION, () => {}, { leaseSeconds: 30 });
      const { k, lost, trouble, advance } = keeper(lock, 30);
      // A real I/O failure: the lock path is now a directory.
      fs.unlinkSync(lockPath);
      fs.mkdirSync(lockPath);
      advance(10_000);
      k.renew();
      advance(10_000);
      k.renew();
      expect(lost).to.deep.equal([]);
      expect(trouble).to.have.length(2);
      expect(trouble[0]).to.match(/could not renew the lease of its lock .* \(EISDIR\); trying again/);
      advance(10_000);
      k.renew();
      expect(lost).to.have.length(1);
      expect(lost[0]).to.match(/could not renew the lease of its lock .* for 30 s \(EISDIR\); stopping before the next commit/);
    });

    it('does nothing without a lease', () => {
      const lock = acquireSectionLock(lockPath, SECTION);
      const { every } = keeper(lock, 0);
      expect(every(), 'no timer').to.equal(undefined);
      expect(readLockHolder(lockPath)?.lease).to.equal(undefined);
      lock.release();
    });
  });
});
