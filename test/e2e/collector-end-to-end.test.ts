// The collector as users run it: the built CLI as a child process against the
// mock API, checked record by record against the mock's ground truth.

import { expect } from 'chai';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startMockApi, type MockApi, type MockApiOptions, type StreamSelector } from '../../src/mock-api/index.js';
import { collect, readStream, runCli, spawnCli, tempDir } from '../support/harness.js';
import { onCleanup } from '../support/cleanup.js';
import { dayAnchor } from '../support/epochs.js';
import { writeIni } from '../support/write-ini.js';

const KEY = 'e2e-key-5f0c1d2e3a4b5c6d7e8f';

interface StreamCase {
  section: string;
  stream: StreamSelector & { domain: string };
  dir: string; // output directory relative to log_directory
  prefix: string; // data file name prefix
}

const ALL_STREAMS: StreamCase[] = [
  { section: 'in', stream: { domain: 'example.com', category: 'mail', type: 'incominglog' }, dir: 'example.com/mail/incominglog', prefix: 'example.com_incominglog_' },
  { section: 'out', stream: { domain: 'example.com', category: 'mail', type: 'outgoinglog' }, dir: 'example.com/mail/outgoinglog', prefix: 'example.com_outgoinglog_' },
  { section: 'quar', stream: { domain: 'example.com', category: 'quarantine', type: 'quarantine' }, dir: 'example.com/quarantine', prefix: 'example.com_quarantine_' },
  { section: 'hold', stream: { domain: 'example.com', category: 'quarantine', type: 'hold' }, dir: 'example.com/quarantine/hold', prefix: 'example.com_hold_' },
  { section: 'auth', stream: { domain: 'example.com', category: 'authentication' }, dir: 'example.com/authentication', prefix: 'example.com_auth_' },
];

async function mockFor(streams: StreamCase[], from: number, to: number, extra: Partial<MockApiOptions> = {}): Promise<MockApi> {
  const mock = await startMockApi({
    seed: 42,
    from,
    to,
    streams: streams.map((s) => ({ key: KEY, ...s.stream, perMinute: s.stream.category === 'mail' ? 30 : 20 })),
    ...extra,
  });
  onCleanup(() => mock.close());
  return mock;
}

/**
 * Where the data ends: a fixed time of day (support/epochs.ts), so every run
 * sees the same records at any hour. Cron-style runs (no --end-time) stop at
 * now - end_delay; writeConfig sets end_delay so that this is END.
 */
const END = dayAnchor() + 12 * 3600;

function writeConfig(dir: string, streams: StreamCase[], mock: MockApi, defaults: Record<string, string | number>): string {
  return writeIni(join(dir, 'uzmanposta.ini'), {
    DEFAULT: {
      api_key: KEY,
      list_sleep_time: 0.01,
      detail_sleep_time: 0.01,
      max_parallel_details: 4,
      end_delay: Math.floor(Date.now() / 1000) - END,
      ...defaults,
    },
    ...Object.fromEntries(
      streams.map((s) => [`MailLogger:${s.section}`, { domain: s.stream.domain, category: s.stream.category, type: s.stream.type, url: mock.urls[s.stream.category] }]),
    ),
  });
}

function position(dir: string, section: string): number {
  return Number(readFileSync(join(dir, 'positions', `${section}.pos`), 'utf8').trim());
}

function expectExactly(dir: string, s: StreamCase, mock: MockApi, from: number, to: number): void {
  const written = readStream(join(dir, 'output', s.dir), s.prefix);
  const truth = mock.expected(s.stream, from, to);
  expect(truth.length, `${s.section}: the scenario has records`).to.be.greaterThan(0);
  expect(written.length, `${s.section}: record count`).to.equal(truth.length);
  expect(written, `${s.section}: records, in order`).to.deep.equal(truth);
}

describe('collector end to end (CLI child process against the mock API)', function () {
  this.timeout(120_000);

  it('collects mail in/out with details, quarantine, hold and authentication with --all --parallel: exactly the ground truth', async () => {
    const dir = tempDir();
    const start = END - 3 * 3600;
    const mock = await mockFor(ALL_STREAMS, start - 3600, END + 3600, { hostileQueueIds: true, detailMissingRatio: 0.1 });
    const config = writeConfig(dir, ALL_STREAMS, mock, { start_time: start, split_interval: 600 });

    const run = await runCli(['--config', config, '--all', '--parallel', '--max-workers', '3'], { cwd: dir });
    expect(run.code, run.stderr).to.equal(0);
    expect(run.stdout).to.match(/Total: 5 sections \(5 completed/);

    for (const s of ALL_STREAMS) {
      const end = position(dir, s.section);
      // end_delay was set so that a run's end is END; the run started a little after the config was written.
      expect(end, `${s.section} ends end_delay behind now`).to.be.within(END, END + 120);
      expectExactly(dir, s, mock, start, end);
    }
    // Details replaced the summaries, except where the API has none (404).
    const incoming = readStream(join(dir, 'output', 'example.com/mail/incominglog'), 'example.com_incominglog_') as Record<string, unknown>[];
    const withDetail = incoming.filter((r) => Array.isArray(r.logs) && Array.isArray(r.transactions));
    const summaries = incoming.filter((r) => !('logs' in r));
    expect(withDetail.length).to.be.greaterThan(incoming.length / 2);
    expect(summaries.length, '404 details stay summaries').to.be.greaterThan(0);
    expect(mock.stats().status406, 'the quarantine cap keeps the 406 away').to.equal(0);
  });

  for (const rangeEnds of ['both', 'start', 'end'] as const) {
    it(`writes boundary records exactly once when the API includes ${rangeEnds === 'both' ? 'both range ends' : `only the ${rangeEnds}`}`, async () => {
      const dir = tempDir();
      const streams = ALL_STREAMS.filter((s) => s.section === 'auth' || s.section === 'in');
      const start = END - 600;
      // Many records per second and 7-second windows: most window edges fall on a second with records.
      const mock = await startMockApi({
        seed: 9,
        from: start - 600,
        to: END + 600,
        rangeEnds,
        streams: streams.map((s) => ({ key: KEY, ...s.stream, perMinute: 150 })),
      });
      onCleanup(() => mock.close());
      const config = writeConfig(dir, streams, mock, { start_time: start, split_interval: 7 });
      const run = await runCli(['--config', config, '--all'], { cwd: dir });
      expect(run.code, run.stderr).to.equal(0);
      for (const s of streams) expectExactly(dir, s, mock, start, position(dir, s.section));
    });
  }

  it('bisects full pages until every record of the window is fetched', async () => {
    const dir = tempDir();
    const streams = ALL_STREAMS.filter((s) => s.section === 'quar');
    const start = END - 3600;
    const mock = await startMockApi({ seed: 3, from: start - 60, to: END + 60, pageSize: 25, streams: [{ key: KEY, ...streams[0]!.stream, perMinute: 120 }] });
    onCleanup(() => mock.close());
    const config = writeConfig(dir, streams, mock, { start_time: start, split_interval: 300, max_records_per_page: 25 });
    const run = await runCli(['--config', config, '--all'], { cwd: dir });
    expect(run.code, run.stderr).to.equal(0);
    const end = position(dir, 'quar');
    expectExactly(dir, streams[0]!, mock, start, end);
    // 300-second windows hold ~600 records: without bisection most would be cut at 25.
    const windows = Math.ceil((end - start) / 300);
    expect(mock.stats().log.filter((r) => r.kind === 'list').length).to.be.greaterThan(windows * 8);
  });

  it('writes records without an event time once each, even where two requests overlap', async () => {
    const dir = tempDir();
    const streams = ALL_STREAMS.filter((s) => s.section === 'quar');
    const start = END - 600;
    const mock = await startMockApi({
      seed: 5,
      from: start - 60,
      to: END + 60,
      rangeEnds: 'both',
      recordsWithoutTimeRatio: 0.2,
      streams: [{ key: KEY, ...streams[0]!.stream, perMinute: 90 }],
    });
    onCleanup(() => mock.close());
    const config = writeConfig(dir, streams, mock, { start_time: start, split_interval: 5 });
    const run = await runCli(['--config', config, '--all'], { cwd: dir });
    expect(run.code, run.stderr).to.equal(0);
    const written = readStream(join(dir, 'output', streams[0]!.dir), streams[0]!.prefix) as Record<string, unknown>[];
    const end = position(dir, 'quar');
    const truth = mock.expected(streams[0]!.stream, start, end);
    const timed = (r: Record<string, unknown>): boolean => ['time', 'timestamp', 'starttime'].some((k) => k in r);
    const key = (r: unknown): string => JSON.stringify(r);
    // Timed records in exact order.
    expect(written.filter(timed)).to.deep.equal(truth.filter(timed));
    // Timeless ones each exactly once. Their place is the window they came in;
    // those of the second just before the start or at the end may come with
    // the first or last window, so the edges are one second wide.
    const writtenTimeless = written.filter((r) => !timed(r)).map(key);
    expect(new Set(writtenTimeless).size, 'no timeless record twice').to.equal(writtenTimeless.length);
    const inner = mock.expected(streams[0]!.stream, start + 1, end - 1).filter((r) => !timed(r)).map(key);
    const outer = new Set(mock.expected(streams[0]!.stream, start - 1, end + 1).filter((r) => !timed(r)).map(key));
    expect(inner.length, 'the scenario has timeless records').to.be.greaterThan(10);
    expect(writtenTimeless, 'every timeless record inside the range').to.include.members(inner);
    expect(writtenTimeless.filter((k) => !outer.has(k)), 'none from outside the range').to.deep.equal([]);
  });

  it('resumes from the saved position: a second run continues where the first stopped, nothing twice', async () => {
    const dir = tempDir();
    const streams = ALL_STREAMS.filter((s) => s.section === 'out' || s.section === 'auth');
    const start = END - 7200;
    const mock = await mockFor(streams, start - 600, END + 600);
    const config = writeConfig(dir, streams, mock, { start_time: start, split_interval: 300 });
    const middle = END - 3600;

    const first = await runCli(['--config', config, '--all', '--start-time', String(start), '--end-time', String(middle)], { cwd: dir });
    expect(first.code, first.stderr).to.equal(0);
    for (const s of streams) expect(position(dir, s.section)).to.equal(middle);
    mock.resetStats();

    const second = await runCli(['--config', config, '--all'], { cwd: dir });
    expect(second.code, second.stderr).to.equal(0);
    const firstList = mock.stats().log.find((r) => r.kind === 'list');
    expect(firstList?.starttime, 'the second run starts at the position (one second wider, see docs/api.md, "Range ends")').to.equal(middle - 1);
    for (const s of streams) expectExactly(dir, s, mock, start, position(dir, s.section));
  });

  it('resumes an interrupted backfill with the same command, and a finished one fetches nothing', async () => {
    const dir = tempDir();
    const streams = ALL_STREAMS.filter((s) => s.section === 'auth');
    const start = END - 4 * 3600;
    const end = END - 3600;
    const mock = await mockFor(streams, start - 600, END);
    const config = writeConfig(dir, streams, mock, { split_interval: 60 });
    const args = ['--config', config, '--start-time', String(start), '--end-time', String(end)];

    // The list of the eleventh window is held and the run killed there: with the
    // next list asked before a window commits (pipelining), and commits running
    // on the thread pool while requests go on, eight to ten windows are in (a
    // ninth cut short in its commit is completed from its journal by the next run).
    const held = start + 10 * 60;
    const hold = mock.hold((r) => r.kind === 'list' && new URLSearchParams(r.rawUrl.split('?')[1]).get('starttime') === String(held - 1));
    const first = spawnCli(args, { cwd: dir });
    const exited = collect(first);
    await hold.arrived;
    first.kill('SIGKILL');
    await exited;
    hold.release();
    expect(position(dir, 'auth'), 'the position of the killed run').to.be.oneOf([held - 120, held - 60, held]);

    const second = await runCli(args, { cwd: dir });
    expect(second.code, second.stderr).to.equal(0);
    expect(position(dir, 'auth'), 'the backfill started the cron stream and moved it to its end').to.equal(end);
    expectExactly(dir, streams[0]!, mock, start, end);

    mock.resetStats();
    const third = await runCli(args, { cwd: dir });
    expect(third.code, third.stderr).to.equal(0);
    expect(mock.stats().requests, 'a finished backfill fetches nothing again').to.equal(0);
    expectExactly(dir, streams[0]!, mock, start, end);
  });

  it('retries 429 and 5xx answers and still writes exactly the ground truth', async () => {
    const dir = tempDir();
    const streams = ALL_STREAMS.filter((s) => s.section === 'in' || s.section === 'quar');
    const start = END - 3600;
    const mock = await mockFor(streams, start - 600, END + 600, { faults: { retryAfter: 0, status5xx: 0.1 } });
    // A burst of 429s first (as a quota hit looks), 5xx at random throughout.
    mock.failNext(6, 429);
    const config = writeConfig(dir, streams, mock, { start_time: start, split_interval: 600 });
    const run = await runCli(['--config', config, '--all', '--parallel'], { cwd: dir });
    expect(run.code, run.stderr).to.equal(0);
    const byStatus = mock.stats().byStatus;
    expect(byStatus['429'], 'the mock did answer 429').to.equal(6);
    expect(Object.keys(byStatus).some((k) => k.startsWith('5')), 'the mock did answer 5xx').to.equal(true);
    for (const s of streams) expectExactly(dir, s, mock, start, position(dir, s.section));
  });

  it('stops a section at once on 401 with a message naming it, exit 1, without retrying', async () => {
    const dir = tempDir();
    const streams = ALL_STREAMS.filter((s) => s.section === 'auth');
    const mock = await mockFor(streams, END - 3600, END);
    const config = writeConfig(dir, streams, mock, { start_time: END - 1800 });
    writeFileSync(config, readFileSync(config, 'utf8').replace(KEY, 'wrong-key-0000000000000000'));
    const run = await runCli(['--config', config], { cwd: dir });
    expect(run.code).to.equal(1);
    expect(run.stderr).to.include('section MailLogger:auth: the API refused the key with HTTP 401; check api_key');
    expect(run.stderr, 'the key is never echoed').not.to.include('wrong-key-0000000000000000');
    expect(run.stdout).to.match(/MailLogger:auth: failed/);
    expect(mock.stats().log.length, 'one request, no retries').to.equal(1);
  });

  it('rejects an invalid config with exit 2, every problem listed, nothing fetched', async () => {
    const dir = tempDir();
    const streams = ALL_STREAMS.filter((s) => s.section === 'auth');
    const mock = await mockFor(streams, END - 3600, END);
    const path = join(dir, 'bad.ini');
    writeFileSync(
      path,
      ['[MailLogger:a]', `api_key = ${KEY}`, 'category = mail', 'type = hold', 'split_interval = soon', '', '[MailLogger:b]', 'api_key = YOUR_API_KEY_HERE', 'category = weather', `url = ${mock.urls.mail}`, ''].join('\n'),
    );
    const run = await runCli(['--config', path, '--all'], { cwd: dir });
    expect(run.code).to.equal(2);
    // Each problem on its own line, naming section, option and value.
    const errors = run.stderr.split('\n').filter((l) => l.trimStart().startsWith('error: '));
    expect(errors, run.stderr).to.have.length(4);
    expect(run.stderr).to.include('has 4 errors');
    expect(errors.some((l) => l.includes('[MailLogger:a] split_interval = "soon": must be an integer'))).to.equal(true);
    expect(errors.some((l) => l.includes('[MailLogger:a] type = "hold": must be one of incominglog, outgoinglog'))).to.equal(true);
    expect(errors.some((l) => l.includes('[MailLogger:b] category = "weather": must be one of'))).to.equal(true);
    expect(errors.some((l) => l.includes('[MailLogger:b] api_key') && l.includes('placeholder YOUR_API_KEY_HERE'))).to.equal(true);
    expect(mock.stats().log.length).to.equal(0);
  });

  it('a closed standard output (`| head -1`) changes nothing: exit 0, every record written', async () => {
    const dir = tempDir();
    const streams = ALL_STREAMS.filter((s) => s.section === 'auth');
    const start = END - 1800;
    const mock = await mockFor(streams, start - 600, END + 600);
    const config = writeConfig(dir, streams, mock, { start_time: start });
    const child = spawnCli(['--config', config], { cwd: dir });
    // The reader is gone before the child writes a byte: every write it makes to stdout fails with EPIPE.
    child.stdout?.destroy();
    const run = await collect(child);
    expect(run.code, run.stderr).to.equal(0);
    expect(run.stderr).not.to.match(/EPIPE|Unhandled|error/i);
    expectExactly(dir, streams[0]!, mock, start, position(dir, 'auth'));
  });

  it('--json prints the run as one JSON document: statuses, metrics, errors with codes, totals', async () => {
    const dir = tempDir();
    const streams = ALL_STREAMS.filter((s) => s.section === 'auth' || s.section === 'quar');
    const start = END - 1800;
    const mock = await mockFor(streams, start - 600, END + 600);
    const config = writeConfig(dir, streams, mock, { start_time: start });
    chmodSync(config, 0o644); // a note (key readable by others) must not break the document
    const run = await runCli(['--config', config, '--all', '--json', '--start-time', String(start), '--end-time', String(END)], { cwd: dir });
    expect(run.code, run.stderr).to.equal(0);
    const doc = JSON.parse(run.stdout) as {
      range: unknown;
      totals: Record<string, number>;
      sections: { section: string; status: string; metrics: Record<string, number>; error?: unknown }[];
    };
    expect(doc.range).to.deep.equal({ kind: 'backfill', from: start, to: END });
    expect(doc.sections.map((x) => [x.section, x.status])).to.deep.equal([
      ['MailLogger:quar', 'completed'],
      ['MailLogger:auth', 'completed'],
    ]);
    for (const x of doc.sections) {
      const s = streams.find((c) => `MailLogger:${c.section}` === x.section)!;
      expect(x.metrics.recordsWritten, x.section).to.equal(mock.expected(s.stream, start, END).length);
      expect(x.metrics.position, x.section).to.equal(END);
    }
    expect(doc.totals).to.include({ sections: 2, completed: 2, failed: 0, records: doc.sections.reduce((n, x) => n + x.metrics.recordsWritten!, 0) });
    expect(run.stderr).to.include('readable by group or others');
  });

  it('--quiet prints nothing for a run that went well, warnings included, and still the error of one that did not', async () => {
    const dir = tempDir();
    const streams = ALL_STREAMS.filter((s) => s.section === 'auth');
    const start = END - 1800;
    const mock = await mockFor(streams, start - 600, END + 600);
    const config = writeConfig(dir, streams, mock, { start_time: start });
    chmodSync(config, 0o644); // a warning on every run: the key is readable by others
    const ok = await runCli(['--config', config, '--quiet'], { cwd: dir });
    expect(ok.code, ok.stderr).to.equal(0);
    expect(ok.stdout).to.equal('');
    expect(ok.stderr).to.equal('');
    expectExactly(dir, streams[0]!, mock, start, position(dir, 'auth'));

    writeFileSync(config, readFileSync(config, 'utf8').replace(KEY, 'wrong-key-0000000000000000'));
    // Back to the start, so that the next run has a window to ask for even if
    // it starts within the second the first one reached.
    writeFileSync(join(dir, 'positions', 'auth.pos'), `${start}\n`);
    const failed = await runCli(['--config', config, '--quiet'], { cwd: dir });
    expect(failed.code).to.equal(1);
    expect(failed.stdout).to.equal('');
    expect(failed.stderr).to.include('section MailLogger:auth: the API refused the key with HTTP 401');
    expect(failed.stderr).to.not.include('readable by group or others');
  });

  it('resolves relative paths against the config file directory, whatever the working directory', async () => {
    const dir = tempDir();
    const elsewhere = join(dir, 'elsewhere');
    const confDir = join(dir, 'conf');
    mkdirSync(elsewhere);
    mkdirSync(confDir);
    const streams = ALL_STREAMS.filter((s) => s.section === 'hold');
    const start = END - 1800;
    const mock = await mockFor(streams, start - 600, END + 600);
    writeConfig(confDir, streams, mock, { start_time: start });
    const run = await runCli(['--config', '../conf/uzmanposta.ini'], { cwd: elsewhere });
    expect(run.code, run.stderr).to.equal(0);
    expectExactly(confDir, streams[0]!, mock, start, position(confDir, 'hold'));
    expect(readStream(join(elsewhere, 'output', streams[0]!.dir), streams[0]!.prefix)).to.deep.equal([]);
  });
});
