// Command-line rules, through main() in-process: every usage error is exit 2
// with a message that says what to do, before anything is fetched.

import { expect } from 'chai';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { main } from '../../src/cli/main.js';
import { parseTimeValue } from '../../src/config/time-value.js';
import { tempDir } from '../support/harness.js';
import { writeIni, type IniSections } from '../support/write-ini.js';

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await main(args, { stdout, stderr, env: {} });
  return { code, out: stdout.text, err: stderr.text };
}

describe('command line', () => {
  let config: string;
  let mixed: string;
  before(() => {
    const dir = tempDir();
    // A closed port: these tests must never get as far as fetching.
    const body: IniSections = {
      DEFAULT: { api_key: 'cli-test-key-0123456789abcdef', url: 'http://127.0.0.1:9/api/v2/logs/mail' },
      'MailLogger:one': { domain: 'example.com' },
    };
    config = writeIni(join(dir, 'uzmanposta.ini'), body);
    mixed = writeIni(join(dir, 'mixed.ini'), { ...body, Other: { x: 1 } });
  });

  it('--version prints the package version', async () => {
    const r = await cli(['--version']);
    expect(r.code).to.equal(0);
    expect(r.out.trim()).to.match(/^\d+\.\d+\.\d+$/);
  });

  it('--help lists the options and exit codes', async () => {
    const r = await cli(['--help']);
    expect(r.code).to.equal(0);
    for (const flag of ['--config', '--section', '--all', '--parallel', '--max-workers', '--list', '--start-time', '--end-time', '--check']) expect(r.out).to.include(flag);
    expect(r.out).to.include('Exit codes');
  });

  const usage: [string, string[], RegExp][] = [
    ['an unknown flag', ['--bogus'], /bogus/i],
    ['--section and --all together', ['--section', 'one', '--all'], /mutually exclusive|conflict/i],
    ['an unknown section', ['--section', 'nope'], /no section 'nope'.*one/],
    ['--max-workers 0', ['--max-workers', '0', '--all'], /--max-workers must be a whole number/],
    ['--end-time without --start-time', ['--end-time', '1700000000'], /--end-time needs --start-time/],
    ['a start time that is no time', ['--start-time', 'yesterday'], /--start-time must be Unix seconds .* or ISO 8601 with a zone/],
    ['--end-time before --start-time', ['--start-time', '1700000100', '--end-time', '1700000000'], /must be after --start-time/],
    ['--online without --check', ['--online'], /--online goes with --check/],
    ['--list with --check', ['--list', '--check'], /--list and --check cannot be combined/],
  ];
  for (const [what, args, message] of usage) {
    it(`exits 2 for ${what}`, async () => {
      const r = await cli(['--config', config, ...args]);
      expect(r.code, r.err).to.equal(2);
      expect(r.err).to.match(message);
    });
  }

  it('exits 2 when the file has other sections and neither --section nor --all says what to run', async () => {
    const r = await cli(['--config', mixed]);
    expect(r.code).to.equal(2);
    expect(r.err).to.match(/Other.*--all/s);
  });

  it('exits 2 naming the file when the config does not exist', async () => {
    const r = await cli(['--config', join(tempDir(), 'missing.ini')]);
    expect(r.code).to.equal(2);
    expect(r.err).to.include('missing.ini');
  });

  it('reads Unix seconds and ISO 8601 times with a zone, as the config does', () => {
    expect(parseTimeValue('1734876000')).to.deep.equal({ value: 1734876000 });
    expect(parseTimeValue('2024-12-22T14:00:00Z')).to.deep.equal({ value: 1734876000 });
    expect(parseTimeValue('2024-12-22T17:00:00+03:00')).to.deep.equal({ value: 1734876000 });
    expect(parseTimeValue('2024-12-22 14:00:00')).to.have.property('error').that.matches(/zone is missing/);
    expect(parseTimeValue('2024-02-30T00:00:00Z')).to.have.property('error').that.matches(/not a real date/);
    expect(parseTimeValue('soon')).to.have.property('error');
  });
});
