// data_retention_days: the section's own finished data files older than N
// days go; nothing else does, and nothing the run may still append to.

import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { applyDataRetention, periodMs } from '../../src/storage/data-retention.js';
import { tempDir } from '../support/harness.js';

const FORMAT = 'example.com_incominglog_%Y-%m-%d_%H.log';
// Local time, as strftime names files: 2025-03-10 12:30.
const NOW = new Date(2025, 2, 10, 12, 30).getTime();
const HOUR = 3_600_000;

function touchAll(dir: string, names: string[]): void {
  for (const n of names) fs.writeFileSync(path.join(dir, n), `${n}\n`);
}

describe('data retention', () => {
  it('deletes the data files whose hour ended more than N days ago, and nothing else', () => {
    const dir = tempDir('uzp-data-retention-');
    const old = ['example.com_incominglog_2025-03-01_09.log', 'example.com_incominglog_2025-03-09_11.log'];
    // 2025-03-09 12:00-13:00 ends 23.5 h before NOW: inside one day, kept.
    const recent = ['example.com_incominglog_2025-03-09_12.log', 'example.com_incominglog_2025-03-10_12.log'];
    const others = [
      'messages_2025-03-01_09.log',
      'errors_2025-03-01_09.log',
      'example.com_outgoinglog_2025-03-01_09.log',
      'example.com_incominglog_2025-03-01_09.log.gz',
      'in_heartbeat.json',
    ];
    touchAll(dir, [...old, ...recent, ...others]);
    fs.mkdirSync(path.join(dir, 'example.com_incominglog_2025-03-01_10.log')); // a directory with a data name

    const r = applyDataRetention({ dir, format: FORMAT, days: 1, nowMs: NOW, position: Math.floor(NOW / 1000) - 60 });
    expect(r.deleted.map((p) => path.basename(p))).to.deep.equal(old);
    expect(r.failed).to.deep.equal([]);
    expect(fs.readdirSync(dir).sort()).to.deep.equal([...recent, ...others, 'example.com_incominglog_2025-03-01_10.log'].sort());
  });

  it('keeps what the run may still append to: nothing at or after the position goes', () => {
    const dir = tempDir('uzp-data-retention-');
    const names = ['example.com_incominglog_2025-03-01_09.log', 'example.com_incominglog_2025-03-01_10.log', 'example.com_incominglog_2025-03-01_11.log'];
    touchAll(dir, names);
    // The position sits inside the 10:00 hour (a section far behind): only 09:00 ended before it.
    const position = Math.floor((new Date(2025, 2, 1, 10, 30).getTime()) / 1000);
    const r = applyDataRetention({ dir, format: FORMAT, days: 1, nowMs: NOW, position });
    expect(r.deleted.map((p) => path.basename(p))).to.deep.equal([names[0]]);
    // Before the first commit nothing is known to be finished.
    expect(applyDataRetention({ dir, format: FORMAT, days: 1, nowMs: NOW, position: null }).deleted).to.deep.equal([]);
  });

  it('is off at 0 days, and off with a note for names without date tokens', () => {
    const dir = tempDir('uzp-data-retention-');
    touchAll(dir, ['example.com_incominglog_2025-03-01_09.log', 'all.log']);
    expect(applyDataRetention({ dir, format: FORMAT, days: 0, nowMs: NOW, position: 2_000_000_000 }).deleted).to.deep.equal([]);
    const r = applyDataRetention({ dir, format: 'all.log', days: 1, nowMs: NOW, position: 2_000_000_000 });
    expect(r.deleted).to.deep.equal([]);
    expect(r.note).to.match(/date tokens/);
    expect(fs.readdirSync(dir)).to.have.length(2);
  });

  it('ages a name by the longest span it can stand for', () => {
    expect(periodMs('x_%Y-%m-%d_%H.log')).to.equal(HOUR);
    expect(periodMs('x_%Y-%m-%d.log')).to.equal(24 * HOUR);
    expect(periodMs('x_%Y-%m.log')).to.equal(31 * 24 * HOUR);
    expect(periodMs('x_%Y.log')).to.equal(366 * 24 * HOUR);
    expect(periodMs('x_%%H_%Y.log'), 'a literal %H is no hour').to.equal(366 * 24 * HOUR);
  });
});
