import { catchError, rejectionOf } from '../support/harness.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { expect } from 'chai';
import {
  journalFileFor,
  parseJournal,
  recoverPendingCommit,
  WindowCommitter,
  type CommitHooks,
  type JournalHeader,
  type RecoveryOutcome,
} from '../../src/storage/window-commit.js';
import { pendingFileFor } from '../../src/storage/legacy-pending-commit.js';
import { readPosition, writePosition } from '../../src/storage/position-store.js';
import { StateCorruptError, WriteError } from '../../src/common/errors.js';

const SECTION = 'MailLogger:example.com-in';

class SimulatedCrash extends Error {}


describe('window-commit: journal and roll-forward', () => {
  let dir: string;
  let posFile: string;
  let journal: string;
  let existing: string;
  let fresh: string;
  const ORIGINAL = '{"n":0}\n{"n":1}\n';
  const WIN_EXISTING = '{"n":2}\n{"n":3}\n';
  const WIN_FRESH = '{"n":4}\n';

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'uzp-commit-'));
    posFile = path.join(dir, 'positions', 'sec.pos');
    journal = journalFileFor(posFile);
    existing = path.join(dir, 'out', 'existing.log');
    fresh = path.join(dir, 'out', 'new-hour', 'fresh.log');
    fs.mkdirSync(path.dirname(existing), { recursive: true });
    fs.writeFileSync(existing, ORIGINAL);
    writePosition(posFile, 1000, SECTION);
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function window(hooks?: CommitHooks, to = 1060, committer = new WindowCommitter(posFile, SECTION, hooks)): Promise<WindowCommitter> {
    await committer.commit({
      fromPosition: 1000,
      toPosition: to,
      appends: new Map([
        [existing, WIN_EXISTING],
        [fresh, WIN_FRESH],
      ]),
    });
    return committer;
  }

  function expectCommitted(): void {
    expect(fs.readFileSync(existing, 'utf8')).to.equal(ORIGINAL + WIN_EXISTING);
    expect(fs.readFileSync(fresh, 'utf8')).to.equal(WIN_FRESH);
    expect(readPosition(posFile, SECTION)).to.equal(1060);
    expect(fs.existsSync(journal), 'journal left').to.equal(false);
  }

  /** Sizes of the data files now, to check that none ever shrinks. */
  function sizes(): number[] {
    return [existing, fresh].map((f) => (fs.existsSync(f) ? fs.statSync(f).size : 0));
  }
  function expectNotShrunk(before: number[]): void {
    const after = sizes();
    for (const [i, b] of before.entries()) expect(after[i], `${[existing, fresh][i]} shrank`).to.be.at.least(b);
  }

  it('appends every file and moves the position; the journal stays until the segment is sealed', async () => {
    const c = await window();
    expect(fs.readFileSync(existing, 'utf8')).to.equal(ORIGINAL + WIN_EXISTING);
    expect(readPosition(posFile, SECTION)).to.equal(1060);
    expect(fs.existsSync(journal), 'journal before seal').to.equal(true);
    await c.seal();
    expectCommitted();
    const umask = process.umask();
    expect(fs.statSync(fresh).mode & 0o777).to.equal(0o640 & ~umask);
    expect(fs.statSync(path.dirname(fresh)).mode & 0o777).to.equal(0o750 & ~umask);
    expect(await recoverPendingCommit(posFile, SECTION)).to.deep.equal({ action: 'none', files: [] });
  });

  it('moves the position for an empty window, with no journal', async () => {
    const c = new WindowCommitter(posFile, SECTION);
    await c.commit({ fromPosition: 1000, toPosition: 1300, appends: new Map() });
    expect(readPosition(posFile, SECTION)).to.equal(1300);
    expect(fs.existsSync(journal)).to.equal(false);
    await c.seal();
    expect(fs.readdirSync(path.dirname(posFile))).to.deep.equal(['sec.pos']);
  });

  it('writes the journal, with sizes, target and the very bytes, before appending anything', async () => {
    let seen: { header: JournalHeader; data: Buffer } | undefined;
    await window({
      afterJournal() {
        seen = parseJournal(fs.readFileSync(journal), journal, posFile, SECTION);
        expect(fs.readFileSync(existing, 'utf8')).to.equal(ORIGINAL);
      },
    });
    expect(seen?.header).to.deep.include({ version: 2, section: SECTION, fromPosition: 1000, toPosition: 1060, positionBefore: 1000 });
    expect(seen?.header.files).to.deep.equal([
      { path: existing, size: Buffer.byteLength(ORIGINAL), existed: true, appendBytes: 16 },
      { path: fresh, size: 0, existed: false, appendBytes: 8 },
    ]);
    expect(seen?.data.toString('utf8')).to.equal(WIN_EXISTING + WIN_FRESH);
  });

  const crashPoints: { name: string; hooks: () => CommitHooks; action: RecoveryOutcome['action']; appended: number[] }[] = [
    { name: 'after the journal', hooks: () => ({ afterJournal: crash }), action: 'rolled-forward', appended: [16, 8] },
    { name: 'after the first append', hooks: () => ({ afterAppend: (p) => void (p === existing && crash()) }), action: 'rolled-forward', appended: [0, 8] },
    { name: 'after the last append, before the position', hooks: () => ({ afterAppend: (p) => void (p === fresh && crash()) }), action: 'rolled-forward', appended: [0, 0] },
    { name: 'after the position, before the seal', hooks: () => ({ afterPosition: crash }), action: 'completed', appended: [0, 0] },
  ];
  for (const point of crashPoints) {
    it(`completes the window forward after a crash ${point.name}, never shrinking a file`, async () => {
      expect(await rejectionOf(window(point.hooks()))).to.be.instanceOf(SimulatedCrash);
      expect(fs.existsSync(journal)).to.equal(true);
      const before = sizes();
      const outcome = await recoverPendingCommit(posFile, SECTION);
      expect(outcome.action).to.equal(point.action);
      expect(outcome.files.map((f) => [f.path, f.appended])).to.deep.equal([
        [existing, point.appended[0]],
        [fresh, point.appended[1]],
      ]);
      expect(outcome.files.filter((f) => f.problem)).to.deep.equal([]);
      expectNotShrunk(before);
      expectCommitted();
      expect(await recoverPendingCommit(posFile, SECTION)).to.deep.equal({ action: 'none', files: [] });
    });
  }

  it('completes the rest of a partly written line', async () => {
    expect(await rejectionOf(window({ afterJournal: crash }))).to.be.instanceOf(SimulatedCrash);
    fs.appendFileSync(existing, '{"n":2}\n{"n"'); // what a cut-short write can leave
    const outcome = await recoverPendingCommit(posFile, SECTION);
    expect(outcome.action).to.equal('rolled-forward');
    expect(outcome.files[0]).to.deep.include({ appended: 16 - 12, rewritten: 0 });
    expectCommitted();
  });

  it('rewrites bytes that do not match the journal in place and turns zeros past the end into newlines, reporting both', async () => {
    expect(await rejectionOf(window({ afterAppend: (p) => void (p === existing && crash()) }))).to.be.instanceOf(SimulatedCrash);
    // A power loss: the window's second line became zeros, and the size ran 5 bytes past it.
    const fd = fs.openSync(existing, 'r+');
    fs.writeSync(fd, Buffer.alloc(8), 0, 8, Buffer.byteLength(ORIGINAL) + 8);
    fs.writeSync(fd, Buffer.alloc(5), 0, 5, Buffer.byteLength(ORIGINAL) + 16);
    fs.closeSync(fd);
    const before = sizes();
    const outcome = await recoverPendingCommit(posFile, SECTION);
    expectNotShrunk(before);
    expect(outcome.action).to.equal('rolled-forward');
    expect(outcome.files[0]).to.deep.include({ rewritten: 8, blanked: 5, appended: 0 });
    expect(outcome.files[0]?.problem).to.include('did not match').and.include('empty lines');
    expect(fs.readFileSync(existing, 'utf8')).to.equal(`${ORIGINAL}${WIN_EXISTING}\n\n\n\n\n`);
    expect(readPosition(posFile, SECTION)).to.equal(1060);
  });

  it('leaves bytes past the window it did not write and says so', async () => {
    expect(await rejectionOf(window({ afterPosition: crash }))).to.be.instanceOf(SimulatedCrash);
    fs.appendFileSync(existing, 'someone else\n');
    const outcome = await recoverPendingCommit(posFile, SECTION);
    expect(outcome.files[0]?.problem).to.include('not written by it');
    expect(fs.readFileSync(existing, 'utf8')).to.equal(`${ORIGINAL}${WIN_EXISTING}someone else\n`);
  });

  it('a data file removed or cut by something else gets the window appended, and it is reported', async () => {
    expect(await rejectionOf(window({ afterAppend: (p) => void (p === fresh && crash()) }))).to.be.instanceOf(SimulatedCrash);
    fs.writeFileSync(existing, 'x\n');
    fs.rmSync(fresh);
    const outcome = await recoverPendingCommit(posFile, SECTION);
    expect(fs.readFileSync(existing, 'utf8')).to.equal(`x\n${WIN_EXISTING}`);
    expect(fs.readFileSync(fresh, 'utf8')).to.equal(WIN_FRESH);
    expect(outcome.files[0]?.problem).to.include('shorter');
    // Created by the window itself: nothing to report.
    expect(outcome.files[1]?.problem).to.equal(undefined);
  });

  it('rolls forward when no position existed before the window', async () => {
    fs.rmSync(posFile);
    const c = new WindowCommitter(posFile, SECTION, { afterAppend: crash });
    expect(await rejectionOf(c.commit({ fromPosition: null, toPosition: 1060, appends: new Map([[existing, 'x\n']]) }))).to.be.instanceOf(SimulatedCrash);
    expect((await recoverPendingCommit(posFile, SECTION)).action).to.equal('rolled-forward');
    expect(fs.readFileSync(existing, 'utf8')).to.equal(`${ORIGINAL}x\n`);
    expect(readPosition(posFile, SECTION)).to.equal(1060);
  });

  it('a position file a power loss left empty: the journal stands for it', async () => {
    expect(await rejectionOf(window({ afterPosition: crash }))).to.be.instanceOf(SimulatedCrash);
    fs.writeFileSync(posFile, '');
    expect((await recoverPendingCommit(posFile, SECTION)).action).to.equal('rolled-forward');
    expectCommitted();
  });

  it('a later empty window moved the position past the journal: kept', async () => {
    const c = await window();
    await c.commit({ fromPosition: 1060, toPosition: 1200, appends: new Map() });
    const outcome = await recoverPendingCommit(posFile, SECTION);
    expect(outcome).to.deep.include({ action: 'completed' });
    expect(outcome.positionKept).to.equal(undefined);
    expect(readPosition(posFile, SECTION)).to.equal(1200);
  });

  it('a position set by hand to another time is kept, and said so', async () => {
    expect(await rejectionOf(window({ afterPosition: crash }))).to.be.instanceOf(SimulatedCrash);
    fs.writeFileSync(posFile, '500\n');
    const outcome = await recoverPendingCommit(posFile, SECTION);
    expect(outcome).to.deep.include({ action: 'completed', positionKept: 500 });
    expect(readPosition(posFile, SECTION)).to.equal(500);
    expect(fs.existsSync(journal)).to.equal(false);
  });

  it('refuses another window after one that failed part way; its journal stays', async () => {
    let fail = true;
    const c = new WindowCommitter(posFile, SECTION, { spaceFor: () => (fail ? 3 : undefined) });
    expect(await rejectionOf(window(undefined, 1060, c))).to.be.instanceOf(WriteError);
    fail = false;
    const err = await rejectionOf(window(undefined, 1060, c));
    expect(err).to.be.instanceOf(StateCorruptError);
    await c.seal();
    expect(fs.existsSync(journal), 'journal kept by seal').to.equal(true);
  });

  it('does not append when the position file is corrupt', async () => {
    fs.writeFileSync(posFile, '12x');
    const err = await rejectionOf(window());
    expect(err).to.be.instanceOf(StateCorruptError);
    expect((err as StateCorruptError).context.path).to.equal(posFile);
    expect(fs.readFileSync(existing, 'utf8')).to.equal(ORIGINAL);
    expect(fs.existsSync(journal)).to.equal(false);
  });

  describe('a full disk', () => {
    it('names the data write that failed, keeps the position, never rewrites while full, and completes once there is space', async () => {
      // 5 bytes fit, then the disk is full for every later write.
      let space: number | undefined = 5;
      const hooks: CommitHooks = {
        spaceFor: () => {
          const left = space;
          if (space !== undefined) space = 0;
          return left;
        },
      };
      const err = await rejectionOf(window(hooks));
      expect(err).to.be.instanceOf(WriteError);
      const e = err as WriteError;
      expect(e.context.path).to.equal(existing);
      expect(e.context.errno).to.equal('ENOSPC');
      expect(e.message).to.include(`the data file ${existing}`).and.include('ENOSPC: the disk is full').and.include(journal);
      expect(fs.readFileSync(existing, 'utf8')).to.equal(ORIGINAL + WIN_EXISTING.slice(0, 5));
      expect(readPosition(posFile, SECTION)).to.equal(1000);

      // Every run while the disk stays full: a clear error, no byte rewritten, nothing shorter.
      for (let run = 0; run < 3; run++) {
        const before = fs.readFileSync(existing);
        const again = await rejectionOf(recoverPendingCommit(posFile, SECTION, hooks));
        expect(again).to.be.instanceOf(WriteError);
        expect((again as WriteError).message).to.include(existing).and.include('ENOSPC').and.include('was not shortened');
        expect(fs.readFileSync(existing).equals(before), 'unchanged while full').to.equal(true);
        expect(fs.existsSync(journal)).to.equal(true);
        expect(readPosition(posFile, SECTION)).to.equal(1000);
      }

      // Space again: the first run completes the window.
      const outcome = await recoverPendingCommit(posFile, SECTION);
      expect(outcome.action).to.equal('rolled-forward');
      expectCommitted();
    });

    it('a journal that cannot be written: nothing appended, the position unchanged', async () => {
      fs.mkdirSync(journal);
      fs.writeFileSync(path.join(journal, 'x'), '');
      const err = await rejectionOf(window());
      expect(err).to.be.instanceOf(WriteError);
      expect((err as WriteError).message).to.include('commit journal').and.include('nothing was appended');
      expect(fs.readFileSync(existing, 'utf8')).to.equal(ORIGINAL);
      expect(readPosition(posFile, SECTION)).to.equal(1000);
    });
  });

  describe('corrupt journal', () => {
    it('a checksum that does not match: StateCorruptError naming the journal, nothing touched', async () => {
      expect(await rejectionOf(window({ afterJournal: crash }))).to.be.instanceOf(SimulatedCrash);
      const raw = fs.readFileSync(journal);
      raw[raw.length - 2] = 0x41;
      fs.writeFileSync(journal, raw);
      const err = await rejectionOf(recoverPendingCommit(posFile, SECTION));
      expect(err).to.be.instanceOf(StateCorruptError);
      expect((err as StateCorruptError).context.path).to.equal(journal);
      expect((err as Error).message).to.include('checksum');
      expect(fs.readFileSync(existing, 'utf8')).to.equal(ORIGINAL);
    });

    for (const [name, text] of Object.entries({
      'no header line': '{"version":2',
      'bad JSON': 'nope\n',
      'an unknown version': `${JSON.stringify({ version: 3 })}\n`,
      'fewer bytes than listed': `${JSON.stringify({ version: 2, section: SECTION, fromPosition: 1, toPosition: 2, positionBefore: 1, files: [{ path: '/tmp/x.log', size: 0, existed: false, appendBytes: 9 }], sha256: 'x', createdAt: 'x' })}\nabc`,
    })) {
      it(`${name}: StateCorruptError that says how to fix it`, async () => {
        fs.writeFileSync(journal, text);
        const err = await rejectionOf(recoverPendingCommit(posFile, SECTION));
        expect(err).to.be.instanceOf(StateCorruptError);
        expect((err as Error).message).to.include(journal).and.include('toPosition');
        expect(fs.readFileSync(journal, 'utf8')).to.equal(text);
      });
    }
  });

  it('a version-1 pending record of an older release is still rolled back once', async () => {
    fs.appendFileSync(existing, WIN_EXISTING);
    const record = {
      version: 1,
      section: SECTION,
      fromPosition: 1000,
      toPosition: 1060,
      positionBefore: 1000,
      files: [{ path: existing, size: Buffer.byteLength(ORIGINAL), existed: true, appendBytes: 16 }],
      createdAt: new Date(0).toISOString(),
    };
    fs.writeFileSync(pendingFileFor(posFile), JSON.stringify(record));
    const outcome = await recoverPendingCommit(posFile, SECTION);
    expect(outcome.action).to.equal('rolled-back');
    expect(outcome.truncated).to.deep.equal([{ path: existing, truncatedFrom: Buffer.byteLength(ORIGINAL) + 16, truncatedTo: Buffer.byteLength(ORIGINAL) }]);
    expect(fs.readFileSync(existing, 'utf8')).to.equal(ORIGINAL);
    expect(fs.existsSync(pendingFileFor(posFile))).to.equal(false);
  });

  it('clears temp files a kill left beside the position file', async () => {
    fs.writeFileSync(`${journal}.123456`, 'half');
    fs.writeFileSync(`${posFile}.987`, '12');
    await recoverPendingCommit(posFile, SECTION);
    expect(fs.readdirSync(path.dirname(posFile))).to.deep.equal(['sec.pos']);
  });

  it('survives SIGKILL at every step of a commit: no lost, duplicate or partial line, no file shorter, always forward', async function () {
    this.timeout(30_000);
    const work = path.join(dir, 'kill');
    const pos = path.join(work, 'sec.pos');
    // Where the child kills itself (SIGKILL, from its own commit hook), and what recovery must then do.
    const cases: { at: string; recovery: RecoveryOutcome['action'] }[] = [
      { at: 'afterJournal', recovery: 'rolled-forward' },
      { at: 'afterAppend:1', recovery: 'rolled-forward' },
      { at: 'afterAppend:2', recovery: 'rolled-forward' },
      { at: 'afterPosition', recovery: 'completed' },
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

      const sizesBefore = logSizes(work);
      const outcome = await recoverPendingCommit(pos, SECTION);
      expect(outcome.action, `round ${round}: recovery after a kill at ${c.at}`).to.equal(c.recovery);
      for (const [name, size] of sizesBefore) expect(logSizes(work).get(name), `round ${round}: ${name} shrank`).to.be.at.least(size);
      position = readPosition(pos, SECTION) ?? 0;
      expect(position, `round ${round}: position after recovery`).to.equal(target);
      expectWindows(work, position);
      expect(fs.readdirSync(work).filter((n) => !n.endsWith('.log'))).to.deep.equal(['sec.pos']);
    }
  });
});

const LINES_PER_WINDOW = 20;

/** Windows 1..n (from fromPosition n-1 to n) into hourly-like files, a new pair every 7 windows. */
const COMMIT_LOOP = `
const { WindowCommitter, recoverPendingCommit } = await import(process.env.UZP_COMMIT_MODULE);
const { readPosition } = await import(process.env.UZP_POSITION_MODULE);
const dir = process.env.UZP_DIR;
const pos = dir + '/sec.pos';
const section = ${JSON.stringify(SECTION)};
await recoverPendingCommit(pos, section);
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
  afterJournal() { appended = 0; die('afterJournal'); },
  afterAppend() { appended++; die('afterAppend'); },
  afterPosition() { die('afterPosition'); },
};
const committer = new WindowCommitter(pos, section, hooks);
for (;;) {
  w = p + 1;
  const lines = (file) => Array.from({ length: ${LINES_PER_WINDOW} }, (_, k) => JSON.stringify({ file, w, k, pad: 'x'.repeat(300) }) + '\\n').join('');
  const hour = Math.floor(w / 7);
  await committer.commit({
    fromPosition: p, toPosition: w,
    appends: new Map([[dir + '/a-' + hour + '.log', lines('a')], [dir + '/b-' + hour + '.log', lines('b')]]),
  });
  p = w;
  process.stdout.write(w + '\\n');
}
`;

function logSizes(work: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const n of fs.readdirSync(work).filter((x) => x.endsWith('.log'))) m.set(n, fs.statSync(path.join(work, n)).size);
  return m;
}

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
