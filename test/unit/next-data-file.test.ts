// create_next_data_file: the next period's data file, created empty after a
// run, for agents that look for it when the period starts (Wazuh at midnight).

import { expect } from 'chai';
import fs from 'node:fs';
import { join } from 'node:path';
import { createNextDataFile, nextPeriodStart } from '../../src/storage/next-data-file.js';
import { dataFileName } from '../../src/config/file-names.js';
import type { SectionConfig } from '../../src/config/section-config.js';
import { tempDir } from '../support/harness.js';
import { dayAnchor } from '../support/epochs.js';

function section(format: string, extra: Partial<SectionConfig> = {}): SectionConfig {
  return { outputDirectory: tempDir('uzp-next-'), logFileNameFormat: format, fileTime: 'write', createNextDataFile: true, ...extra } as SectionConfig;
}

// Times of day around the anchor (a UTC midnight), including the last minute of a day and of a month's end.
const NOWS = [0, 59_999, 3_599_999, 12 * 3_600_000 + 1234, 86_399_000].map((ms) => dayAnchor() + ms / 1000).map((s) => s * 1000);

describe('create_next_data_file', () => {
  for (const format of ['x_%Y-%m-%d_%H.log', 'x_%Y-%m-%d.log', 'x_%Y-%m.log', 'x_%Y%m%d%H%M.log']) {
    it(`finds where the name next changes for ${format}: a new name there, the current one a moment before`, () => {
      const cfg = section(format);
      for (const now of NOWS) {
        const next = nextPeriodStart(cfg, now);
        expect(next, `after ${new Date(now).toISOString()}`).to.be.instanceOf(Date);
        expect(next!.getTime()).to.be.greaterThan(now);
        expect(dataFileName(cfg, next!)).not.to.equal(dataFileName(cfg, new Date(now)));
        expect(dataFileName(cfg, new Date(next!.getTime() - 1)), 'nothing earlier changes the name').to.equal(dataFileName(cfg, new Date(now)));
      }
    });
  }

  it('has no next period for a name without date fields', async () => {
    expect(nextPeriodStart(section('all.log'), NOWS[0]!)).to.equal(undefined);
    expect(await createNextDataFile(section('all.log'), NOWS[0]!)).to.equal(undefined);
  });

  it('creates the next file empty, with the data file mode, and never touches one that exists', async () => {
    const cfg = section('x_%Y-%m-%d.log');
    const now = NOWS[3]!;
    const expected = dataFileName(cfg, nextPeriodStart(cfg, now)!);
    const old = process.umask(0o022);
    try {
      expect(await createNextDataFile(cfg, now)).to.equal(expected);
    } finally {
      process.umask(old);
    }
    expect(fs.statSync(expected).size).to.equal(0);
    expect(fs.statSync(expected).mode & 0o777).to.equal(0o640);
    fs.writeFileSync(expected, '{"a":1}\n');
    expect(await createNextDataFile(cfg, now), 'exists: not created').to.equal(undefined);
    expect(fs.readFileSync(expected, 'utf8')).to.equal('{"a":1}\n');
    expect(fs.readdirSync(cfg.outputDirectory)).to.deep.equal([expected.split('/').pop()]);
  });

  it('does nothing when off, or when files are named by event time (the next file is not the one that grows next)', async () => {
    for (const cfg of [section('x_%Y-%m-%d.log', { createNextDataFile: false }), section('x_%Y-%m-%d.log', { fileTime: 'event' })]) {
      expect(await createNextDataFile(cfg, NOWS[3]!)).to.equal(undefined);
      expect(fs.readdirSync(cfg.outputDirectory)).to.deep.equal([]);
    }
  });

  it('creates the output directory if the section never wrote', async () => {
    const cfg = section('x_%Y-%m-%d.log', { outputDirectory: join(tempDir('uzp-next-'), 'deeper', 'out') });
    expect(await createNextDataFile(cfg, NOWS[3]!)).to.be.a('string');
  });
});
