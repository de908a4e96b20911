import { catchError } from '../support/harness.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { readPosition, writePosition } from '../../src/storage/position-store.js';
import { StateCorruptError, WriteError } from '../../src/common/errors.js';

describe('position-store', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'uzp-pos-'));
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('reads undefined when the position file does not exist', () => {
    expect(readPosition(path.join(dir, 'none.pos'), 'S')).to.equal(undefined);
  });

  it('reads the Python tool\'s files, with or without a trailing newline', () => {
    const f = path.join(dir, 'py.pos');
    fs.writeFileSync(f, '1734876000\n');
    expect(readPosition(f, 'S')).to.equal(1734876000);
    fs.writeFileSync(f, '1734876000');
    expect(readPosition(f, 'S')).to.equal(1734876000);
    fs.writeFileSync(f, '1734876000\r\n');
    expect(readPosition(f, 'S')).to.equal(1734876000);
  });

  for (const bad of ['abc', '', '12x', '1.5', '-5', '1e9', '\n']) {
    it(`throws StateCorruptError naming the file for content ${JSON.stringify(bad)}`, () => {
      const f = path.join(dir, 'bad.pos');
      fs.writeFileSync(f, bad);
      const err = catchError(() => readPosition(f, 'MailLogger:x'));
      expect(err).to.be.instanceOf(StateCorruptError);
      const e = err as StateCorruptError;
      expect(e.code).to.equal('UZP_STATE_CORRUPT');
      expect(e.context.path).to.equal(f);
      expect(e.context.section).to.equal('MailLogger:x');
      expect(e.message).to.include(f).and.to.include('write that Unix time');
    });
  }

  it('throws StateCorruptError when the position path cannot be read as a file', () => {
    const f = path.join(dir, 'adir.pos');
    fs.mkdirSync(f);
    const err = catchError(() => readPosition(f, 'S'));
    expect(err).to.be.instanceOf(StateCorruptError);
    expect((err as StateCorruptError).context.path).to.equal(f);
  });

  it('writes a plain integer with a newline, creating directories 0750 and the file 0640 (less umask)', () => {
    const f = path.join(dir, 'a', 'b', 'sec.pos');
    writePosition(f, 1734876000, 'S');
    expect(fs.readFileSync(f, 'utf8')).to.equal('1734876000\n');
    expect(readPosition(f, 'S')).to.equal(1734876000);
    const umask = process.umask();
    expect(fs.statSync(f).mode & 0o777).to.equal(0o640 & ~umask);
    expect(fs.statSync(path.join(dir, 'a')).mode & 0o777).to.equal(0o750 & ~umask);
    expect(fs.statSync(path.join(dir, 'a', 'b')).mode & 0o777).to.equal(0o750 & ~umask);
  });

  it('replaces the old value, leaves no temp files and keeps an existing file\'s mode', () => {
    const f = path.join(dir, 'sec.pos');
    fs.writeFileSync(f, '100\n', { mode: 0o600 });
    fs.chmodSync(f, 0o600);
    writePosition(f, 200, 'S');
    expect(fs.readFileSync(f, 'utf8')).to.equal('200\n');
    expect(fs.readdirSync(dir)).to.deep.equal(['sec.pos']);
    expect(fs.statSync(f).mode & 0o777).to.equal(0o600);
  });

  it('throws WriteError naming the path when the directory cannot be created, and the old position stays', () => {
    const blocker = path.join(dir, 'plainfile');
    fs.writeFileSync(blocker, 'x');
    const f = path.join(blocker, 'sub', 'sec.pos');
    const err = catchError(() => writePosition(f, 5, 'S'));
    expect(err).to.be.instanceOf(WriteError);
    expect((err as WriteError).code).to.equal('UZP_WRITE_FAILED');
    expect((err as WriteError).context.path).to.equal(f);
    expect(fs.readFileSync(blocker, 'utf8')).to.equal('x');
  });

  it('throws WriteError when the position path is a directory; nothing is replaced', () => {
    const f = path.join(dir, 'adir.pos');
    fs.mkdirSync(f);
    fs.writeFileSync(path.join(f, 'inside'), 'keep');
    const err = catchError(() => writePosition(f, 5, 'S'));
    expect(err).to.be.instanceOf(WriteError);
    expect(fs.readFileSync(path.join(f, 'inside'), 'utf8')).to.equal('keep');
  });

  it('rejects a position that is not a whole non-negative number', () => {
    const f = path.join(dir, 'sec.pos');
    expect(() => writePosition(f, 1.5, 'S')).to.throw(RangeError);
    expect(() => writePosition(f, -1, 'S')).to.throw(RangeError);
    expect(fs.existsSync(f)).to.equal(false);
  });
});
