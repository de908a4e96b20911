// Advisory files (heartbeats, the metrics file): replaced in one rename
// without fsyncs and without write-file-atomic's per-call work
// (src/storage/durable-fs.ts). What a reader and an operator rely on: the
// whole new content or the whole old one, the modes they set, no temp files.

import { expect } from 'chai';
import fs from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomicDurable } from '../../src/storage/durable-fs.js';
import { tempDir } from '../support/harness.js';

function withUmask<T>(mask: number, fn: () => T): T {
  const old = process.umask(mask);
  try {
    return fn();
  } finally {
    process.umask(old);
  }
}

describe('advisory file replacement (durable: false)', () => {
  it('creates a new file with 0640 less the umask, in a directory it makes, and leaves only that file', () => {
    const dir = join(tempDir('uzp-advisory-'), 'a', 'b');
    const file = join(dir, 'heartbeat.json');
    withUmask(0o027, () => writeFileAtomicDurable(file, '{"status":"running"}\n', { durable: false }));
    expect(fs.readFileSync(file, 'utf8')).to.equal('{"status":"running"}\n');
    expect(fs.statSync(file).mode & 0o777).to.equal(0o640);
    withUmask(0o077, () => writeFileAtomicDurable(join(dir, 'strict.json'), 'x', { durable: false }));
    expect(fs.statSync(join(dir, 'strict.json')).mode & 0o777).to.equal(0o600);
    expect(fs.readdirSync(dir).sort()).to.deep.equal(['heartbeat.json', 'strict.json']);
  });

  it('keeps the mode an operator gave an existing file, whatever the umask, and replaces the content whole', () => {
    const file = join(tempDir('uzp-advisory-'), 'heartbeat.json');
    fs.writeFileSync(file, 'old content that is longer than the new one\n');
    fs.chmodSync(file, 0o664);
    withUmask(0o022, () => writeFileAtomicDurable(file, 'new\n', { durable: false }));
    expect(fs.readFileSync(file, 'utf8')).to.equal('new\n');
    expect(fs.statSync(file).mode & 0o777).to.equal(0o664);
  });

  it('with exactMode, gives the file exactly that mode, new or not, under any umask', () => {
    const file = join(tempDir('uzp-advisory-'), 'uzmanposta.prom');
    withUmask(0o077, () => writeFileAtomicDurable(file, 'a 1\n', { mode: 0o644, exactMode: true, durable: false }));
    expect(fs.statSync(file).mode & 0o777).to.equal(0o644);
    fs.chmodSync(file, 0o600);
    withUmask(0o077, () => writeFileAtomicDurable(file, 'a 2\n', { mode: 0o644, exactMode: true, durable: false }));
    expect(fs.statSync(file).mode & 0o777).to.equal(0o644);
    expect(fs.readFileSync(file, 'utf8')).to.equal('a 2\n');
  });

  it('fails with the system error when the rename cannot happen, leaving no temp file behind', () => {
    const dir = tempDir('uzp-advisory-');
    // A directory where the file should be: the rename fails (EISDIR), whoever runs the test.
    fs.mkdirSync(join(dir, 'heartbeat.json'));
    let caught: NodeJS.ErrnoException | undefined;
    try {
      writeFileAtomicDurable(join(dir, 'heartbeat.json'), 'x', { durable: false });
    } catch (err) {
      caught = err as NodeJS.ErrnoException;
    }
    expect(caught?.code).to.be.oneOf(['EISDIR', 'ENOTEMPTY', 'EEXIST']);
    expect(fs.readdirSync(dir)).to.deep.equal(['heartbeat.json']);
  });
});
