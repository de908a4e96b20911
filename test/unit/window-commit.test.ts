import { catchError } from '../support/harness.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { expect } from 'chai';
import { commitWindow, pendingFileFor, recoverPendingCommit, type CommitHooks, type PendingRecord, type RecoveryOutcome } from '../../src/storage/window-commit.js';
import { readPosition, writePosition } from '../../src/storage/position-store.js';
import { StateCorruptError, WriteError } from '../../src/common/errors.js';

const SECTION = 'MailLogger:example.com-in';

class SimulatedCrash extends Error {}

describe('window-commit', () => {
  let dir: string;
  let posFile: string;
  let existing: string;
  let fresh: string;
  const ORIGINAL = '{"n":0}\n{"n":1}\n';

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'uzp-commit-'));
    posFile = path.join(dir, 'positions', 'sec.pos');
    existing = path.join(dir, 'out', 'existing.log');
    fresh = path.join(dir, 'out', 'new-hour', 'fresh.log');
    fs.mkdirSync(path.dirname(existing), { recursive: true });
    fs.writeFileSync(existing, ORIGINAL);
    writePosition(posFile, 1000, SECTION);
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function window(hooks?: CommitHooks, to = 1060): void {
    commitWindow({
      section: SECTION,
      positionFile: posFile,
      fromPosition: 1000,
      toPosition: to,
      appends: new Map([
        [existing, '{"n":2}\n{"n":3}\n'],
        [fresh, '{"n":4}\n'],
      ]),
      hooks,
    });
  }

  function expectUntouched(): void {
    expect(fs.readFileSync(existing, 'utf8')).to.equal(ORIGINAL);
    expect(fs.existsSync(fresh)).to.equal(false);
    expect(readPosition(posFile, SECTION)).to.equal(1000);
    expect(fs.existsSync(pendingFileFor(posFile))).to.equal(false);
  }

  it('appends every file, moves the position and clears the pending record', () => {
    window();
    expect(fs.readFileSync(existing, 'utf8')).to.equal(`${ORIGINAL}{"n":2}\n{"n":3}\n`);
    expect(fs.readFileSync(fresh, 'utf8')).to.equal('{"n":4}\n');
    expect(readPosition(posFile, SECTION)).to.equal(1060);
    expect(fs.existsSync(pendingFileFor(posFile))).to.equal(false);
    const umask = process.umask();
    expect(fs.statSync(fresh).mode & 0o777).to.equal(0o640 & ~umask);
    expect(fs.statSync(path.dirname(fresh)).mode & 0o777).to.equal(0o750 & ~umask);
    expect(recoverPendingCommit(posFile, SECTION)).to.deep.equal({ action: 'none', files: [] });
  });

  it('moves the position for an empty window', () => {
    commitWindow({ section: SECTION, positionFile: posFile, fromPosition: 1000, toPosition: 1300, appends: new Map() });
    expect(readPosition(posFile, SECTION)).to.equal(1300);
    expect(fs.existsSync(pendingFileFor(posFile))).to.equal(false);
  });

  it('writes the pending record, with sizes and target, before appending anything', () => {
    let seen: PendingRecord | undefined;
    window({
      afterPending() {
        seen = JSON.parse(fs.readFileSync(pendingFileFor(posFile), 'utf8')) as PendingRecord;
        expect(fs.readFileSync(existing, 'utf8')).to.equal(ORIGINAL);
      },
    });
    expect(seen).to.deep.include({ version: 1, section: SECTION, fromPosition: 1000, toPosition: 1060, positionBefore: 1000 });
    expect(seen?.files).to.deep.equal([
      { path: existing, size: Buffer.byteLength(ORIGINAL), existed: true, appendBytes: 16 },
      { path: fresh, size: 0, existed: false, appendBytes: 8 },
    ]);
    expect(Date.parse(seen?.createdAt ?? '')).to.be.a('number').and.not.NaN;
  });

  const crashPoints: { name: string; hooks: () => CommitHooks }[] = [
    { name: 'after the pending record', hooks: () => ({ afterPending: crash }) },
    { name: 'after the first append', hooks: () => ({ afterAppend: (p) => p === existing && crash() }) },
    { name: 'after the last append, before the position', hooks: () => ({ afterAppend: (p) => p === fresh && crash() }) },
  ];
  for (const point of crashPoints) {
    it(`rolls back to the exact bytes after a crash ${point.name}`, () => {
      expect(() => window(point.hooks())).to.throw(SimulatedCrash);
      expect(fs.existsSync(pendingFileFor(posFile))).to.equal(true);
      expect(readPosition(posFile, SECTION)).to.equal(1000);

      const outcome = recoverPendingCommit(posFile, SECTION);
      expect(outcome.action).to.equal('rolled-back');
      expect(outcome.files.map((f) => f.path)).to.deep.equal([existing, fresh]);
      expectUntouched();
      // A second recovery finds nothing to do: the window will simply be fetched again.
      expect(recoverPendingCommit(posFile, SECTION).action).to.equal('none');
      window();
      expect(fs.readFileSync(existing, 'utf8')).to.equal(`${ORIGINAL}{"n":2}\n{"n":3}\n`);
      expect(fs.readFileSync(fresh, 'utf8')).to.equal('{"n":4}\n');
    });
  }

  it('reports what it cut: truncatedFrom/To for a grown file, removal of a created one', () => {
    expect(() => window({ afterAppend: (p) => p === fresh && crash() })).to.throw(SimulatedCrash);
    const outcome = recoverPendingCommit(posFile, SECTION);
    const orig = Buffer.byteLength(ORIGINAL);
    expect(outcome.files).to.deep.equal([
      { path: existing, truncatedFrom: orig + 16, truncatedTo: orig },
      { path: fresh, truncatedFrom: 8, truncatedTo: 0 },
    ]);
  });

  it('cuts off a partial line left by a crash in the middle of an append', () => {
    expect(() => window({ afterPending: crash })).to.throw(SimulatedCrash);
    fs.appendFileSync(existing, '{"n":2}\n{"n"'); // what a kill mid-write can leave
    expect(recoverPendingCommit(posFile, SECTION).action).to.equal('rolled-back');
    expectUntouched();
  });

  it('does not roll back a crash after the position was saved: it completes the commit', () => {
    expect(() => window({ afterPosition: crash })).to.throw(SimulatedCrash);
    expect(fs.existsSync(pendingFileFor(posFile))).to.equal(true);
    const outcome = recoverPendingCommit(posFile, SECTION);
    expect(outcome).to.deep.equal({ action: 'completed', files: [] });
    expect(fs.readFileSync(existing, 'utf8')).to.equal(`${ORIGINAL}{"n":2}\n{"n":3}\n`);
    expect(fs.readFileSync(fresh, 'utf8')).to.equal('{"n":4}\n');
    expect(readPosition(posFile, SECTION)).to.equal(1060);
    expect(fs.existsSync(pendingFileFor(posFile))).to.equal(false);
  });

  it('tells a finished from an unfinished window by the files when the window does not move the position', () => {
    expect(() => window({ afterPosition: crash }, 1000)).to.throw(SimulatedCrash);
    expect(recoverPendingCommit(posFile, SECTION).action).to.equal('completed');
    expect(fs.readFileSync(fresh, 'utf8')).to.equal('{"n":4}\n');

    fs.rmSync(fresh);
    fs.writeFileSync(existing, ORIGINAL);
    expect(() => window({ afterAppend: (p) => p === existing && crash() }, 1000)).to.throw(SimulatedCrash);
    expect(recoverPendingCommit(posFile, SECTION).action).to.equal('rolled-back');
    expectUntouched();
  });

  it('rolls back when no position existed before the window', () => {
    fs.rmSync(posFile);
    expect(() =>
      commitWindow({
        section: SECTION,
        positionFile: posFile,
        fromPosition: null,
        toPosition: 1060,
        appends: new Map([[existing, 'x\n']]),
        hooks: { afterAppend: crash },
      }),
    ).to.throw(SimulatedCrash);
    expect(recoverPendingCommit(posFile, SECTION).action).to.equal('rolled-back');
    expect(fs.readFileSync(existing, 'utf8')).to.equal(ORIGINAL);
    expect(readPosition(posFile, SECTION)).to.equal(undefined);
  });

  it('refuses to start a window over an unrecovered pending record', () => {
    expect(() => window({ afterPending: crash })).to.throw(SimulatedCrash);
    const before = fs.readFileSync(pendingFileFor(posFile), 'utf8');
    const err = catchError(() => window());
    expect(err).to.be.instanceOf(StateCorruptError);
    expect((err as StateCorruptError).context.path).to.equal(pendingFileFor(posFile));
    expect(fs.readFileSync(pendingFileFor(posFile), 'utf8')).to.equal(before);
    expect(fs.readFileSync(existing, 'utf8')).to.equal(ORIGINAL);
  });

  it('does not append when the position file is corrupt', () => {
    fs.writeFileSync(posFile, '12x');
    const err = catchError(() => window());
    expect(err).to.be.instanceOf(StateCorruptError);
    expect((err as StateCorruptError).context.path).to.equal(posFile);
    expect(fs.readFileSync(existing, 'utf8')).to.equal(ORIGINAL);
    expect(fs.existsSync(pendingFileFor(posFile))).to.equal(false);
  });

  describe('corrupt state', () => {
    for (const bad of ['abc', '', '12x']) {
      it(`recovery throws StateCorruptError for position ${JSON.stringify(bad)} instead of guessing`, () => {
        expect(() => window({ afterPending: crash })).to.throw(SimulatedCrash);
        fs.writeFileSync(posFile, bad);
        const err = catchError(() => recoverPendingCommit(posFile, SECTION));
        expect(err).to.be.instanceOf(StateCorruptError);
        expect((err as StateCorruptError).context.path).to.equal(posFile);
        expect((err as Error).message).to.include(posFile);
        // Nothing was cut back on a guess.
        expect(fs.existsSync(pendingFileFor(posFile))).to.equal(true);
      });
    }

    const badRecords: Record<string, string> = {
      'bad JSON': '{"version":1,',
      'empty file': '',
      'an array': '[]',
      'missing toPosition': JSON.stringify({ version: 1, section: SECTION, fromPosition: 1, files: [], createdAt: 'x' }),
      'missing files': JSON.stringify({ version: 1, section: SECTION, fromPosition: 1, toPosition: 2, createdAt: 'x' }),
      'a file without size': JSON.stringify({
        version: 1,
        section: SECTION,
        fromPosition: 1,
        toPosition: 2,
        files: [{ path: '/tmp/x.log', existed: true }],
        createdAt: 'x',
      }),
      'a relative file path': JSON.stringify({
        version: 1,
        section: SECTION,
        fromPosition: 1,
        toPosition: 2,
        files: [{ path: 'x.log', size: 0, existed: false }],
        createdAt: 'x',
      }),
      'an unknown version': JSON.stringify({ version: 2, section: SECTION, fromPosition: 1, toPosition: 2, files: [], createdAt: 'x' }),
    };
    for (const [name, text] of Object.entries(badRecords)) {
      it(`recovery throws StateCorruptError naming the pending file for ${name}`, () => {
        const pending = pendingFileFor(posFile);
        fs.writeFileSync(pending, text);
        const err = catchError(() => recoverPendingCommit(posFile, SECTION));
        expect(err).to.be.instanceOf(StateCorruptError);
        const e = err as StateCorruptError;
        expect(e.code).to.equal('UZP_STATE_CORRUPT');
        expect(e.context.path).to.equal(pending);
        expect(e.message).to.include(pending).and.to.include('truncate each listed file');
        expect(fs.readFileSync(pending, 'utf8')).to.equal(text);
      });
    }
  });

  describe('write errors', () => {
    it('an append target that is a directory: WriteError naming it, nothing written, position unchanged', () => {
      fs.rmSync(existing);
      fs.mkdirSync(existing);
      const err = catchError(() => window());
      expect(err).to.be.instanceOf(WriteError);
      expect((err as WriteError).code).to.equal('UZP_WRITE_FAILED');
      expect((err as WriteError).context.path).to.equal(existing);
      expect(readPosition(posFile, SECTION)).to.equal(1000);
      expect(fs.existsSync(fresh)).to.equal(false);
      expect(recoverPendingCommit(posFile, SECTION).action).to.equal('none');
    });

    it('an append failing midway: WriteError, position unchanged, pending kept, next run rolls back', () => {
      const err = catchError(() =>
        window({
          // The second file's directory turns out to be a plain file (ENOTDIR/EEXIST on mkdir).
          afterAppend: (p) => p === existing && fs.writeFileSync(path.dirname(fresh), 'not a dir'),
        }),
      );
      expect(err).to.be.instanceOf(WriteError);
      expect((err as WriteError).context.path).to.equal(fresh);
      expect((err as WriteError).message).to.include(fresh);
      expect(readPosition(posFile, SECTION)).to.equal(1000);
      expect(fs.existsSync(pendingFileFor(posFile))).to.equal(true);

      const outcome = recoverPendingCommit(posFile, SECTION);
      expect(outcome.action).to.equal('rolled-back');
      expect(fs.readFileSync(existing, 'utf8')).to.equal(ORIGINAL);
      expect(fs.existsSync(pendingFileFor(posFile))).to.equal(false);
    });

    it('a position that cannot be saved: WriteError, pending kept, next run rolls back', () => {
      const err = catchError(() =>
        window({
          // Replace the position file with a non-empty directory so the rename over it fails.
          afterAppend: (p) => {
            if (p !== fresh) return;
            fs.rmSync(posFile);
            fs.mkdirSync(posFile);
            fs.writeFileSync(path.join(posFile, 'x'), '');
          },
        }),
      );
      expect(err).to.be.instanceOf(WriteError);
      expect((err as WriteError).context.path).to.equal(posFile);
      expect(fs.existsSync(pendingFileFor(posFile))).to.equal(true);
      fs.rmSync(posFile, { recursive: true });
      fs.writeFileSync(posFile, '1000\n');
      expect(recoverPendingCommit(posFile, SECTION).action).to.equal('rolled-back');
      expectUntouched();
    });
  });

  it('survives SIGKILL at every step of a commit: no lost, duplicate or partial line, the right recovery', async function () {
    this.timeout(30_000);
    const work = path.join(dir, 'kill');
    const pos = path.join(work, 'sec.pos');
    // Where the child kills itself (SIGKILL, from its own commit hook), and what recovery must then do.
    const cases: { at: string; recovery: RecoveryOutcome['action']; cut: boolean }[] = [
      { at: 'afterPending', recovery: 'rolled-back', cut: false },
      { at: 'afterAppend:1', recovery: 'rolled-back', cut: true },
      { at: 'afterAppend:2', recovery: 'rolled-back', cut: true },
      { at: 'afterPosition', recovery: 'completed', cut: false },
    ];
    let position = 0;
    let round = 0;
    for (const c of [...cases, ...cases]) {
      round++;
      // The fourth window of each run, or the sixth: a new pair of files is created every 7 windows.
      const target = position + (round % 2 === 0 ? 4 : 6);
      const child = spawnCommitLoop(work, `${c.at}@${target}`);
      const out = collectStdout(child);
      const [, signal] = (await once(child, 'exit')) as [number | null, string | null];
      expect(signal, `round ${round}: the child killed itself at ${c.at}`).to.equal('SIGKILL');
      const reported = (await out).split('\n').filter(Boolean).map(Number);
      expect(reported.at(-1) ?? position, `round ${round}: commits announced before the kill`).to.equal(target - 1);

      const outcome = recoverPendingCommit(pos, SECTION);
      expect(outcome.action, `round ${round}: recovery after a kill at ${c.at}`).to.equal(c.recovery);
      expect(outcome.files.some((f) => f.truncatedFrom !== undefined), `round ${round}: bytes cut back`).to.equal(c.cut);
      position = readPosition(pos, SECTION) ?? 0;
      expect(position, `round ${round}: position after recovery`).to.equal(c.recovery === 'completed' ? target : target - 1);
      expectWindows(work, position);
      expect(fs.readdirSync(work).filter((n) => !n.endsWith('.log'))).to.deep.equal(['sec.pos']);
    }
  });
});

const LINES_PER_WINDOW = 20;

/** Windows 1..n (from fromPosition n-1 to n) into hourly-like files, a new pair every 7 windows. */
const COMMIT_LOOP = `
const { commitWindow, recoverPendingCommit } = await import(process.env.UZP_COMMIT_MODULE);
const { readPosition } = await import(process.env.UZP_POSITION_MODULE);
const dir = process.env.UZP_DIR;
const pos = dir + '/sec.pos';
const section = ${JSON.stringify(SECTION)};
recoverPendingCommit(pos, section);
let p = readPosition(pos, section) ?? 0;
// UZP_KILL_AT = '<hook>[:<nth append>]@<window>': SIGKILL this process at that step of that window's commit.
const [step, at] = process.env.UZP_KILL_AT.split('@');
const [hook, nth] = step.split(':');
let w = 0;
let appended = 0;
const die = (name) => {
  if (w === Number(at) && name === hook && (nth === undefined || appended === Number(nth))) process.kill(process.pid, 'SIGKILL');
};
const hooks = {
  afterPending() { appended = 0; die('afterPending'); },
  afterAppend() { appended++; die('afterAppend'); },
  afterPosition() { die('afterPosition'); },
};
for (;;) {
  w = p + 1;
  const lines = (file) => Array.from({ length: ${LINES_PER_WINDOW} }, (_, k) => JSON.stringify({ file, w, k, pad: 'x'.repeat(300) }) + '\\n').join('');
  const hour = Math.floor(w / 7);
  commitWindow({
    section, positionFile: pos, fromPosition: p, toPosition: w, hooks,
    appends: new Map([[dir + '/a-' + hour + '.log', lines('a')], [dir + '/b-' + hour + '.log', lines('b')]]),
  });
  p = w;
  process.stdout.write(w + '\\n');
}
`;

function spawnCommitLoop(work: string, killAt: string): ChildProcess {
  return spawn(process.execPath, ['--input-type=module', '-e', COMMIT_LOOP], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: {
      ...process.env,
      UZP_DIR: work,
      UZP_KILL_AT: killAt,
      UZP_COMMIT_MODULE: new URL('../../src/storage/window-commit.js', import.meta.url).href,
      UZP_POSITION_MODULE: new URL('../../src/storage/position-store.js', import.meta.url).href,
    },
  });
}

/** Everything the child writes to stdout, once it closes. */
async function collectStdout(child: ChildProcess): Promise<string> {
  let text = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (text += d));
  if (child.stdout) await once(child.stdout, 'close');
  return text;
}

function expectWindows(work: string, position: number): void {
  fs.mkdirSync(work, { recursive: true });
  const names = fs.readdirSync(work).filter((n) => n.endsWith('.log'));
  for (const prefix of ['a', 'b']) {
    const files = names
      .filter((n) => n.startsWith(`${prefix}-`))
      .sort((x, y) => Number(x.slice(2, -4)) - Number(y.slice(2, -4)));
    let text = '';
    for (const f of files) {
      const content = fs.readFileSync(path.join(work, f), 'utf8');
      expect(content.length, `${f} is empty`).to.be.greaterThan(0);
      expect(content.endsWith('\n'), `${f} ends in a partial line`).to.equal(true);
      text += content;
    }
    const got = text === '' ? [] : text.trimEnd().split('\n').map((l) => {
      const r = JSON.parse(l) as { file: string; w: number; k: number };
      return `${r.file}:${r.w}:${r.k}`;
    });
    const want: string[] = [];
    for (let w = 1; w <= position; w++) for (let k = 0; k < LINES_PER_WINDOW; k++) want.push(`${prefix}:${w}:${k}`);
    expect(got.length).to.equal(want.length);
    expect(got).to.deep.equal(want);
  }
}

function crash(): never {
  throw new SimulatedCrash('simulated crash');
}
