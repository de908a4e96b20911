// `--check --shard I/N` (issue 12): the sections a shard owns, and a warning
// when sharding by section splits a key's rate budget between copies.

import { expect } from 'chai';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { main } from '../../src/cli/main.js';
import { loadConfig } from '../../src/config/load-config.js';
import { ownsSection, splitKeys } from '../../src/cli/shard-assignment.js';
import { tempDir } from '../support/harness.js';
import { writeIni } from '../support/write-ini.js';

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString('utf8');
    done();
  }
}

const KEY = 'shard-check-key-0123456789';

function configWithOneKey(): string {
  const dir = tempDir('uzp-shard-check-');
  const sections = Object.fromEntries(
    ['in', 'out', 'quar', 'hold', 'auth', 'in2'].map((n) => [`MailLogger:${n}`, { domain: `${n}.test`, type: n === 'out' ? 'outgoinglog' : 'incominglog' }]),
  );
  return writeIni(join(dir, 'uzmanposta.ini'), { DEFAULT: { api_key: KEY, start_time: 1_700_000_000 }, ...sections });
}

async function check(args: string[]): Promise<{ code: number; stdout: string }> {
  const stdout = new Capture();
  const code = await main(args, { stdout, stderr: new Capture(), env: {} });
  return { code, stdout: stdout.text };
}

describe('--check with --shard', () => {
  it('by key: shows the shard, only its sections, and no split warning', async () => {
    const path = configWithOneKey();
    const owner = [0, 1, 2].find((i) => loadConfig(path, { env: {} }).sections.every((s) => ownsSection({ index: i, count: 3, by: 'key' }, s)))!;
    const mine = await check(['--config', path, '--check', '--shard', `${owner}/3`]);
    expect(mine.code, mine.stdout).to.equal(0);
    expect(mine.stdout).to.include(`shard ${owner}/3 (by key): 6 of 6 section(s) below`);
    expect(mine.stdout).to.include('[MailLogger:in]');
    expect(mine.stdout).not.to.include('warning');
    const other = await check(['--config', path, '--check', '--shard', `${(owner + 1) % 3}/3`]);
    expect(other.stdout).to.include(`shard ${(owner + 1) % 3}/3 (by key): 0 of 6 section(s) below`);
    expect(other.stdout).not.to.include('[MailLogger:');
  });

  it('by section: warns, once per key, naming the sections and the shards that split its budget, never the key', async () => {
    const path = configWithOneKey();
    const spec = { index: 0, count: 3, by: 'section' as const };
    const split = splitKeys(loadConfig(path, { env: {} }).sections, spec);
    expect(split, 'six sections of one key on three shards by section: split').to.have.length(1);
    const r = await check(['--config', path, '--check', '--shard', '0/3', '--shard-by', 'section']);
    const warnings = r.stdout.split('\n').filter((l) => l.includes('warning:'));
    expect(warnings).to.have.length(1);
    expect(warnings[0]).to.include(`the sections ${split[0]!.sections.join(', ')} share one API key but land on shards ${split[0]!.shards.join(', ')}`);
    expect(warnings[0]).to.include('shard by key (the default) to keep it whole');
    expect(r.stdout).not.to.include(KEY);
  });
});
