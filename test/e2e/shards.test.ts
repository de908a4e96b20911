// Shards (issue 12): a scheduler runs N copies of the CLI, each with
// --shard I/N (or JOB_COMPLETION_INDEX); together they collect every section
// exactly once, every section of one key in the same copy.

import { expect } from 'chai';
import { join } from 'node:path';
import { startMockApi, type MockApi, type MockStreamSpec } from '../../src/mock-api/index.js';
import { collect, readStream, runCli, spawnCli, tempDir } from '../support/harness.js';
import { onCleanup } from '../support/cleanup.js';
import { dayAnchor } from '../support/epochs.js';
import { writeIni, type IniSections } from '../support/write-ini.js';

const END = dayAnchor() + 12 * 3600;
const START = END - 40 * 60;
const KEYS = ['shard-key-a-0123456789', 'shard-key-b-0123456789', 'shard-key-c-0123456789', 'shard-key-d-0123456789', 'shard-key-e-0123456789', 'shard-key-f-0123456789'];

interface ShardSection {
  name: string;
  stream: MockStreamSpec & { domain: string };
  dir: string;
  prefix: string;
}

/** Two sections per key (authentication and quarantine of the key's domain). */
const SECTIONS: ShardSection[] = KEYS.flatMap((key, i) => {
  const domain = `d${i}.test`;
  return [
    { name: `d${i}-auth`, stream: { key, domain, category: 'authentication', perMinute: 12 }, dir: `${domain}/authentication`, prefix: `${domain}_auth_` },
    { name: `d${i}-quar`, stream: { key, domain, category: 'quarantine', type: 'quarantine', perMinute: 6 }, dir: `${domain}/quarantine`, prefix: `${domain}_quarantine_` },
  ];
});

async function setUp(): Promise<{ dir: string; config: string; mock: MockApi }> {
  const dir = tempDir();
  const mock = await startMockApi({ seed: 12, from: START - 3600, to: END + 3600, streams: SECTIONS.map((s) => s.stream), now: () => END + 60 });
  onCleanup(() => mock.close());
  const ini: IniSections = {
    DEFAULT: { log_directory: './output', list_sleep_time: 0.01, split_interval: 600, end_delay: 0 },
  };
  for (const s of SECTIONS) {
    ini[`MailLogger:${s.name}`] = { api_key: s.stream.key, domain: s.stream.domain, category: s.stream.category, type: s.stream.type, url: mock.urls[s.stream.category] };
  }
  return { dir, config: writeIni(join(dir, 'uzmanposta.ini'), ini), mock };
}

interface SummaryDoc {
  sections: { section: string; status: string }[];
}

describe('shards: several copies of the collector, one config (CLI child processes)', function () {
  this.timeout(120_000);

  it('three shards run at once collect every section exactly once, each key on one shard', async () => {
    const { dir, config, mock } = await setUp();
    // A fixed range, so that the records do not depend on when each copy starts.
    const run = ['--config', config, '--all', '--parallel', '--json', '--start-time', String(START), '--end-time', String(END)];
    // Two from --shard, one as a Kubernetes Indexed Job pod sees it.
    const children = [
      spawnCli([...run, '--shard', '0/3'], { cwd: dir }),
      spawnCli([...run, '--shard', '1/3'], { cwd: dir }),
      spawnCli([...run, '--shard-count', '3'], { cwd: dir, env: { JOB_COMPLETION_INDEX: '2' } }),
    ];
    const runs = await Promise.all(children.map((c) => collect(c)));
    const owned = runs.map((run, i) => {
      expect(run.code, `shard ${i}: ${run.stderr}`).to.equal(0);
      const doc = JSON.parse(run.stdout) as SummaryDoc;
      for (const s of doc.sections) expect(s.status, `${s.section} on shard ${i}`).to.equal('completed');
      return doc.sections.map((s) => s.section);
    });

    const all = owned.flat().sort();
    expect(all, 'every section on exactly one shard').to.deep.equal(SECTIONS.map((s) => `MailLogger:${s.name}`).sort());
    expect(owned.filter((o) => o.length > 0).length, 'six keys spread over more than one shard').to.be.greaterThan(1);
    for (const key of KEYS) {
      const names = SECTIONS.filter((s) => s.stream.key === key).map((s) => `MailLogger:${s.name}`);
      const shards = owned.map((o, i) => (names.some((n) => o.includes(n)) ? i : -1)).filter((i) => i >= 0);
      expect(shards, `the sections of ${key.slice(0, 11)}…`).to.have.length(1);
    }

    for (const s of SECTIONS) {
      const truth = mock.expected(s.stream, START, END);
      expect(truth.length, `${s.name}: the scenario has records`).to.be.greaterThan(0);
      expect(readStream(join(dir, 'output', s.dir), s.prefix), `${s.name}: every record once, in order`).to.deep.equal(truth);
    }
    // No stream fetched by two copies: with no faults, each window of each stream is listed once.
    const lists = mock.stats().log.filter((e) => e.kind === 'list');
    const windows = lists.map((e) => `${e.category}/${e.domain}/${e.starttime}`);
    expect(new Set(windows).size, 'list requests per stream and window').to.equal(windows.length);
  });

  it('--list --shard shows what each shard owns; together the shards list every section once', async () => {
    const { dir, config } = await setUp();
    const listed: string[][] = [];
    for (let i = 0; i < 3; i++) {
      const run = await runCli(['--config', config, '--list', '--json', '--shard', `${i}/3`], { cwd: dir });
      expect(run.code, run.stderr).to.equal(0);
      const doc = JSON.parse(run.stdout) as { shard: { index: number; count: number; by: string; sectionsInConfig: number }; sections: { section: string }[] };
      expect(doc.shard).to.deep.equal({ index: i, count: 3, by: 'key', sectionsInConfig: SECTIONS.length });
      listed.push(doc.sections.map((s) => s.section));
    }
    expect(listed.flat().sort()).to.deep.equal(SECTIONS.map((s) => `MailLogger:${s.name}`).sort());

    const text = await runCli(['--config', config, '--list', '--shard', '0/3'], { cwd: dir });
    expect(text.code, text.stderr).to.equal(0);
    expect(text.stdout).to.include(`Sections of shard 0/3 (by key) in ${config}: ${listed[0]!.length} of ${SECTIONS.length}`);
    for (const name of listed[0]!) expect(text.stdout).to.include(name);
    for (const name of listed[1]!) expect(text.stdout).not.to.include(`${name} `);
  });

  it('a shard index without a count, or past the count, is a usage error (exit 2) that says what to give', async () => {
    const { dir, config } = await setUp();
    const noCount = await runCli(['--config', config, '--all'], { cwd: dir, env: { JOB_COMPLETION_INDEX: '1' } });
    expect(noCount.code).to.equal(2);
    expect(noCount.stderr).to.match(/JOB_COMPLETION_INDEX=1 names this copy's shard but not how many there are: give --shard-count N or UZP_SHARD_COUNT/);
    const past = await runCli(['--config', config, '--all', '--shard', '3/3'], { cwd: dir });
    expect(past.code).to.equal(2);
    expect(past.stderr).to.match(/shard index 3 is not below the shard count 3/);
  });
});
