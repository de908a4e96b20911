// The collector against an API having a bad day (issue 3, part 2). Each test
// runs the real bin/uzmanposta (or, for the 60 s Retry-After, the API client)
// against the mock, and compares what was written with the mock's ground truth.
// Data sits at a fixed hour two days back (support/epochs.ts); cron runs end
// there through end_delay.

import { createServer } from 'node:net';
import { once } from 'node:events';
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

import { expect } from 'chai';

import { ApiClient } from '../../src/api/api-client.js';
import { eventTimeOf, type MockApi, type MockRecord, type MockStreamSpec } from '../../src/mock-api/index.js';
import { runCli, spawnCli, collect, tempDir, until, type CliRun } from '../support/harness.js';
import { dayAnchor } from '../support/epochs.js';
import {
  AUTH,
  DOMAIN,
  KEY,
  errorLog,
  heartbeat,
  listRequests,
  mockForTest,
  nowSeconds,
  outputDir,
  positionPath,
  readPositionFile,
  selector,
  writeConfig,
  written,
  type SectionSpec,
} from '../support/hostile-fixtures.js';

const MAIL_IN: MockStreamSpec = { key: KEY, domain: DOMAIN, category: 'mail', type: 'incominglog', perMinute: 6 };
const QUARANTINE: MockStreamSpec = { key: KEY, domain: DOMAIN, category: 'quarantine', type: 'quarantine', perMinute: 6 };

/** Fields the mock's detail adds to a mail summary: without them a detail is its summary. */
const DETAIL_ONLY_FIELDS = ['logs', 'transactions', 'filters', 'emails', 'headers'];

interface Scenario {
  mock: MockApi;
  dir: string;
  config: string;
  spec: SectionSpec;
  start: number;
  out: string;
}

describe('hostile API: the collector against a misbehaving service', function () {
  this.timeout(30_000);
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    await Promise.all(closers.splice(0).map((close) => close()));
  });
  const register = (close: () => Promise<void>): void => void closers.push(close);

  /** Where every scenario's data ends: noon two days back. */
  const dataEnd = (): number => dayAnchor() + 12 * 3600;

  /** One section reading `stream` for `lookback` seconds up to dataEnd(), a cron run that stops there. */
  async function scenario(
    stream: MockStreamSpec,
    mockOptions: Partial<Parameters<typeof mockForTest>[0]> = {},
    sectionOptions: Record<string, string> = {},
    lookback = 1200,
  ): Promise<Scenario> {
    const end = dataEnd();
    const start = end - lookback;
    const mock = await mockForTest({ seed: 11, from: start - 3600, to: end, streams: [stream], ...mockOptions }, register);
    const dir = tempDir('uzp-hostile-');
    const spec: SectionSpec = {
      name: 's',
      category: stream.category,
      ...(stream.type === undefined ? {} : { type: stream.type }),
      url: mock.urls[stream.category],
      startTime: start,
      // Every run ends at least this far behind now, so past `end`, where there are no records.
      options: { end_delay: String(nowSeconds() - end), ...sectionOptions },
    };
    const config = writeConfig(dir, [spec]);
    return { mock, dir, config, spec, start, out: outputDir(dir, stream.category, stream.type) };
  }

  async function run(s: Scenario): Promise<CliRun> {
    return runCli(['--config', s.config], { cwd: s.dir });
  }

  /** The section completed and wrote exactly the ground truth from its start to its saved position. */
  function expectGroundTruth(s: Scenario, result: CliRun): MockRecord[] {
    expect(result.code, result.stderr + result.stdout).to.equal(0);
    const position = readPositionFile(s.dir, s.spec.name);
    expect(position, 'position file').to.be.a('number');
    const out = written(s.dir, s.spec.category, s.spec.type);
    const truth = s.mock.expected(selector(s.spec.category, s.spec.type), s.start, position as number);
    expect(truth.length, 'the scenario has records to lose').to.be.greaterThan(20);
    expect(out.length).to.equal(truth.length);
    expect(out).to.deep.equal(truth);
    return out;
  }

  function errorsWhere(s: Scenario, pick: (e: Record<string, unknown>) => boolean): Record<string, unknown>[] {
    return errorLog(s.out).filter(pick);
  }

  describe('429 rate limiting', () => {
    it('waits out a burst of 429s with Retry-After: 0 and writes every record once', async () => {
      const s = await scenario(AUTH, { faults: { retryAfter: 0 } }, { split_interval: '1200' });
      s.mock.failNext(4, 429, 'list');
      const result = await run(s);
      expectGroundTruth(s, result);
      expect(s.mock.stats().status429).to.equal(4);
      expect(heartbeat(s.out, 's').metrics.http429).to.equal(4);
      const logged = errorsWhere(s, (e) => e.status === 429);
      expect(logged).to.have.length(4);
      for (const e of logged) expect(e).to.include({ willRetry: true, waitMs: 0 });
    });

    it('waits the number of seconds a numeric Retry-After asks for before asking again', async () => {
      const s = await scenario(AUTH, { faults: { retryAfter: 1 } }, { split_interval: '1200' });
      s.mock.failNext(1, 429, 'list');
      const result = await run(s);
      expectGroundTruth(s, result);
      const [limited, retried] = s.mock.stats().log.filter((e) => e.kind === 'list');
      expect(limited?.status).to.equal(429);
      expect(retried?.starttime).to.equal(limited?.starttime);
      expect((retried?.at ?? 0) - (limited?.at ?? 0)).to.be.at.least(950);
      expect(errorsWhere(s, (e) => e.status === 429)[0]).to.include({ waitMs: 1000, willRetry: true });
    });

    it('backs off (at least 1 s) when a 429 has no Retry-After', async () => {
      const s = await scenario(AUTH, { faults: { retryAfter: 'absent' } }, { split_interval: '1200' });
      s.mock.failNext(1, 429, 'list');
      const result = await run(s);
      expectGroundTruth(s, result);
      const [limited, retried] = s.mock.stats().log.filter((e) => e.kind === 'list');
      expect(limited?.status).to.equal(429);
      expect((retried?.at ?? 0) - (limited?.at ?? 0)).to.be.at.least(950);
      expect(errorsWhere(s, (e) => e.status === 429)[0]).to.include({ waitMs: 1000, willRetry: true });
    });

    it('backs off (at least 1 s) when Retry-After is not a number (API client, sleep injected)', async () => {
      const end = dataEnd();
      const mock = await mockForTest({ seed: 5, from: end - 3600, to: end, streams: [AUTH], faults: { retryAfter: 'garbage' } }, register);
      const waits: number[] = [];
      const client = new ApiClient({
        section: 'MailLogger:s',
        apiKey: KEY,
        url: mock.urls.authentication,
        category: 'authentication',
        type: 'auth',
        domain: DOMAIN,
        listTimeoutMs: 5000,
        detailTimeoutMs: 5000,
        listRetries: 3,
        listSleepSeconds: 0.01,
        detailRetries: 3,
        detailSleepSeconds: 0.01,
        useSession: true,
        maxConnections: 1,
        env: {},
        sleep: async (ms) => {
          waits.push(ms);
        },
      });
      register(() => client.destroy());
      mock.failNext(1, 429, 'list');
      const records = await client.list(end - 600, end - 300);
      expect(waits).to.deep.equal([1000]);
      const log = mock.stats().log;
      expect(log.map((e) => e.status)).to.deep.equal([429, 200]);
      expect(records).to.deep.equal([...mock.expected(selector('authentication'), end - 600, end - 299)].reverse());
    });
  });

  it('retries 5xx answers (JSON and HTML error bodies) for lists and details', async () => {
    // Lists by count (there are only a handful); details by chance, which mixes in the HTML pages.
    const s = await scenario(MAIL_IN, { detailMissingRatio: 0, faults: { status5xx: 0.3, kinds: ['detail'] } });
    s.mock.failNext(3, 503, 'list');
    const result = await run(s);
    const out = expectGroundTruth(s, result);
    for (const r of out) expect(r, 'a detail, not a summary').to.include.keys(DETAIL_ONLY_FIELDS);
    const stats = s.mock.stats();
    const fiveHundreds = (kind: 'list' | 'detail'): number =>
      Object.entries(stats.byKindAndStatus[kind]).reduce((n, [status, count]) => (Number(status) >= 500 ? n + count : n), 0);
    expect(fiveHundreds('list'), 'list 5xx').to.equal(3);
    expect(fiveHundreds('detail'), 'detail 5xx').to.be.greaterThan(3);
    const logged = errorsWhere(s, (e) => typeof e.status === 'number' && e.status >= 500);
    expect(logged).to.have.length(fiveHundreds('list') + fiveHundreds('detail'));
    expect(logged.every((e) => e.willRetry === true)).to.equal(true);
    // The body's scalar fields, or its first characters when it is not JSON (docs/api.md, "Errors").
    expect(logged.some((e) => String(e.error).includes('body starts "<html>')), 'an HTML error page logged').to.equal(true);
    expect(logged.some((e) => /API says status: 5\d\d/.test(String(e.error))), 'a JSON error body logged').to.equal(true);
    expect(heartbeat(s.out, 's').metrics.detailsFailed).to.equal(0);
  });

  it('retries connections dropped before the response and in the middle of the body', async () => {
    const s = await scenario(MAIL_IN, {}, { max_parallel_details: '1' });
    s.mock.failNext(2, 'drop', 'list');
    s.mock.failNext(2, 'dropMidBody', 'list');
    s.mock.failNext(2, 'drop', 'detail');
    s.mock.failNext(2, 'dropMidBody', 'detail');
    const result = await run(s);
    expectGroundTruth(s, result);
    expect(s.mock.stats().dropped).to.equal(8);
    const resets = errorsWhere(s, (e) => e.kind === 'reset');
    expect(resets, JSON.stringify(errorLog(s.out), null, 1)).to.have.length(8);
    expect(resets.every((e) => e.code === 'UZP_NETWORK' && e.willRetry === true)).to.equal(true);
    expect(heartbeat(s.out, 's').metrics.detailsFailed).to.equal(0);
  });

  it('refuses truncated, HTML and empty 200 bodies and asks again', async () => {
    const s = await scenario(MAIL_IN, { faults: { malformedBody: 0.3 } });
    const result = await run(s);
    expectGroundTruth(s, result);
    // A spoiled 404 stays a 404 (HTML body): the summary is written for it, no error logged.
    const malformed = s.mock.stats().log.filter((e) => e.fault === 'malformedBody' && e.status === 200).length;
    expect(malformed).to.be.greaterThan(2);
    const logged = errorsWhere(s, (e) => e.code === 'UZP_API_MALFORMED');
    expect(logged).to.have.length(malformed);
    expect(logged.every((e) => String(e.error).includes('not valid JSON'))).to.equal(true);
    const metrics = heartbeat(s.out, 's').metrics;
    expect(metrics.detailsFailed).to.equal(0);
    // A 200 that could not be used is a failed call in the metrics, not a success.
    expect(metrics.apiErrors).to.equal(malformed);
  });

  it('refuses a JSON object where the list answer is an array', async () => {
    const s = await scenario(AUTH, { faults: { objectInsteadOfArray: 0.5 } });
    const result = await run(s);
    expectGroundTruth(s, result);
    const wrapped = s.mock.stats().byFault['objectInsteadOfArray'] ?? 0;
    expect(wrapped).to.be.greaterThan(0);
    const logged = errorsWhere(s, (e) => e.code === 'UZP_API_MALFORMED');
    expect(logged).to.have.length(wrapped);
    expect(String(logged[0]?.error)).to.include('JSON object where a JSON array of records was expected');
    expect(heartbeat(s.out, 's').metrics.apiErrors).to.equal(wrapped);
  });

  it('writes records without an event time once each, across windows and runs, and counts them', async () => {
    const s = await scenario({ ...QUARANTINE, perMinute: 60 }, { recordsWithoutTimeRatio: 0.3 }, { split_interval: '120' });
    const sel = selector('quarantine', 'quarantine');
    const isTimeless = (r: MockRecord): boolean => eventTimeOf('quarantine', r) === undefined;
    // The first run ends where the seconds on both sides of the boundary hold timeless records:
    // the second run's first request overlaps the first run's last one exactly there.
    let boundary = s.start + 600;
    while (!(s.mock.expected(sel, boundary - 1, boundary).some(isTimeless) && s.mock.expected(sel, boundary, boundary + 1).some(isTimeless))) boundary++;
    const first = await runCli(['--config', s.config, '--start-time', String(s.start), '--end-time', String(boundary)], { cwd: s.dir });
    expect(first.code, first.stderr).to.equal(0);
    expect(readPositionFile(s.dir, 's')).to.equal(boundary);
    const countedFirst = heartbeat(s.out, 's').metrics.recordsWithoutTime ?? 0;
    const second = await run(s);
    expect(second.code, second.stderr).to.equal(0);
    const countedSecond = heartbeat(s.out, 's').metrics.recordsWithoutTime ?? 0;

    const position = readPositionFile(s.dir, 's') as number;
    const out = written(s.dir, 'quarantine', 'quarantine');
    const key = (r: MockRecord): string => JSON.stringify(r);
    const outKeys = out.map(key);
    expect(new Set(outKeys).size, 'no record written twice').to.equal(outKeys.length);
    // Inside the range every record is written; a timeless one from the second just outside
    // either end may come along with the window it arrived in (docs/api.md, "Records and event time").
    const truth = s.mock.expected(sel, s.start, position);
    expect(truth.filter(isTimeless).length, 'the scenario has timeless records').to.be.greaterThan(20);
    expect(outKeys).to.include.members(truth.map(key));
    expect(s.mock.expected(sel, s.start - 1, position + 1).map(key)).to.include.members(outKeys);
    // Timeless records are placed at the start of their window; the timed ones keep ground-truth order.
    expect(out.filter((r) => !isTimeless(r))).to.deep.equal(truth.filter((r) => !isTimeless(r)));
    expect(countedFirst + countedSecond).to.equal(out.filter(isTimeless).length);
  });

  it("fetches details of queue ids holding '/', '?', '%' and '..' inside the detail path", async () => {
    // Enough records that each hostile piece shows up even where the mock's daily wave is low.
    const s = await scenario({ ...MAIL_IN, perMinute: 12 }, { hostileQueueIds: true, detailMissingRatio: 0 }, { max_parallel_details: '4' }, 2400);
    const result = await run(s);
    const out = expectGroundTruth(s, result);
    const ids = out.map((r) => String(r['queue_id']));
    for (const piece of ['/', '?', '%', '..']) expect(ids.some((id) => id.includes(piece)), `an id with ${piece}`).to.equal(true);
    for (const r of out) expect(r, String(r['queue_id'])).to.include.keys(DETAIL_ONLY_FIELDS);
    const stats = s.mock.stats();
    expect(stats.byKind.other, 'requests outside the list and detail paths').to.equal(0);
    const details = stats.log.filter((e) => e.kind === 'detail');
    expect(details.map((e) => e.queueId).sort()).to.deep.equal([...ids].sort());
    expect(details.every((e) => e.status === 200)).to.equal(true);
    expect(heartbeat(s.out, 's').metrics.detailsFetched).to.equal(out.length);
  });

  describe('timeouts', () => {
    it('gives up a list request slower than list_timeout, names the timeout and asks again', async () => {
      const s = await scenario(AUTH, {}, { list_timeout: '1' });
      // The first list is held until the client gives up on it; the rest are answered at once.
      const slow = s.mock.hold((r) => r.kind === 'list');
      register(async () => slow.release());
      const child = spawnCli(['--config', s.config], { cwd: s.dir });
      const done = collect(child);
      await until(() => (slow.abandoned === 1 ? true : undefined), 'the client to give up the held list');
      slow.release();
      const result = await done;
      expectGroundTruth(s, result);
      const timeouts = errorsWhere(s, (e) => e.kind === 'timeout');
      expect(timeouts).to.have.length(1);
      expect(String(timeouts[0]?.error)).to.match(/timed out/);
      expect(timeouts[0]).to.include({ code: 'UZP_NETWORK', willRetry: true });
    });

    it('writes the summary when a detail is slower than detail_timeout, and counts it', async () => {
      const s = await scenario(MAIL_IN, { detailMissingRatio: 0 }, { detail_timeout: '1', detail_retries: '0', max_parallel_details: '1' });
      // The first detail is held until the client gives up on it; the rest are answered at once.
      const slow = s.mock.hold((r) => r.kind === 'detail');
      register(async () => slow.release());
      const child = spawnCli(['--config', s.config], { cwd: s.dir });
      const done = collect(child);
      const slowId = (await slow.arrived).queueId;
      await until(() => (slow.abandoned === 1 ? true : undefined), 'the client to give up the held detail');
      slow.release();
      const result = await done;
      expect(result.code, result.stderr).to.equal(0);
      const position = readPositionFile(s.dir, 's') as number;
      const truth = s.mock.expected(selector('mail', 'incominglog'), s.start, position);
      const out = written(s.dir, 'mail', 'incominglog');
      expect(out).to.have.length(truth.length);
      const summaryOf = (detail: MockRecord): MockRecord =>
        Object.fromEntries(Object.entries(detail).filter(([k]) => !DETAIL_ONLY_FIELDS.includes(k)));
      expect(out).to.deep.equal(truth.map((r) => (r['queue_id'] === slowId ? summaryOf(r) : r)));
      expect(heartbeat(s.out, 's').metrics.detailsFailed).to.equal(1);
      const timeouts = errorsWhere(s, (e) => e.kind === 'timeout');
      expect(timeouts).to.have.length(1);
      expect(String(timeouts[0]?.url)).to.include(encodeURIComponent(String(slowId)));
    });
  });

  describe('unreachable service', () => {
    async function unreachable(url: string, kind: 'dns' | 'refused', words: RegExp): Promise<void> {
      const dir = tempDir('uzp-hostile-');
      const start = dataEnd() - 600;
      const config = writeConfig(dir, [{ name: 's', category: 'authentication', url, startTime: start - 3600, options: { list_retries: '1' } }]);
      // Saved by an earlier run; this one must not move it.
      const pos = positionPath(dir, 's');
      mkdirSync(dirname(pos), { recursive: true });
      writeFileSync(pos, `${start}\n`);
      const result = await runCli(['--config', config], { cwd: dir });
      expect(result.code, result.stderr).to.equal(1);
      expect(readPositionFile(dir, 's')).to.equal(start);
      const entries = errorLog(outputDir(dir, 'authentication'));
      const network = entries.filter((e) => e.code === 'UZP_NETWORK');
      expect(network, JSON.stringify(entries, null, 1)).to.have.length(2);
      for (const e of network) {
        expect(e.kind).to.equal(kind);
        expect(String(e.error)).to.match(words);
      }
      const givenUp = entries.find((e) => e.code === 'UZP_WINDOW_GIVEN_UP');
      expect(givenUp, 'the window given up').to.include({ from: start, section: 'MailLogger:s' });
      expect(result.stderr).to.include('[MailLogger:s]');
    }

    it('names a DNS failure as such and fails the section without moving the position', async () => {
      await unreachable('http://nonexistent.invalid/api/v2/logs/authentication', 'dns', /DNS resolution failed for nonexistent\.invalid/);
    });

    it('names a refused connection as such and fails the section without moving the position', async () => {
      const server = createServer();
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close();
      await once(server, 'close');
      await unreachable(`http://127.0.0.1:${port}/api/v2/logs/authentication`, 'refused', /connection refused by 127\.0\.0\.1:\d+/);
    });
  });

  describe('keys the service refuses', () => {
    it('401: stops the section at once with one request and a message naming the section', async () => {
      const s = await scenario(AUTH, { keys: { 'some-other-key-000000000000': [DOMAIN] } });
      const result = await run(s);
      expect(result.code, result.stderr).to.equal(1);
      expect(s.mock.stats().requests).to.equal(1);
      expect(result.stderr).to.match(/\[MailLogger:s\].*HTTP 401/);
      const refused = errorsWhere(s, (e) => e.code === 'UZP_API_AUTH' && e.status === 401);
      expect(refused).to.not.be.empty;
      // At once: the request's entry plans no retry and no wait, and none does.
      expect(refused.some((e) => e.willRetry === false && e.waitMs === undefined), JSON.stringify(refused)).to.equal(true);
      expect(refused.filter((e) => e.willRetry === true || e.waitMs !== undefined)).to.deep.equal([]);
      expect(readPositionFile(s.dir, 's')).to.equal(undefined);
    });

    it('403: stops a section whose domain the key may not read, with one request', async () => {
      const s = await scenario(AUTH);
      const config = writeConfig(s.dir, [{ ...s.spec, domain: 'b.test' }]);
      const result = await runCli(['--config', config], { cwd: s.dir });
      expect(result.code, result.stderr).to.equal(1);
      expect(s.mock.stats().requests).to.equal(1);
      expect(s.mock.stats().log[0]).to.include({ status: 403, domain: 'b.test' });
      expect(result.stderr).to.match(/\[MailLogger:s\].*HTTP 403.*b\.test/);
      const logged = errorLog(outputDir(s.dir, 'authentication', undefined, 'b.test'));
      expect(logged.filter((e) => e.code === 'UZP_API_AUTH' && e.status === 403)).to.not.be.empty;
    });
  });

  it('an overfull second: writes its page, logs a truncated window, counts it and goes on', async () => {
    const pageSize = 20;
    const s = await scenario({ ...AUTH, perMinute: 1000 }, { pageSize }, { max_records_per_page: String(pageSize), split_interval: '60' }, 180);
    const result = await run(s);
    expect(result.code, result.stderr).to.equal(0);
    const position = readPositionFile(s.dir, 's') as number;
    expect(position).to.be.at.least(s.start + 180);
    const sel = selector('authentication');
    const out = written(s.dir, 'authentication');
    const overfull: number[] = [];
    const want: MockRecord[] = [];
    for (let t = s.start; t < position; t++) {
      const second = s.mock.expected(sel, t, t + 1);
      if (second.length >= pageSize) overfull.push(t);
      // The service answers newest first: a full page holds a second's newest records.
      want.push(...second.slice(-pageSize));
    }
    expect(overfull.length, 'the scenario has overfull seconds').to.be.greaterThan(0);
    expect(overfull.length, 'and seconds that are not').to.be.below(position - s.start);
    expect(out).to.deep.equal(want);
    const truncated = errorsWhere(s, (e) => e.code === 'UZP_TRUNCATED_WINDOW');
    expect(truncated.map((e) => e.from)).to.deep.equal(overfull);
    expect(heartbeat(s.out, 's').metrics.truncatedWindows).to.equal(overfull.length);
  });

  it('a window given up after all retries fails the section at that window; a rerun completes it exactly', async () => {
    const s = await scenario(AUTH, {}, { list_retries: '1', split_interval: '300' });
    const failFrom = s.start + 600;
    // Windows before failFrom answer; the one starting there gets 503 every time.
    s.mock.setFaults({
      kinds: ['list'],
      failPaths: (req) => {
        const starttime = Number(new URLSearchParams(req.rawUrl.split('?')[1] ?? '').get('starttime'));
        return starttime + 1 >= failFrom ? 503 : undefined;
      },
    });
    const first = await run(s);
    expect(first.code, first.stderr).to.equal(1);
    expect(readPositionFile(s.dir, 's')).to.equal(failFrom);
    const givenUp = errorsWhere(s, (e) => e.code === 'UZP_WINDOW_GIVEN_UP');
    expect(givenUp).to.have.length(1);
    expect(givenUp[0]).to.include({ from: failFrom, to: failFrom + 300, section: 'MailLogger:s' });
    expect(String(givenUp[0]?.error)).to.include(`window ${failFrom}–${failFrom + 300}`);
    expect(listRequests(s.mock).filter((r) => r.status === 503)).to.have.length(2);
    expect(written(s.dir, 'authentication')).to.deep.equal(s.mock.expected(selector('authentication'), s.start, failFrom));

    s.mock.setFaults({ failPaths: undefined });
    const second = await run(s);
    expectGroundTruth(s, second);
  });

  it('caps a quarantine start 8 days back at now − 6 days: no 406, an explicit gap, then ground truth', async () => {
    const end = dataEnd();
    const start = dayAnchor() - 6 * 86400;
    const mock = await mockForTest({ seed: 4, from: start - 3600, to: end, streams: [{ ...QUARANTINE, perMinute: 0.2 }] }, register);
    const dir = tempDir('uzp-hostile-');
    const spec: SectionSpec = {
      name: 's',
      category: 'quarantine',
      type: 'quarantine',
      url: mock.urls.quarantine,
      startTime: start,
      options: { split_interval: '86400', max_time_gap: '86400', end_delay: String(nowSeconds() - end) },
    };
    const config = writeConfig(dir, [spec]);
    // The cap follows the collector's clock: read before and after the run.
    const before = nowSeconds();
    const result = await runCli(['--config', config], { cwd: dir });
    const after = nowSeconds();
    expect(result.code, result.stderr).to.equal(0);
    const stats = mock.stats();
    expect(stats.status406).to.equal(0);
    const out = outputDir(dir, 'quarantine', 'quarantine');
    const gaps = errorLog(out).filter((e) => e.gap === true);
    expect(gaps).to.have.length(1);
    const gap = gaps[0] as Record<string, unknown>;
    expect(gap).to.include({ section: 'MailLogger:s', from: start, code: 'UZP_GAP' });
    expect(gap.to).to.be.within(before - 6 * 86400, after - 6 * 86400);
    expect(String(gap.reason)).to.match(/7 days/);
    expect(Math.min(...listRequests(mock).map((r) => r.starttime))).to.be.at.least((gap.to as number) - 1);
    const metrics = heartbeat(out, 's').metrics;
    expect(metrics.gaps).to.equal(1);
    expect(metrics.gapSeconds).to.equal((gap.to as number) - start);
    const position = readPositionFile(dir, 's') as number;
    const truth = mock.expected(selector('quarantine', 'quarantine'), gap.to as number, position);
    expect(truth.length).to.be.greaterThan(100);
    expect(written(dir, 'quarantine', 'quarantine')).to.deep.equal(truth);
  });
});
