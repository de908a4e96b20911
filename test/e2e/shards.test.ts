// Shards (issue 12): a scheduler runs N copies of the CLI, each with
// --shard I/N (or JOB_COMPLETION_INDEX); together they collect every section
// exactly once, every section of one key in the same copy.

import { expect } from 'chai';
import fs from 'node:fs';
import { join } from 'node:path';
import { startMockApi, type MockApi, type MockStreamSpec } from '../../src/mock-api/index.js';
import { collect, readStream, runCli, spawnCli, tempDir } from '../support/harness.js';
import { onCleanup } from '../support/cleanup.js';
import { dayAnchor } from '../support/epochs.js';
import { writeIni, type IniSections } from '../support/write-ini.js';
import { spawnCliOnHost } from '../support/host-names.js';
import { ageOnFileSystem } from '../support/file-clock.js';
import { loadConfig } from '../../src/config/load-config.js';
import { ownsSection } from '../../src/cli/shard-assignment.js';
import { readLockHolder, type LockHolder } from '../../src/storage/section-lock.js';

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

async function setUp(defaults: IniSections[string] = {}): Promise<{ dir: string; config: string; mock: MockApi }> {
  const dir = tempDir();
  const mock = await startMockApi({ seed: 12, from: START - 3600, to: END + 3600, streams: SECTIONS.map((s) => s.stream), now: () => END + 60 });
  onCleanup(() => mock.close());
  const ini: IniSections = {
    DEFAULT: { log_directory: './output', list_sleep_time: 0.01, split_interval: 600, end_delay: 0, ...defaults },
  };
  for (const s of SECTIONS) {
    ini[`MailLogger:${s.name}`] = { api_key: s.stream.key, domain: s.stream.domain, category: s.stream.category, type: s.stream.type, url: mock.urls[s.stream.category] };
  }
  return { dir, config: writeIni(join(dir, 'uzmanposta.ini'), ini), mock };
}

interface SummaryDoc {
  sections: { section: string; status: string; error?: { code: string; message: string } }[];
}

function expectGroundTruth(dir: string, mock: MockApi): void {
  for (const s of SECTIONS) {
    const truth = mock.expected(s.stream, START, END);
    expect(truth.length, `${s.name}: the scenario has records`).to.be.greaterThan(0);
    expect(readStream(join(dir, 'output', s.dir), s.prefix), `${s.name}: every record once, in order`).to.deep.equal(truth);
  }
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

    expectGroundTruth(dir, mock);
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

  it('a shard killed mid-run: the next tick, on other hosts, takes its sections over once their leases ran out, and every record is written once', async () => {
    const LEASE = 3;
    const { dir, config, mock } = await setUp({ lock_lease: LEASE });
    const sections = loadConfig(config, { env: {} }).sections;
    // The victim: the shard that owns d0's sections; its d0 authentication list is held, then the shard is killed.
    const victim = [0, 1, 2].find((i) => ownsSection({ index: i, count: 3, by: 'key' }, sections.find((s) => s.domain === 'd0.test')!))!;
    const held = mock.hold((r) => r.kind === 'list' && r.rawUrl.includes('domain=d0.test') && r.rawUrl.includes('/authentication'));
    const range = ['--config', config, '--all', '--parallel', '--json', '--start-time', String(START), '--end-time', String(END)];
    const tick = (n: number, i: number) => spawnCliOnHost(`tick${n}-shard${i}`, [...range, '--shard', `${i}/3`], { cwd: dir });

    const first = [0, 1, 2].map((i) => tick(1, i));
    const results = first.map((c) => collect(c));
    await held.arrived;
    first[victim]!.kill('SIGKILL');
    const firstRuns = await Promise.all(results);
    expect(firstRuns[victim]!.signal, 'the victim was killed').to.equal('SIGKILL');
    for (const [i, run] of firstRuns.entries()) if (i !== victim) expect(run.code, `shard ${i}: ${run.stderr}`).to.equal(0);

    // The kill landed mid-run: the victim's lock on d0's authentication section is still there, naming it.
    const lockFile = join(dir, 'locks', 'd0-auth.lock');
    const left = readLockHolder(lockFile) as LockHolder;
    expect(left, 'the dead shard left its lock').to.not.equal(undefined);
    expect(left).to.include({ hostname: `tick1-shard${victim}`, pid: first[victim]!.pid, lease: LEASE });

    // Time passes on the file server: every lock the dead shard left has gone more than twice its lease without renewal.
    const leftLocks = fs.readdirSync(join(dir, 'locks')).filter((f) => f.endsWith('.lock'));
    for (const f of leftLocks) ageOnFileSystem(join(dir, 'locks', f), 2 * LEASE + 2);

    const second = await Promise.all([0, 1, 2].map((i) => collect(tick(2, i))));
    for (const [i, run] of second.entries()) {
      expect(run.code, `tick 2, shard ${i}: ${run.stderr}`).to.equal(0);
      for (const s of (JSON.parse(run.stdout) as SummaryDoc).sections) expect(s.status, `tick 2: ${s.section}`).to.equal('completed');
    }
    const takeover = second[victim]!.stderr;
    expect(takeover).to.match(new RegExp(`process ${first[victim]!.pid} on host tick1-shard${victim}, which took it at \\S+, has not renewed its lease of ${LEASE} s`));
    expect(fs.readdirSync(join(dir, 'locks')).filter((f) => f.endsWith('.lock')), 'every lock released').to.deep.equal([]);
    expectGroundTruth(dir, mock);
  });

  it('a run whose lock another run took over commits nothing more and fails the section (UZP_LOCK_LOST)', async () => {
    const { dir, config, mock } = await setUp({ lock_lease: 30 });
    const held = mock.hold((r) => r.kind === 'list' && r.rawUrl.includes('domain=d1.test') && r.rawUrl.includes('/authentication'));
    const child = spawnCliOnHost('fenced-host', ['--config', config, '--section', 'd1-auth', '--json', '--start-time', String(START), '--end-time', String(END)], { cwd: dir });
    const running = collect(child);
    await held.arrived;
    const lockFile = join(dir, 'locks', 'd1-auth.lock');
    const mine = readLockHolder(lockFile) as LockHolder;
    expect(mine).to.include({ hostname: 'fenced-host', lease: 30 });
    // Another host's run took the lock over (its lease looked expired from there).
    const successor: LockHolder = { pid: 7, hostname: 'successor-host', startedAt: new Date().toISOString(), lease: 30, token: '0123456789abcdef' };
    fs.writeFileSync(lockFile, JSON.stringify(successor));
    held.release();
    const run = await running;
    expect(run.code, run.stderr).to.equal(1);
    const doc = JSON.parse(run.stdout) as SummaryDoc;
    expect(doc.sections[0]!.status).to.equal('failed');
    expect(doc.sections[0]!.error?.code).to.equal('UZP_LOCK_LOST');
    expect(run.stderr).to.match(/section MailLogger:d1-auth: its lock .*d1-auth\.lock (no longer names this run|was taken over by another run)/);
    expect(readStream(join(dir, 'output', 'd1.test/authentication'), 'd1.test_auth_'), 'nothing committed').to.deep.equal([]);
    expect(fs.existsSync(join(dir, 'positions', 'd1-auth.pos')), 'no position saved').to.equal(false);
    expect(readLockHolder(lockFile), "the successor's lock is left in place").to.deep.equal(successor);
  });
});
