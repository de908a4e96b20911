// `uzmanposta --list`: one row per section with category, type, domain and
// where it stands, through main() as bin/ calls it.

import { expect } from 'chai';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { main } from '../../src/cli/main.js';
import { tempDir } from '../support/harness.js';
import { dayAnchor } from '../support/epochs.js';
import { writeIni, type IniSections } from '../support/write-ini.js';

const KEY = 'list-test-key-0123456789abcdef';

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString('utf8');
    done();
  }
}

async function list(configPath: string, ...extra: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await main(['--config', configPath, '--list', ...extra], { stdout, stderr, env: {} });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

/** The table's cells per section name. */
function rows(stdout: string): Map<string, string[]> {
  const lines = stdout.split('\n');
  const header = lines.findIndex((l) => l.startsWith('section '));
  expect(header, stdout).to.be.greaterThan(-1);
  expect(lines[header]).to.match(/^section\s+category\s+type\s+domain\s+position$/);
  const out = new Map<string, string[]>();
  for (const line of lines.slice(header + 2)) {
    if (!line.startsWith('MailLogger')) break;
    const cells = line.split(/\s{2,}/);
    out.set(cells[0] ?? '', cells.slice(1));
  }
  return out;
}

// Positions and start times sit at a fixed offset from a UTC midnight, never
// at "now minus a bit": what --list shows is then the same at any hour.
function sections(start: number): IniSections {
  return {
    DEFAULT: { api_key: KEY, start_time: start },
    'MailLogger:in': { domain: 'example.com', type: 'incominglog' },
    'MailLogger:hold': { domain: 'example.com', category: 'quarantine', type: 'hold' },
    'MailLogger:auth': { category: 'authentication' },
    Notes: { owner: 'secops' },
  };
}

describe('--list', () => {
  function setup(ini: (start: number) => IniSections = sections): { dir: string; path: string; start: number } {
    const dir = tempDir('uzp-list-');
    const start = dayAnchor();
    const path = writeIni(join(dir, 'uzmanposta.ini'), ini(start));
    return { dir, path, start };
  }

  it('flags a position after now − end_delay (clock set back, backup restored) and exits 1, as a run would fail the section', async () => {
    const { dir, path } = setup();
    const ahead = Math.floor(Date.now() / 1000) + 7200;
    mkdirSync(join(dir, 'positions'));
    writeFileSync(join(dir, 'positions', 'auth.pos'), `${ahead}\n`);
    const r = await list(path);
    expect(r.code).to.equal(1);
    expect(rows(r.stdout).get('MailLogger:auth')?.[3]).to.equal('AHEAD OF NOW − end_delay (see stderr)');
    expect(r.stderr).to.include(`auth.pos holds ${ahead}`).and.include("Check this host's clock");
  });

  it('--json gives the same as one JSON document, problems with their codes', async () => {
    const { dir, path, start } = setup();
    const position = start + 3600;
    const ahead = Math.floor(Date.now() / 1000) + 7200;
    mkdirSync(join(dir, 'positions'));
    writeFileSync(join(dir, 'positions', 'in.pos'), `${position}\n`);
    writeFileSync(join(dir, 'positions', 'auth.pos'), `${ahead}\n`);
    const before = Math.floor(Date.now() / 1000);
    const r = await list(path, '--json');
    const after = Math.floor(Date.now() / 1000);
    expect(r.code).to.equal(1);
    const doc = JSON.parse(r.stdout) as { config: string; sections: Record<string, unknown>[]; otherSections: string[] };
    expect(doc.config).to.equal(path);
    expect(doc.otherSections).to.deep.equal(['Notes']);
    expect(doc.sections.map((x) => x.section)).to.deep.equal(['MailLogger:in', 'MailLogger:hold', 'MailLogger:auth']);
    const [inSec, hold, auth] = doc.sections;
    expect(inSec).to.include({ category: 'mail', type: 'incominglog', domain: 'example.com', position, startsAt: position });
    expect(inSec!.behindSeconds).to.be.within(before - position, after - position);
    expect(hold).to.include({ position: null, startsAt: start });
    expect(hold).to.not.have.property('problem');
    expect((auth!.problem as { code: string }).code).to.equal('UZP_POSITION_AHEAD');
    expect(r.stderr).to.include(`auth.pos holds ${ahead}`);
  });

  it('shows section, category, type, domain and position of every section', async () => {
    const { dir, path, start } = setup();
    const position = start + 3600;
    mkdirSync(join(dir, 'positions'));
    writeFileSync(join(dir, 'positions', 'in.pos'), `${position}\n`);

    // How far behind is measured from the clock when --list reads it: somewhere in this span.
    const before = Math.floor(Date.now() / 1000) - position;
    const r = await list(path);
    const after = Math.floor(Date.now() / 1000) - position;
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.include(`Sections in ${path}:`);
    const table = rows(r.stdout);
    expect([...table.keys()]).to.deep.equal(['MailLogger:in', 'MailLogger:hold', 'MailLogger:auth']);
    const [inCategory, inType, inDomain, inPosition] = table.get('MailLogger:in') ?? [];
    expect([inCategory, inType, inDomain]).to.deep.equal(['mail', 'incominglog', 'example.com']);
    const shown = new RegExp(`^${position} \\(${new Date(position * 1000).toISOString()}, (\\d+) s behind\\)$`).exec(inPosition ?? '');
    expect(shown, inPosition).to.not.equal(null);
    expect(Number(shown?.[1])).to.be.within(before, after);
    expect(table.get('MailLogger:hold')?.slice(0, 3)).to.deep.equal(['quarantine', 'hold', 'example.com']);
    // No position file yet: where the first run will start.
    expect(table.get('MailLogger:hold')?.[3]).to.equal(`none: starts at ${start} (${new Date(start * 1000).toISOString()})`);
    // Authentication sends no type and names its files 'auth'; no domain shows as '-'.
    expect(table.get('MailLogger:auth')?.slice(0, 3)).to.deep.equal(['authentication', 'auth', '-']);
    expect(r.stdout).to.include('Not collected (not [MailLogger:*]): Notes');
    expect(r.stdout).to.not.include(KEY);
  });

  it('exits 1 and names the file when a position cannot be read', async () => {
    const { dir, path } = setup();
    mkdirSync(join(dir, 'positions'));
    writeFileSync(join(dir, 'positions', 'auth.pos'), '17348760OO\n');

    const r = await list(path);
    expect(r.code).to.equal(1);
    expect(rows(r.stdout).get('MailLogger:auth')?.[3]).to.equal('UNREADABLE (see stderr)');
    expect(r.stderr).to.include(`position file ${join(dir, 'positions', 'auth.pos')} of section MailLogger:auth is corrupt`);
    // The other sections are still listed.
    expect(rows(r.stdout).get('MailLogger:in')?.[3]).to.match(/^none: starts at/);
  });

  it('exits 2 on an invalid config, listing nothing', async () => {
    const { path } = setup((start) => {
      const ini = sections(start);
      return { ...ini, 'MailLogger:hold': { ...ini['MailLogger:hold'], type: 'held' } };
    });
    const r = await list(path);
    expect(r.code).to.equal(2);
    expect(r.stdout).to.equal('');
    expect(r.stderr).to.match(/\[MailLogger:hold\] type = "held": must be one of quarantine, hold/);
  });
});
