// The SIEM examples against what a real run writes (issue 13): the collector
// runs against the mock for every category and type, and the examples'
// paths, locations and time fields are checked on the files and records it
// produced, not on names worked out by hand.
//
// Filebeat: each data file is picked by exactly one path glob and no log or
// heartbeat by any; the processors' chain of timestamp fields gives every
// real record its event time (as the collector orders by it), and each field
// the chain names occurs in real records.
// Wazuh: with the daily file names its comment asks for, each <location>
// names the real data file of one stream, and no log file.

import { expect } from 'chai';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { strftime, strftimeToRegExp } from '../../src/config/strftime.js';
import type { Category } from '../../src/config/section-config.js';
import { eventTime } from '../../src/engine/worker/event-time.js';
import { startMockApi, type MockStreamSpec } from '../../src/mock-api/index.js';
import { onCleanup } from '../support/cleanup.js';
import { dayAnchor } from '../support/epochs.js';
import { REPO_ROOT, runCli, tempDir } from '../support/harness.js';
import { writeSectionsIni } from '../support/sections-ini.js';
import * as yaml from 'js-yaml';

const INSTALL_ROOT = '/opt/uzmanposta/output';
const KEY = 'siem-key-0123456789abcdef';
const DOMAIN = 'example.com';
const STREAMS: MockStreamSpec[] = [
  { key: KEY, domain: DOMAIN, category: 'mail', type: 'incominglog', perMinute: 2 },
  { key: KEY, domain: DOMAIN, category: 'mail', type: 'outgoinglog', perMinute: 2 },
  { key: KEY, domain: DOMAIN, category: 'quarantine', type: 'quarantine', perMinute: 10 },
  { key: KEY, domain: DOMAIN, category: 'quarantine', type: 'hold', perMinute: 10 },
  { key: KEY, domain: DOMAIN, category: 'authentication', perMinute: 10 },
];

interface OutputFile {
  /** Where it would be on an installed host (log_directory /opt/uzmanposta/output). */
  installed: string;
  path: string;
  category: Category;
  kind: 'data' | 'other';
}

/** Runs every stream over one hour into DIR/output; `extra` goes into [DEFAULT]. */
async function collectAll(extra: Record<string, string> = {}): Promise<OutputFile[]> {
  const dir = tempDir();
  const end = dayAnchor() + 12 * 3600;
  const start = end - 3600;
  const mock = await startMockApi({ seed: 13, from: start - 60, to: end + 60, streams: STREAMS });
  onCleanup(() => mock.close());
  const config = writeSectionsIni(
    dir,
    mock,
    STREAMS.map((stream) => ({ name: `${stream.category}-${stream.type ?? 'auth'}`, stream })),
    extra,
  );
  const run = await runCli(['--config', config, '--all', '--start-time', String(start), '--end-time', String(end)], { cwd: dir });
  expect(run.code, run.stderr).to.equal(0);
  const out = join(dir, 'output');
  return readdirSync(out, { recursive: true })
    .map(String)
    .filter((f) => /\.(log|json)$/.test(f))
    .map((f) => {
      const name = f.split('/').pop() ?? '';
      return {
        installed: join(INSTALL_ROOT, f),
        path: join(out, f),
        category: f.split('/')[1] as Category,
        kind: /^(messages|errors)_|_heartbeat\.json$/.test(name) ? ('other' as const) : ('data' as const),
      };
    });
}

function records(file: OutputFile): Record<string, unknown>[] {
  return readFileSync(file.path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Go's filepath.Match / POSIX glob for `*`: it does not cross '/'. */
function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}$`);
}

/** A dotted field path in a record, as Filebeat reads it (no array indexes). */
function fieldAt(record: Record<string, unknown>, path: string): unknown {
  let v: unknown = record;
  for (const part of path.split('.')) v = v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>)[part] : undefined;
  return v;
}

describe('SIEM examples against a real run', function () {
  this.timeout(120_000);

  it('Filebeat: every data file is picked by one path, no log by any, and @timestamp is each record\'s event time', async () => {
    const input = (yaml.load(readFileSync(join(REPO_ROOT, 'examples', 'filebeat', 'uzmanposta.yml'), 'utf8')) as Record<string, unknown>[])[0]!;
    const globs = (input['paths'] as string[]).map(globToRegExp);
    const target = ((input['parsers'] as Record<string, Record<string, string>>[])[0]!['ndjson']!)['target'];
    expect(target).to.equal('uzmanposta');
    const processors = input['processors'] as Record<string, Record<string, unknown>>[];
    const script = processors.find((p) => p['script'])?.['script'];
    const scriptSource = String(script?.['source'] ?? '');
    // What the script does: the first recipient's time into a helper field, which a timestamp processor reads.
    const helper = /event\.Put\('([^']+)', r\[0\]\.time\)/.exec(scriptSource)?.[1];
    expect(helper, scriptSource).to.be.a('string');
    expect(scriptSource).to.include(`event.Get('${target}.recipients')`);
    const chain = processors.filter((p) => p['timestamp']).map((p) => p['timestamp']!);
    for (const t of chain) {
      expect(t['layouts']).to.deep.equal(['UNIX']);
      expect(t['ignore_missing']).to.equal(true);
    }
    const fields = chain.map((t) => String(t['field']));
    expect(fields).to.include(helper);
    // The helper is dropped again so only the record and @timestamp reach the index.
    expect(processors.find((p) => p['drop_fields'])?.['drop_fields']?.['fields']).to.deep.equal([helper!.split('.')[0]]);

    const files = await collectAll();
    const data = files.filter((f) => f.kind === 'data');
    expect(new Set(data.map((f) => f.installed.split('/').slice(4, -1).join('/')))).to.have.property('size', 5);
    for (const f of files) {
      const matches = globs.filter((re) => re.test(f.installed)).length;
      expect(matches, f.installed).to.equal(f.kind === 'data' ? 1 : 0);
    }

    // Filebeat puts the record under `target`; each timestamp processor overwrites
    // @timestamp when its field is there, so the last present one wins.
    const used = new Map<string, number>();
    let checked = 0;
    for (const f of data) {
      for (const record of records(f)) {
        const event: Record<string, unknown> = { [target!]: record };
        const recipients = record['recipients'];
        if (Array.isArray(recipients) && recipients.length > 0) {
          const first = recipients[0] as Record<string, unknown> | null;
          if (first && first['time'] != null) event[helper!.split('.')[0]!] = { [helper!.split('.')[1]!]: first['time'] };
        }
        let timestamp: number | undefined;
        let from: string | undefined;
        for (const field of fields) {
          const v = fieldAt(event, field);
          if (typeof v === 'number') {
            timestamp = v;
            from = field;
          }
        }
        expect(timestamp, `${f.installed}: ${JSON.stringify(record).slice(0, 200)}`).to.equal(eventTime(f.category, record));
        used.set(from!, (used.get(from!) ?? 0) + 1);
        checked++;
      }
    }
    expect(checked).to.be.greaterThan(100);
    // Every field the chain names is what some real record's time comes from.
    expect([...used.keys()].sort()).to.deep.equal([...fields].sort());
  });

  it('Wazuh: with the daily names its comment asks for, each location is one stream\'s real data file and no log', async () => {
    const xml = readFileSync(join(REPO_ROOT, 'examples', 'wazuh', 'ossec-localfile.xml'), 'utf8');
    const asked = /^\s+log_file_name_format = (.*)$/m.exec(xml)?.[1];
    expect(asked).to.be.a('string');
    // Every setting the comment asks for (indented `option = value` lines).
    const settings = Object.fromEntries([...xml.matchAll(/^ {6}([a-z_]+) = (\S.*)$/gm)].map((m) => [m[1]!, m[2]!]));
    expect(settings).to.include({ log_file_name_format: asked, file_time: 'write', create_next_data_file: 'true' });
    const locations = [...xml.matchAll(/<location>([^<]+)<\/location>/g)].map((m) => m[1]!);
    expect(locations).to.have.length(5);
    for (const l of locations) expect(l, 'strftime, never a wildcard').not.to.match(/[*?[]/);
    const patterns = locations.map((l) => strftimeToRegExp(l));

    const dayAfter = (d: Date): Date => new Date(d.getFullYear(), d.getMonth(), d.getDate() + 1);
    const before = dayAfter(new Date());
    const files = await collectAll(settings);
    const after = dayAfter(new Date());
    const data = files.filter((f) => f.kind === 'data');
    // Tomorrow's file of every stream exists already, empty, for the agent's switch at midnight
    // (tomorrow as of the run's end: between the two days taken around it).
    for (const l of locations) {
      const next = files.find((f) => f.installed === strftime(l, before) || f.installed === strftime(l, after));
      expect(next, `${strftime(l, after)} created ahead of the day`).to.not.equal(undefined);
      expect(statSync(next!.path).size).to.equal(0);
    }
    for (const f of files) {
      const matches = patterns.filter((re) => re.test(f.installed)).length;
      expect(matches, f.installed).to.equal(f.kind === 'data' ? 1 : 0);
    }
    for (const [i, re] of patterns.entries()) expect(data.some((f) => re.test(f.installed)), locations[i]).to.equal(true);
  });
});
