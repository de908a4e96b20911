import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { applyRetention } from '../../src/storage/log-retention.js';
import { hasDateTokens, localIsoString, strftime, strftimeParse, strftimeToRegExp } from '../../src/config/strftime.js';

describe('strftime', () => {
  const at = new Date(2025, 1, 3, 4, 5, 6, 7); // 3 Feb 2025 04:05:06 local

  it('formats every supported token in local time, %% as a percent sign, unknown tokens literally', () => {
    expect(strftime('%Y-%m-%d_%H:%M:%S %j %y %% %q', at)).to.equal('2025-02-03_04:05:06 034 25 % %q');
    expect(strftime('%j', new Date(2024, 11, 31))).to.equal('366');
  });

  it('tells formats with date tokens from those without', () => {
    expect(hasDateTokens('messages_%Y-%m-%d_%H.log')).to.equal(true);
    expect(hasDateTokens('errors_%j.log')).to.equal(true);
    expect(hasDateTokens('messages.log')).to.equal(false);
    expect(hasDateTokens('100%%_%q.log')).to.equal(false);
  });

  it('builds an anchored RegExp matching exactly the names the format produces', () => {
    const re = strftimeToRegExp('errors_%Y-%m-%d_%H.log');
    expect(re.test(strftime('errors_%Y-%m-%d_%H.log', at))).to.equal(true);
    for (const other of [
      'errors_2025-01-01_10.log.gz',
      'old-errors_2025-01-01_10.log',
      'errors_2025-13-01_10.log',
      'errors_2025-01-01_24.log',
      'errors_2025-01-01_7.log',
      'errors_2025-01-01_10xlog',
      'errors_backup.log',
    ]) {
      expect(re.test(other), other).to.equal(false);
    }
    expect(strftimeToRegExp('a.(%Y)+[x].log').test('a.(2025)+[x].log')).to.equal(true);
    expect(strftimeToRegExp('a.(%Y)+[x].log').test('aX(2025)+[x].log')).to.equal(false);
  });

  it('reads back the time a name encodes, and null for names the format cannot produce', () => {
    const hour = new Date(2025, 1, 3, 4).getTime();
    expect(strftimeParse('m_%Y-%m-%d_%H.log', 'm_2025-02-03_04.log')).to.equal(hour);
    expect(strftimeParse('m_%y%j.log', 'm_25034.log')).to.equal(new Date(2025, 1, 3).getTime());
    expect(strftimeParse('m_%Y-%m-%d_%H.log', 'm_2025-02-03.log')).to.equal(null);
  });

  it('writes local ISO 8601 times with their offset', () => {
    const s = localIsoString(at);
    expect(s).to.match(/^2025-02-03T04:05:06\.007[+-]\d\d:\d\d$/);
    expect(new Date(s).getTime()).to.equal(at.getTime());
  });
});

describe('log retention', () => {
  let dir: string;
  const FORMAT = 'errors_%Y-%m-%d_%H.log';
  const NOW = new Date(2025, 0, 1, 12, 30);

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'uzp-retention-'));
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function touch(name: string, mtime?: Date): void {
    const file = path.join(dir, name);
    fs.writeFileSync(file, `${name}\n`);
    if (mtime) fs.utimesSync(file, mtime, mtime);
  }
  const names = (paths: string[]): string[] => paths.map((p) => path.basename(p));
  const listing = (): string[] => fs.readdirSync(dir).sort();

  const NOT_OURS = [
    'messages_backup.log',
    'errors_backup.log',
    'errors_2025-01-01_10.log.gz',
    'errors_2025-01-01_7.log',
    'errors_2024-12-31_09.log.1',
    'example.com_incominglog_2024-12-31_09.log',
  ];

  it('keeps exactly the newest N matching files and never touches files that do not match', () => {
    for (const h of ['08', '09', '10', '11', '12']) touch(`errors_2025-01-01_${h}.log`);
    touch('errors_2024-12-31_23.log');
    for (const n of NOT_OURS) touch(n);

    const result = applyRetention(dir, FORMAT, 2, { now: NOW });

    expect(names(result.kept)).to.deep.equal(['errors_2025-01-01_12.log', 'errors_2025-01-01_11.log']);
    expect(names(result.deleted).sort()).to.deep.equal([
      'errors_2024-12-31_23.log',
      'errors_2025-01-01_08.log',
      'errors_2025-01-01_09.log',
      'errors_2025-01-01_10.log',
    ]);
    expect(result.note).to.equal(undefined);
    expect(listing()).to.deep.equal([...NOT_OURS, 'errors_2025-01-01_11.log', 'errors_2025-01-01_12.log'].sort());
    for (const p of [...result.kept, ...result.deleted]) expect(path.isAbsolute(p)).to.equal(true);
  });

  it("never deletes a file the section's data format names, even when the log format names it too", () => {
    const shared = 'example.com_incominglog_%Y-%m-%d_%H.log';
    for (const h of ['08', '09', '10']) touch(`example.com_incominglog_2025-01-01_${h}.log`);
    const result = applyRetention(dir, shared, 0, { now: NOW, protect: [shared] });
    expect(result.deleted).to.deep.equal([]);
    expect(listing()).to.have.length(3);
  });

  it('orders by the date in the name, not by modification time', () => {
    // The oldest name was touched last (e.g. copied back from a backup).
    touch('errors_2025-01-01_09.log', new Date(2025, 0, 5));
    touch('errors_2025-01-01_10.log', new Date(2025, 0, 1, 10));
    touch('errors_2025-01-01_11.log', new Date(2025, 0, 1, 11));

    const result = applyRetention(dir, FORMAT, 2, { now: NOW });

    expect(names(result.deleted)).to.deep.equal(['errors_2025-01-01_09.log']);
    expect(listing()).to.deep.equal(['errors_2025-01-01_10.log', 'errors_2025-01-01_11.log']);
  });

  it('breaks ties between names encoding the same time by modification time', () => {
    // %H twice: only the first is read, so these two names encode the same hour.
    const format = 'm_%Y-%m-%d_%H-%H.log';
    touch('m_2025-01-01_10-01.log', new Date(2025, 0, 1, 10, 59));
    touch('m_2025-01-01_10-02.log', new Date(2025, 0, 1, 10, 1));

    const result = applyRetention(dir, format, 1, { now: NOW });

    expect(names(result.kept)).to.deep.equal(['m_2025-01-01_10-01.log']);
    expect(names(result.deleted)).to.deep.equal(['m_2025-01-01_10-02.log']);
  });

  it('with keep = 0 deletes every older file but never the current hour\'s', () => {
    for (const h of ['10', '11', '12']) touch(`errors_2025-01-01_${h}.log`);

    const result = applyRetention(dir, FORMAT, 0, { now: NOW });

    expect(names(result.kept)).to.deep.equal(['errors_2025-01-01_12.log']);
    expect(listing()).to.deep.equal(['errors_2025-01-01_12.log']);
  });

  it('keeps the current hour\'s file even when files dated in the future fill the count', () => {
    touch('errors_2025-01-01_12.log');
    touch('errors_2025-01-01_13.log');
    touch('errors_2025-01-01_11.log');

    const result = applyRetention(dir, FORMAT, 1, { now: NOW });

    expect(names(result.kept)).to.deep.equal(['errors_2025-01-01_13.log', 'errors_2025-01-01_12.log']);
    expect(names(result.deleted)).to.deep.equal(['errors_2025-01-01_11.log']);
  });

  it('disables itself with a note for a format without date tokens', () => {
    touch('errors.log');
    touch('errors_2025-01-01_10.log');

    const result = applyRetention(dir, 'errors.log', 0, { now: NOW });

    expect(result.deleted).to.deep.equal([]);
    expect(result.kept).to.deep.equal([]);
    expect(result.note).to.match(/retention disabled.*no date tokens/);
    expect(listing()).to.deep.equal(['errors.log', 'errors_2025-01-01_10.log']);
  });

  it('leaves directories and symlinks with matching names alone', () => {
    touch('target.txt');
    fs.symlinkSync(path.join(dir, 'target.txt'), path.join(dir, 'errors_2025-01-01_01.log'));
    fs.mkdirSync(path.join(dir, 'errors_2025-01-01_02.log'));
    touch('errors_2025-01-01_03.log');

    const result = applyRetention(dir, FORMAT, 0, { now: NOW });

    expect(names(result.deleted)).to.deep.equal(['errors_2025-01-01_03.log']);
    expect(listing()).to.deep.equal(['errors_2025-01-01_01.log', 'errors_2025-01-01_02.log', 'target.txt']);
  });

  it('reports a missing directory in a note instead of failing', () => {
    const result = applyRetention(path.join(dir, 'not-yet'), FORMAT, 2, { now: NOW });
    expect(result).to.deep.include({ deleted: [], kept: [] });
    expect(result.note).to.contain('does not exist yet');
  });

  it('rejects a count that is not a non-negative integer', () => {
    expect(() => applyRetention(dir, FORMAT, -1)).to.throw(RangeError);
    expect(() => applyRetention(dir, FORMAT, 1.5)).to.throw(RangeError);
  });
});
