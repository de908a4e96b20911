// Issue 9: worker threads sized to the machine. A run starts at most as many
// threads as there are CPUs (and never more than sections); each runs several
// sections at once, and a section that fails or is stopped, or a thread that
// dies, leaves every section with its own final status.
//
// Threads are observed through the threadId each section reports from its
// worker; concurrency through the mock holding first lists until enough
// sections wait there at once.

import { expect } from 'chai';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/load-config.js';
import type { SectionConfig } from '../../src/config/section-config.js';
import { Coordinator } from '../../src/engine/main/coordinator.js';
import { startMockApi, type MockApi, type MockStreamSpec } from '../../src/mock-api/index.js';
import type { Heartbeat } from '../../src/reporting/heartbeat.js';
import { readPosition } from '../../src/storage/position-store.js';
import { readLockHolder, type LockHolder } from '../../src/storage/section-lock.js';
import { onCleanup } from '../support/cleanup.js';
import { dayAnchor } from '../support/epochs.js';
import { readStream, tempDir, until } from '../support/harness.js';
import { errorLog } from '../support/hostile-fixtures.js';
import { writeSectionsIni, type IniSection } from '../support/sections-ini.js';
import { CRASH_MODE_ENV, CRASH_SECTION_ENV } from '../support/thread-crash-hooks.js';
import { listWindowStart } from '../support/crash-scenario.js';

const KEY = 'threads-key-0123456789abcdef';
const SPLIT = 120;

interface Setup {
  mock: MockApi;
  sections: SectionConfig[];
  streams: IniSection[];
  start: number;
  end: number;
}

async function setup(count: number, extra: (i: number) => Partial<IniSection> = () => ({})): Promise<Setup> {
  const dir = tempDir('uzp-threads-');
  const start = dayAnchor() + 3600;
  const end = start + 10 * 60;
  const streams: IniSection[] = Array.from({ length: count }, (_, i) => ({
    name: `t${i}`,
    stream: { key: KEY, domain: `t${i}.test`, category: 'authentication', perMinute: 6 } satisfies MockStreamSpec,
    ...extra(i),
  }));
  const mock = await startMockApi({ seed: 19, from: start - 60, to: end + 60, streams: streams.map((s) => s.stream) });
  onCleanup(() => mock.close());
  const sections = loadConfig(writeSectionsIni(dir, mock, streams, { split_interval: SPLIT })).sections;
  return { mock, sections, streams, start, end };
}

/** Section t0 of the in-process workers breaks after its first commit (test/support/thread-crash-hooks.ts), until the test ends. */
function crashHooks(mode: 'throw' | 'exit'): void {
  process.env['UZP_TEST_COMMIT_HOOKS'] = fileURLToPath(new URL('../support/thread-crash-hooks.js', import.meta.url));
  process.env[CRASH_SECTION_ENV] = 'MailLogger:t0';
  process.env[CRASH_MODE_ENV] = mode;
  onCleanup(() => {
    delete process.env['UZP_TEST_COMMIT_HOOKS'];
    delete process.env[CRASH_SECTION_ENV];
    delete process.env[CRASH_MODE_ENV];
  });
}

function heartbeat(cfg: SectionConfig): Heartbeat {
  return JSON.parse(readFileSync(cfg.heartbeatFile, 'utf8')) as Heartbeat;
}

/** Holds the first list request of every section: they all wait there at once. */
function holdFirstLists(s: Setup, count: number): ReturnType<MockApi['hold']> {
  const hold = s.mock.hold((r) => listWindowStart(r) === s.start, count);
  onCleanup(() => hold.release());
  return hold;
}

describe('worker threads sized to the machine', function () {
  this.timeout(60_000);

  it('7 sections with --max-workers 5 run 5 at a time on no more threads than CPUs, and all complete exactly', async () => {
    const s = await setup(7);
    const cores = os.availableParallelism();
    const coordinator = new Coordinator({ sections: s.sections, range: { from: s.start, to: s.end }, concurrency: 5, notify: () => undefined });
    const plan = coordinator.threads;
    expect(plan.threads).to.be.at.least(1).and.at.most(cores);
    expect(plan.threads * plan.sectionsPerThread).to.be.at.least(5);
    const hold = holdFirstLists(s, 5);
    const running = coordinator.run();
    // Five sections in flight at once: --max-workers keeps meaning sections at once.
    await until(() => (hold.caught === 5 ? true : undefined), 'five sections waiting on their first list at once');
    expect([...coordinator.sectionStates.values()].filter((st) => st.status === 'running')).to.have.length(5);
    hold.release();
    const results = await running;

    expect(results.map((r) => r.status)).to.deep.equal(Array(7).fill('completed'));
    const threads = new Set(results.map((r) => r.threadId));
    expect(threads.has(undefined), 'every section reported its thread').to.equal(false);
    expect(threads.size, `threads used: ${[...threads].join(', ')}`).to.be.at.most(Math.min(cores, 5));
    for (const [i, cfg] of s.sections.entries()) {
      const stream = s.streams[i]!.stream;
      expect(results[i]?.metrics.recordsWritten, cfg.section).to.equal(s.mock.count(stream, s.start, s.end));
    }
  });

  it('on one CPU, all sections share one thread, at once', async () => {
    const s = await setup(4);
    const coordinator = new Coordinator({ sections: s.sections, range: { from: s.start, to: s.end }, concurrency: 4, notify: () => undefined, cores: 1 });
    expect(coordinator.threads).to.include({ threads: 1, sectionsPerThread: 4 });
    const hold = holdFirstLists(s, 4);
    const running = coordinator.run();
    await until(() => (hold.caught === 4 ? true : undefined), 'four sections waiting on their first list at once');
    hold.release();
    const results = await running;
    expect(results.map((r) => r.status)).to.deep.equal(Array(4).fill('completed'));
    expect(new Set(results.map((r) => r.threadId)).size).to.equal(1);
  });

  it('a section that fails does not disturb the others running in its thread', async () => {
    // t1: the mock does not know its key (401); t2: its output directory cannot be created.
    const s = await setup(4);
    const unknownKey = (cfg: SectionConfig): SectionConfig => ({ ...cfg, apiKey: 'threads-key-the-mock-does-not-know' });
    // A file where its output directory should be: ENOTDIR, whoever runs the test.
    const blocked = join(tempDir('uzp-threads-file-'), 'a-file');
    writeFileSync(blocked, 'not a directory\n');
    const sections = s.sections.map((cfg, i) => (i === 1 ? unknownKey(cfg) : i === 2 ? { ...cfg, outputDirectory: `${blocked}/out` } : cfg));
    // The two healthy sections wait on their first list until both others have failed.
    const hold = holdFirstLists(s, 2);
    const coordinator = new Coordinator({ sections, range: { from: s.start, to: s.end }, concurrency: 4, notify: () => undefined, cores: 1 });
    const running = coordinator.run();
    const failed = (): number => [...coordinator.sectionStates.values()].filter((st) => st.status === 'failed').length;
    await until(() => (hold.caught === 2 && failed() === 2 ? true : undefined), 'two sections failed while the other two wait on their first list');
    hold.release();
    const results = await running;

    expect(results.map((r) => r.status)).to.deep.equal(['completed', 'failed', 'failed', 'completed']);
    expect(results[1]?.error?.code).to.equal('UZP_API_AUTH');
    expect(results[2]?.error?.code).to.equal('UZP_WRITE_FAILED');
    expect(new Set(results.map((r) => r.threadId)).size, 'all four on one thread').to.equal(1);
    for (const i of [0, 3]) {
      expect(results[i]?.metrics.recordsWritten).to.equal(s.mock.count(s.streams[i]!.stream, s.start, s.end));
      expect(readPosition(sections[i]!.positionFile, sections[i]!.section)).to.equal(s.end);
      expect(heartbeat(sections[i]!).status).to.equal('completed');
    }
    expect(heartbeat(sections[1]!).status).to.equal('error');
    expect(hold.caught, 'both healthy sections were in flight when the others failed').to.equal(2);
  });

  it('a section stopped by losing its lock stops alone: the others on its thread complete exactly', async () => {
    // The one way a single section is stopped mid-run: another run took its
    // lock over (its lease looked expired from there). It must commit nothing
    // more; the sections sharing its thread must not notice.
    const s = await setup(3);
    const hold = holdFirstLists(s, 3);
    const coordinator = new Coordinator({ sections: s.sections, range: { from: s.start, to: s.end }, concurrency: 3, notify: () => undefined, cores: 1 });
    const running = coordinator.run();
    await until(() => (hold.caught === 3 ? true : undefined), 'all three sections waiting on their first list');
    const t1 = s.sections[1]!;
    const successor: LockHolder = { pid: 7, hostname: 'successor-host', startedAt: new Date().toISOString(), lease: 30, token: '0123456789abcdef' };
    writeFileSync(t1.lockFilePath, JSON.stringify(successor));
    hold.release();
    const results = await running;

    expect(results.map((r) => [r.status, r.error?.code])).to.deep.equal([
      ['completed', undefined],
      ['failed', 'UZP_LOCK_LOST'],
      ['completed', undefined],
    ]);
    expect(new Set(results.map((r) => r.threadId)).size, 'all three on one thread').to.equal(1);
    expect(results[1]?.metrics.windowsCommitted, 't1 committed nothing once its lock was gone').to.equal(0);
    expect(readStream(t1.outputDirectory, `${s.streams[1]!.stream.domain}_`), 'no record of t1 written').to.deep.equal([]);
    expect(existsSync(t1.positionFile), 'no position saved for t1').to.equal(false);
    expect(readLockHolder(t1.lockFilePath), "the successor's lock is left in place").to.deep.equal(successor);
    expect(heartbeat(t1).status).to.equal('error');
    for (const i of [0, 2]) {
      const cfg = s.sections[i]!;
      expect(results[i]?.metrics.recordsWritten, cfg.section).to.equal(s.mock.count(s.streams[i]!.stream, s.start, s.end));
      expect(readStream(cfg.outputDirectory, `${s.streams[i]!.stream.domain}_`), cfg.section).to.have.length(s.mock.count(s.streams[i]!.stream, s.start, s.end));
      expect(readPosition(cfg.positionFile, cfg.section)).to.equal(s.end);
      expect(heartbeat(cfg).status).to.equal('completed');
      expect(existsSync(cfg.lockFilePath), `${cfg.section} released its lock`).to.equal(false);
    }
  });

  it('a worker thread that dies leaves each of its sections failed, never running, and a rerun ends exactly', async () => {
    const s = await setup(3);
    crashHooks('exit');
    // t1 and t2 wait on their first list, in the same thread, when t0 crashes it.
    const hold = s.mock.hold((r) => !r.rawUrl.includes('t0.test') && listWindowStart(r) === s.start, 2);
    onCleanup(() => hold.release());
    const coordinator = new Coordinator({ sections: s.sections, range: {}, concurrency: 3, notify: () => undefined, cores: 1 });
    // A cron run: positions move, so what the crash left is checked by the rerun.
    for (const cfg of s.sections) cfg.startTime = s.start;
    const results = await coordinator.run();
    hold.release();

    expect(results.map((r) => [r.status, r.error?.code])).to.deep.equal(Array(3).fill(['failed', 'UZP_WORKER_CRASHED']));
    for (const cfg of s.sections) expect(heartbeat(cfg).status, cfg.section).to.equal('error');

    delete process.env['UZP_TEST_COMMIT_HOOKS'];
    const rerun = await new Coordinator({ sections: s.sections, range: { from: s.start, to: s.end }, concurrency: 3, notify: () => undefined, cores: 1 }).run();
    expect(rerun.map((r) => r.status)).to.deep.equal(Array(3).fill('completed'));
  });

  it('an exception nobody caught in one section fails that section alone; the others on its thread complete', async () => {
    const s = await setup(3);
    crashHooks('throw');
    // t1 and t2 wait on their first list, in the same thread, while t0 throws.
    const hold = s.mock.hold((r) => !r.rawUrl.includes('t0.test') && listWindowStart(r) === s.start, 2);
    onCleanup(() => hold.release());
    const range = { from: s.start, to: s.end };
    const coordinator = new Coordinator({ sections: s.sections, range, concurrency: 3, notify: () => undefined, cores: 1 });
    const running = coordinator.run();
    const t0 = (): string | undefined => coordinator.sectionStates.get('MailLogger:t0')?.status;
    await until(() => (hold.caught === 2 && t0() === 'failed' ? true : undefined), 't0 failed while t1 and t2 wait on their first list');
    hold.release();
    const results = await running;

    expect(results.map((r) => r.status)).to.deep.equal(['failed', 'completed', 'completed']);
    expect(results[0]?.error?.code).to.equal('UZP_WORKER_CRASHED');
    expect(results[0]?.error?.message).to.contain('MailLogger:t0 throws an exception nobody catches');
    expect(results[0]?.metrics.windowsCommitted, 't0 had committed its first window').to.be.at.least(1);
    expect(new Set(results.map((r) => r.threadId)).size, 'all three on one thread').to.equal(1);
    expect(heartbeat(s.sections[0]!).status).to.equal('error');
    // The error log has it with its stack, pointing at the TypeScript source that threw.
    const crashes = errorLog(s.sections[0]!.outputDirectory).filter((e) => e['code'] === 'UZP_WORKER_CRASHED');
    expect(crashes).to.have.length(1);
    expect(crashes[0]?.['stack']).to.match(/test\/support\/thread-crash-hooks\.ts:\d+:\d+/);
    for (const i of [1, 2]) {
      expect(heartbeat(s.sections[i]!).status).to.equal('completed');
      expect(results[i]?.metrics.recordsWritten).to.equal(s.mock.count(s.streams[i]!.stream, s.start, s.end));
    }

    // t0 resumes where its last commit left it: nothing twice, nothing lost.
    delete process.env['UZP_TEST_COMMIT_HOOKS'];
    const rerun = await new Coordinator({ sections: s.sections, range, concurrency: 3, notify: () => undefined, cores: 1 }).run();
    expect(rerun.map((r) => r.status)).to.deep.equal(Array(3).fill('completed'));
    const t0Written = (results[0]?.metrics.recordsWritten ?? 0) + (rerun[0]?.metrics.recordsWritten ?? 0);
    expect(t0Written).to.equal(s.mock.count(s.streams[0]!.stream, s.start, s.end));
    expect(readStream(s.sections[0]!.outputDirectory, `${s.streams[0]!.stream.domain}_`)).to.have.length(t0Written);
  });
});
