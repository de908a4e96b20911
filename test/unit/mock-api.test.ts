import { spawn } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

import { expect } from 'chai';
import { readFileSync } from 'node:fs';

import { main, parseStreams, DEFAULT_KEY } from '../../src/mock-api/cli.js';
import { eventTimeOf, startMockApi, type FaultRequestInfo, type MockApi, type MockApiOptions, type MockRecord, type MockStreamSpec } from '../../src/mock-api/index.js';
import { until } from '../support/harness.js';

const FROM = 1_734_870_000;
const TO = FROM + 3 * 3600;
const KEY = 'test-key-aaaaaaaaaaaaaaaa';
const OTHER_KEY = 'test-key-bbbbbbbbbbbbbbbb';

const STREAMS: MockStreamSpec[] = [
  { key: KEY, domain: 'a.test', category: 'mail', type: 'incominglog', perMinute: 40 },
  { key: KEY, domain: 'a.test', category: 'mail', type: 'outgoinglog', perMinute: 20 },
  { key: KEY, domain: 'a.test', category: 'quarantine', type: 'quarantine', perMinute: 6 },
  { key: KEY, domain: 'a.test', category: 'quarantine', type: 'hold', perMinute: 2 },
  { key: KEY, domain: 'a.test', category: 'authentication', perMinute: 120 },
  { key: OTHER_KEY, domain: 'b.test', category: 'authentication', perMinute: 30 },
];

const AUTH_A = { domain: 'a.test', category: 'authentication' } as const;
const MAIL_IN = { domain: 'a.test', category: 'mail', type: 'incominglog' } as const;

function optionsWith(options: Partial<MockApiOptions> = {}): MockApiOptions {
  return { seed: 7, from: FROM, to: TO, streams: STREAMS, now: () => TO, ...options };
}

interface Reply {
  status: number;
  headers: Headers;
  text: string;
}

/** `key: null` sends no Authorization header at all. */
async function get(url: string, key: string | null = KEY, init: RequestInit = {}): Promise<Reply> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (key !== null) headers['authorization'] = `Bearer ${key}`;
  const res = await fetch(url, { ...init, headers });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

function listUrl(api: MockApi, category: 'mail' | 'quarantine' | 'authentication', s: number, e: number, extra: Record<string, string> = {}): string {
  const q = new URLSearchParams({ starttime: String(s), endtime: String(e), ...extra });
  return `${api.urls[category]}?${q.toString()}`;
}

async function list(api: MockApi, category: 'mail' | 'quarantine' | 'authentication', s: number, e: number, extra: Record<string, string> = {}): Promise<MockRecord[]> {
  const reply = await get(listUrl(api, category, s, e, extra));
  expect(reply.status, reply.text).to.equal(200);
  const body: unknown = JSON.parse(reply.text);
  expect(body).to.be.an('array');
  return body as MockRecord[];
}

function mailTime(r: MockRecord): number {
  const t = eventTimeOf('mail', r);
  if (t === undefined) throw new Error('mail record without event time');
  return t;
}

function detailUrl(api: MockApi, r: MockRecord): string {
  return `${api.urls.mail}/${encodeURIComponent(r['queue_id'] as string)}?time=${mailTime(r)}`;
}

/** A second holding at least `min` records of the stream, found through the ground truth. */
function busySecond(api: MockApi, min: number, after = FROM): number {
  for (let t = after; t < TO; t++) if (api.count(AUTH_A, t, t + 1) >= min) return t;
  throw new Error('no busy second');
}

describe('mock API', () => {
  // Servers a test starts are closed right after it; shared ones by their suite's after().
  const startedByTest: MockApi[] = [];
  afterEach(async () => {
    await Promise.all(startedByTest.splice(0).map((api) => api.close()));
  });
  async function start(options: Partial<MockApiOptions> = {}): Promise<MockApi> {
    const api = await startMockApi(optionsWith(options));
    startedByTest.push(api);
    return api;
  }

  describe('data', () => {
    let api: MockApi;
    before(async () => {
      api = await startMockApi(optionsWith());
    });
    after(() => api.close());

    it('generates the same records for the same seed and different ones for another seed', async () => {
      const twin = await start();
      const other = await start({ seed: 8 });
      const a = await get(listUrl(api, 'mail', FROM, FROM + 900, { type: 'incominglog', domain: 'a.test' }));
      const b = await get(listUrl(twin, 'mail', FROM, FROM + 900, { type: 'incominglog', domain: 'a.test' }));
      const c = await get(listUrl(other, 'mail', FROM, FROM + 900, { type: 'incominglog', domain: 'a.test' }));
      expect(JSON.parse(a.text)).to.have.length.greaterThan(100);
      expect(a.text).to.equal(b.text);
      expect(a.text).to.not.equal(c.text);
      expect(api.expected(MAIL_IN, FROM, FROM + 1800)).to.deep.equal(twin.expected(MAIL_IN, FROM, FROM + 1800));
    });

    it("keeps a stream's records when other streams are added or reordered", async () => {
      const alone = await start({ streams: [STREAMS[4]!] });
      expect(alone.expected(AUTH_A, FROM, FROM + 1800)).to.deep.equal(api.expected(AUTH_A, FROM, FROM + 1800));
    });

    it('answers newest first, capped at pageSize with the newest records', async () => {
      const small = await start({ pageSize: 50 });
      const all = small.expected(AUTH_A, FROM, FROM + 601);
      expect(all.length).to.be.greaterThan(50);
      const page = await list(small, 'authentication', FROM, FROM + 600, { domain: 'a.test' });
      expect(page).to.deep.equal(all.slice(-50).reverse());
      const times = page.map((r) => r['time'] as number);
      for (let k = 1; k < times.length; k++) expect(times[k]).to.be.at.most(times[k - 1]!);
      const under = await list(small, 'authentication', FROM, FROM + 10, { domain: 'a.test' });
      expect(under).to.deep.equal(small.expected(AUTH_A, FROM, FROM + 11).reverse());
    });

    it('puts several records in one second, so boundary seconds matter, and reports the busiest', () => {
      const t = busySecond(api, 3);
      expect(api.count(AUTH_A, t, t + 1)).to.be.at.least(3);
      let max = 0;
      for (let s = FROM; s < FROM + 3600; s++) max = Math.max(max, api.count(AUTH_A, s, s + 1));
      expect(api.maxPerSecond(AUTH_A, FROM, FROM + 3600)).to.equal(max);
      // Without a domain, every domain's records of that second add up.
      const both = api.count({ category: 'authentication' }, t, t + 1);
      expect(api.maxPerSecond({ category: 'authentication' }, t, t + 1)).to.equal(both);
    });

    for (const [mode, includesStart, includesEnd] of [
      ['both', true, true],
      ['start', true, false],
      ['end', false, true],
    ] as const) {
      it(`rangeEnds '${mode}' ${includesStart ? 'includes' : 'excludes'} starttime and ${includesEnd ? 'includes' : 'excludes'} endtime`, async () => {
        const m = await start({ rangeEnds: mode });
        const s = busySecond(m, 2);
        const e = busySecond(m, 2, s + 5);
        const page = await list(m, 'authentication', s, e, { domain: 'a.test' });
        const times = page.map((r) => r['time'] as number);
        const atStart = times.filter((t) => t === s).length;
        const atEnd = times.filter((t) => t === e).length;
        expect(atStart).to.equal(includesStart ? m.count(AUTH_A, s, s + 1) : 0);
        expect(atEnd).to.equal(includesEnd ? m.count(AUTH_A, e, e + 1) : 0);
        expect(page.length).to.equal(m.count(AUTH_A, includesStart ? s : s + 1, includesEnd ? e + 1 : e));
      });
    }

    it('gives records the documented shapes, with traps and unknown fields', () => {
      const mail = api.expected(MAIL_IN, FROM, TO);
      const withRecipients = mail.filter((r) => (r['recipients'] as unknown[]).length > 0);
      // The top-level time is a few seconds before the event time: clients must use recipients[0].time.
      expect(withRecipients.every((r) => (r['time'] as number) < mailTime(r))).to.equal(true);
      expect(mail.some((r) => (r['recipients'] as unknown[]).length === 0)).to.equal(true);
      expect(mail.some((r) => 'x_unknown' in r)).to.equal(true);
      const q = api.expected({ domain: 'a.test', category: 'quarantine', type: 'quarantine' }, FROM, TO);
      expect(q.some((r) => 'timestamp' in r && !('time' in r))).to.equal(true);
      expect(q.some((r) => 'starttime' in r && !('time' in r))).to.equal(true);
      expect(q.every((r) => eventTimeOf('quarantine', r) !== undefined)).to.equal(true);
      const auth = api.expected(AUTH_A, FROM, FROM + 600);
      expect(Object.keys(auth[0]!)).to.include.members(['time', 'user', 'ip', 'protocol', 'result']);
    });

    it('can leave a share of quarantine records without any time field', async () => {
      const withoutTime = await start({ recordsWithoutTimeRatio: 0.3 });
      const q = withoutTime.expected({ domain: 'a.test', category: 'quarantine', type: 'quarantine' }, FROM, TO);
      const none = q.filter((r) => eventTimeOf('quarantine', r) === undefined).length;
      expect(none / q.length).to.be.within(0.2, 0.4);
      // The server still places them by their hidden event time.
      const listed = await list(withoutTime, 'quarantine', FROM, TO, { type: 'quarantine', domain: 'a.test' });
      expect(listed).to.deep.equal(q.slice().reverse());
    });

    it('merges every allowed domain, newest first, when a list names no domain', async () => {
      const both = await start({ keys: { [KEY]: ['a.test', 'b.test'] } });
      const merged = await list(both, 'authentication', FROM, FROM + 120);
      const expected = both.expected({ category: 'authentication' }, FROM, FROM + 121);
      expect(merged).to.deep.equal(expected.reverse());
      expect(new Set(merged.map((r) => (r['user'] as string).split('@')[1]))).to.deep.equal(new Set(['a.test', 'b.test']));
    });

    it('serves a million-record stream lazily', async () => {
      const to = FROM + 1000 * 60;
      const big = await start({ to, streams: [{ key: KEY, domain: 'a.test', category: 'authentication', perMinute: 1000 }] });
      const total = big.count(AUTH_A, FROM, to);
      // The rate follows a daily wave, so part of a day averages a little off perMinute.
      expect(total).to.be.within(800_000, 1_200_000);
      const page = await list(big, 'authentication', to - 3600, to, { domain: 'a.test' });
      expect(page).to.have.length(1000);
      let n = 0;
      let last = -Infinity;
      for (const r of big.iterateExpected(AUTH_A, to - 600, to)) {
        expect(r['time']).to.be.at.least(last);
        last = r['time'] as number;
        n++;
      }
      expect(n).to.equal(big.count(AUTH_A, to - 600, to));
    });
  });

  describe('errors', () => {
    let api: MockApi;
    before(async () => {
      api = await startMockApi(optionsWith());
    });
    after(() => api.close());

    async function errorOf(url: string, key: string | null = KEY): Promise<{ status: number; body: Record<string, unknown> }> {
      const reply = await get(url, key);
      return { status: reply.status, body: JSON.parse(reply.text) as Record<string, unknown> };
    }

    it('answers 401 without a key and with an unknown key', async () => {
      const url = listUrl(api, 'authentication', FROM, FROM + 60);
      const missing = await errorOf(url, null);
      expect(missing.status).to.equal(401);
      expect(missing.body).to.include({ status: 401 });
      expect((await errorOf(url, 'nope-nope-nope-nope')).status).to.equal(401);
    });

    it('answers 403 when the key may not read the domain', async () => {
      const r = await errorOf(listUrl(api, 'authentication', FROM, FROM + 60, { domain: 'b.test' }));
      expect(r.status).to.equal(403);
      expect(r.body['message']).to.be.a('string');
    });

    it('answers 400 for bad times and for a type that does not fit the category', async () => {
      const bad = [
        `${api.urls.authentication}?endtime=${FROM}`,
        `${api.urls.authentication}?starttime=${FROM}`,
        `${api.urls.authentication}?starttime=soon&endtime=${FROM}`,
        `${api.urls.authentication}?starttime=${FROM}.5&endtime=${FROM + 9}`,
        listUrl(api, 'authentication', FROM + 10, FROM),
        listUrl(api, 'mail', FROM, FROM + 60),
        listUrl(api, 'mail', FROM, FROM + 60, { type: 'quarantine' }),
        listUrl(api, 'quarantine', FROM, FROM + 60, { type: 'incominglog' }),
        listUrl(api, 'authentication', FROM, FROM + 60, { type: 'incominglog' }),
      ];
      for (const url of bad) expect((await errorOf(url)).status, url).to.equal(400);
    });

    it("answers 406 for a quarantine search older than the injected now minus 7 days", async () => {
      const now = FROM + 8 * 86400;
      const m = await start({ now: () => now });
      const tooOld = await errorOf(listUrl(m, 'quarantine', now - 7 * 86400 - 1, now - 7 * 86400 + 60, { type: 'hold' }));
      expect(tooOld.status).to.equal(406);
      expect(tooOld.body['message']).to.equal('Can make search 7 days before at most');
      expect((await get(listUrl(m, 'quarantine', now - 7 * 86400, now - 7 * 86400 + 60, { type: 'hold' }))).status).to.equal(200);
      // Only quarantine has the retention limit.
      expect((await get(listUrl(m, 'authentication', FROM, FROM + 60))).status).to.equal(200);
      expect(m.stats().status406).to.equal(1);
    });

    it('refuses bad options, listing every problem at once', async () => {
      let failed: unknown;
      await startMockApi(
        optionsWith({
          from: TO,
          to: FROM,
          pageSize: 0,
          streams: [{ key: KEY, domain: 'a.test', category: 'authentication', type: 'hold', perMinute: -1 }],
        }),
      ).catch((err: unknown) => (failed = err));
      expect(failed).to.be.instanceOf(RangeError);
      for (const word of ['from/to', 'pageSize', 'type must be absent', 'perMinute']) expect((failed as Error).message).to.include(word);
      let badFault: unknown;
      await startMockApi(optionsWith({ faults: { dropMidBody: 1.5 } })).catch((err: unknown) => (badFault = err));
      expect((badFault as Error).message).to.include('dropMidBody');
    });

    it('answers 404 JSON for unknown paths', async () => {
      const r = await errorOf(`${api.url}/api/v2/nothing`);
      expect(r.status).to.equal(404);
      expect(r.body['status']).to.equal(404);
    });
  });

  describe('details', () => {
    let api: MockApi;
    let summaries: MockRecord[];
    before(async () => {
      api = await startMockApi(optionsWith({ hostileQueueIds: true, detailMissingRatio: 0.2 }));
      summaries = await list(api, 'mail', FROM, FROM + 900, { type: 'incominglog', domain: 'a.test' });
      expect(summaries.length).to.be.within(100, 999);
    });
    after(() => api.close());

    it('returns the full record for a listed queue id: the summary fields and more', async () => {
      const expected = api.expected(MAIL_IN, FROM, FROM + 901);
      const withDetail = expected.filter((r) => 'logs' in r);
      const summary = summaries.find((s) => s['queue_id'] === withDetail[0]!['queue_id'])!;
      const reply = await get(detailUrl(api, summary));
      expect(reply.status).to.equal(200);
      const detail = JSON.parse(reply.text) as MockRecord;
      expect(detail).to.deep.equal(withDetail[0]);
      expect(detail).to.include.keys('logs', 'transactions', 'filters', 'emails');
      for (const [k, v] of Object.entries(summary)) expect(detail[k], k).to.deep.equal(v);
    });

    it('answers 404 for the deterministic share without detail, which expected() keeps as summaries', async () => {
      const expected = api.expected(MAIL_IN, FROM, FROM + 901);
      const missing = expected.filter((r) => !('logs' in r));
      expect(missing.length / expected.length).to.be.within(0.1, 0.3);
      const reply = await get(detailUrl(api, missing[0]!));
      expect(reply.status).to.equal(404);
      expect(missing[0]).to.deep.equal(summaries.find((s) => s['queue_id'] === missing[0]!['queue_id']));
    });

    it('round-trips hostile queue ids through encodeURIComponent', async () => {
      const hostile = summaries.filter((s) => /[/?%]|\.\.|\s|[^\x20-\x7e]/.test(s['queue_id'] as string));
      const ids = hostile.map((s) => s['queue_id'] as string).join('');
      for (const ch of ['/', '?', '%', '..', ' ']) expect(ids, ch).to.include(ch);
      expect(/[^\x00-\x7f]/.test(ids)).to.equal(true);
      const expected = new Map(api.expected(MAIL_IN, FROM, FROM + 901).map((r) => [r['queue_id'], r]));
      for (const s of hostile) {
        const reply = await get(detailUrl(api, s));
        const want = expected.get(s['queue_id']);
        if ('logs' in want!) {
          expect(reply.status, s['queue_id'] as string).to.equal(200);
          expect(JSON.parse(reply.text)).to.deep.equal(want);
        } else expect(reply.status).to.equal(404);
      }
    });

    it('answers 404 for a wrong time, an unknown id or an unencoded slash, and 400 without time', async () => {
      const s = summaries.find((r) => !/[/?%#]/.test(r['queue_id'] as string))!;
      const id = s['queue_id'] as string;
      expect((await get(`${api.urls.mail}/${encodeURIComponent(id)}?time=${mailTime(s) + 1}`)).status).to.equal(404);
      expect((await get(`${api.urls.mail}/${encodeURIComponent(`X${id}`)}?time=${mailTime(s)}`)).status).to.equal(404);
      expect((await get(`${api.urls.mail}/ab/cd?time=${mailTime(s)}`)).status).to.equal(404);
      expect((await get(`${api.urls.mail}/${encodeURIComponent(id)}`)).status).to.equal(400);
      const decoded = api.stats().log.filter((e) => e.kind === 'detail').map((e) => e.queueId);
      expect(decoded).to.include(id);
    });
  });

  describe('ground truth', () => {
    async function collectLikeAClient(api: MockApi, window: number): Promise<MockRecord[]> {
      // Newest windows first, each kept half-open [S, S+window) whatever the server's range ends.
      const windows: MockRecord[][] = [];
      for (let s = TO - window; s >= FROM; s -= window) {
        const page = await list(api, 'mail', s, s + window, { type: 'incominglog', domain: 'a.test' });
        expect(page.length).to.be.below(1000);
        windows.unshift(page.filter((r) => mailTime(r) >= s && mailTime(r) < s + window).reverse());
      }
      const out: MockRecord[] = [];
      for (const r of windows.flat()) {
        const reply = await get(detailUrl(api, r));
        expect([200, 404]).to.include(reply.status);
        out.push(reply.status === 200 ? (JSON.parse(reply.text) as MockRecord) : r);
      }
      return out;
    }

    it('expected() equals listing the whole span in small windows, newest first, plus details', async function () {
      this.timeout(20_000);
      const api = await start({ to: FROM + 900, hostileQueueIds: true });
      const got = await collectLikeAClient(api, 120);
      const expected = api.expected(MAIL_IN, FROM, FROM + 900);
      expect(got.length).to.equal(api.count(MAIL_IN, FROM, FROM + 900));
      expect(got).to.deep.equal(expected);
      expect(Array.from(api.iterateExpected(MAIL_IN, FROM, FROM + 900))).to.deep.equal(expected);
    });

    it("gives the same answer when the server's range excludes one end", async function () {
      this.timeout(20_000);
      const api = await start({ to: FROM + 600, rangeEnds: 'start' });
      expect(await collectLikeAClient(api, 300)).to.deep.equal(api.expected(MAIL_IN, FROM, FROM + 600));
    });
  });

  describe('faults', () => {
    it('adds latencyMs to responses', async () => {
      const api = await start({ faults: { latencyMs: 120 } });
      const t0 = performance.now();
      expect((await get(listUrl(api, 'authentication', FROM, FROM + 5))).status).to.equal(200);
      expect(performance.now() - t0).to.be.at.least(110);
    });

    it('answers 429 with a numeric, absent or garbage Retry-After', async () => {
      const api = await start({ faults: { status429: 1, retryAfter: 7 } });
      const url = listUrl(api, 'authentication', FROM, FROM + 5);
      const numeric = await get(url);
      expect(numeric.status).to.equal(429);
      expect(numeric.headers.get('retry-after')).to.equal('7');
      api.setFaults({ retryAfter: 'absent' });
      expect((await get(url)).headers.get('retry-after')).to.equal(null);
      api.setFaults({ retryAfter: 'garbage' });
      const garbage = (await get(url)).headers.get('retry-after');
      expect(garbage).to.be.a('string');
      expect(Number.isNaN(Number(garbage))).to.equal(true);
      expect(api.stats().status429).to.equal(3);
    });

    it('answers 5xx, sometimes with a body that is not JSON', async () => {
      const api = await start({ faults: { status5xx: 1 } });
      const replies = await Promise.all(Array.from({ length: 20 }, () => get(listUrl(api, 'authentication', FROM, FROM + 5))));
      for (const r of replies) expect(r.status).to.be.oneOf([500, 502, 503, 504]);
      expect(replies.some((r) => r.text.startsWith('<html>'))).to.equal(true);
      expect(replies.some((r) => r.text.startsWith('{'))).to.equal(true);
    });

    it('drops the connection before any response', async () => {
      const api = await start({ faults: { dropBeforeResponse: 1 } });
      let failed: unknown;
      await get(listUrl(api, 'authentication', FROM, FROM + 5)).catch((err: unknown) => (failed = err));
      expect(failed).to.be.instanceOf(Error);
      expect(api.stats().byStatus['drop']).to.equal(1);
    });

    it('drops the connection part-way through the body', async () => {
      const api = await start({ faults: { dropMidBody: 1 } });
      const res = await fetch(listUrl(api, 'authentication', FROM, FROM + 600), { headers: { authorization: `Bearer ${KEY}` } });
      expect(res.status).to.equal(200);
      let failed: unknown;
      await res.text().catch((err: unknown) => (failed = err));
      expect(failed).to.be.instanceOf(Error);
      expect(api.stats().dropped).to.equal(1);
    });

    it('sends 200 bodies that are cut short or not JSON', async () => {
      const api = await start({ faults: { malformedBody: 1 } });
      const replies = await Promise.all(Array.from({ length: 12 }, () => get(listUrl(api, 'authentication', FROM, FROM + 600))));
      for (const r of replies) {
        expect(r.status).to.equal(200);
        expect(() => JSON.parse(r.text) as unknown).to.throw();
      }
    });

    it('sends a JSON object where a list should be an array, and only on lists', async () => {
      const api = await start({ faults: { objectInsteadOfArray: 1 } });
      const listed = JSON.parse((await get(listUrl(api, 'mail', FROM, FROM + 300, { type: 'incominglog' }))).text) as unknown;
      expect(Array.isArray(listed)).to.equal(false);
      expect(listed).to.be.an('object');
      const data = (listed as { data: MockRecord[] }).data;
      const withDetail = api.expected(MAIL_IN, FROM, FROM + 301).filter((r) => 'logs' in r)[0]!;
      const summary = data.find((r) => r['queue_id'] === withDetail['queue_id'])!;
      expect((await get(detailUrl(api, summary))).status).to.equal(200);
    });

    it('delays by slowMs so a client timeout fires, and close() does not wait for the slow answer', async () => {
      // Ten minutes: a close() that waited for the answer would outlast the test's timeout.
      const api = await startMockApi({ from: FROM, to: TO, streams: STREAMS, faults: { slowMs: 600_000 } });
      let failed: unknown;
      await fetch(listUrl(api, 'authentication', FROM, FROM + 5), {
        headers: { authorization: `Bearer ${KEY}` },
        signal: AbortSignal.timeout(100),
      }).catch((err: unknown) => (failed = err));
      expect((failed as Error).name).to.equal('TimeoutError');
      // The request was answered (logged) with its delay still to run.
      expect(api.stats().requests).to.equal(1);
      await api.close();
      await api.close();
    });

    it('limits faults to the given kinds', async () => {
      const api = await start({ faults: { status5xx: 1, kinds: ['detail'] } });
      const page = await list(api, 'mail', FROM, FROM + 300, { type: 'incominglog', domain: 'a.test' });
      expect((await get(detailUrl(api, page[0]!))).status).to.be.at.least(500);
    });

    it('fails exactly the next n requests of a kind with failNext', async () => {
      const api = await start();
      const url = listUrl(api, 'mail', FROM, FROM + 300, { type: 'incominglog' });
      api.failNext(2, 503, 'list');
      expect((await get(url)).status).to.equal(503);
      expect((await get(url)).status).to.equal(503);
      const ok = await list(api, 'mail', FROM, FROM + 300, { type: 'incominglog' });
      expect((await get(detailUrl(api, ok[0]!))).status).to.be.oneOf([200, 404]);
      api.failNext(1, 'drop', 'detail');
      let failed: unknown;
      await get(detailUrl(api, ok[0]!)).catch((err: unknown) => (failed = err));
      expect(failed).to.be.instanceOf(Error);
      expect(api.stats().byKindAndStatus.list['503']).to.equal(2);
    });

    it('fails the requests a failPaths hook picks', async () => {
      const api = await start();
      const page = await list(api, 'mail', FROM, FROM + 300, { type: 'incominglog', domain: 'a.test' });
      const target = page[1]!['queue_id'] as string;
      api.setFaults({ failPaths: (r) => (r.queueId === target ? 502 : undefined) });
      expect((await get(detailUrl(api, page[1]!))).status).to.equal(502);
      expect((await get(detailUrl(api, page[0]!))).status).to.be.oneOf([200, 404]);
      api.setFaults({ failPaths: undefined });
      expect((await get(detailUrl(api, page[1]!))).status).to.be.oneOf([200, 404]);
    });

    it('draws probabilistic faults from the seed: same requests, same outcomes', async () => {
      const statuses = async (api: MockApi): Promise<number[]> => {
        const out: number[] = [];
        for (let k = 0; k < 30; k++) out.push((await get(listUrl(api, 'authentication', FROM, FROM + k))).status);
        return out;
      };
      const a = await statuses(await start({ faults: { status5xx: 0.5 } }));
      const b = await statuses(await start({ faults: { status5xx: 0.5 } }));
      const c = await statuses(await start({ seed: 99, faults: { status5xx: 0.5 } }));
      expect(a).to.deep.equal(b);
      expect(a).to.not.deep.equal(c);
      expect(a).to.include(200);
      expect(a.some((s) => s >= 500)).to.equal(true);
    });

    it('switches faults on and off at runtime', async () => {
      const api = await start();
      const url = listUrl(api, 'authentication', FROM, FROM + 5);
      expect((await get(url)).status).to.equal(200);
      api.setFaults({ status5xx: 1 });
      expect((await get(url)).status).to.be.at.least(500);
      api.setFaults({ status5xx: 0 });
      expect((await get(url)).status).to.equal(200);
      expect(() => api.setFaults({ status429: 2 })).to.throw(RangeError);
    });

    it('rate-limits per key with a token bucket, answering 429 with a numeric Retry-After', async () => {
      let clock = 0;
      const api = await start({
        keys: { [KEY]: ['a.test'], [OTHER_KEY]: ['b.test'] },
        monotonicMs: () => clock,
        faults: { perKeyRateLimit: { requestsPerSecond: 0.5, burst: 2 }, rateLimitHeaders: true },
      });
      const url = listUrl(api, 'authentication', FROM, FROM + 5);
      expect((await get(url)).status).to.equal(200);
      const second = await get(url);
      expect(second.status).to.equal(200);
      expect(second.headers.get('x-ratelimit-limit')).to.equal('2');
      expect(second.headers.get('x-ratelimit-remaining')).to.equal('0');
      const limited = await get(url);
      expect(limited.status).to.equal(429);
      expect(limited.headers.get('retry-after')).to.equal('2');
      expect(limited.headers.get('x-ratelimit-reset')).to.equal('4');
      // Another key has its own bucket.
      expect((await get(listUrl(api, 'authentication', FROM, FROM + 5, { domain: 'b.test' }), OTHER_KEY)).status).to.equal(200);
      clock += 2000;
      expect((await get(url)).status).to.equal(200);
      expect((await get(url)).status).to.equal(429);
      const stats = api.stats();
      expect(stats.status429).to.equal(2);
      expect(stats.byFault['rateLimit']).to.equal(2);
    });
    it('fixed window per key (Laravel throttle): N per window from the first request, X-RateLimit-* on every answer, exact ground truth', async () => {
      let clock = 1000;
      const wall = 1_800_000_000_000;
      const api = await start({
        keys: { [KEY]: ['a.test'], [OTHER_KEY]: ['b.test'] },
        monotonicMs: () => clock,
        wallMs: () => wall + clock,
        faults: { fixedWindow: { requests: 3, seconds: 60 } },
      });
      const url = listUrl(api, 'authentication', FROM, FROM + 5);
      const remaining: (string | null)[] = [];
      for (let i = 0; i < 3; i++) {
        const r = await get(url);
        expect(r.status).to.equal(200);
        expect(r.headers.get('x-ratelimit-limit')).to.equal('3');
        expect(r.headers.get('x-ratelimit-reset'), 'Laravel sends the reset only on a 429').to.equal(null);
        remaining.push(r.headers.get('x-ratelimit-remaining'));
        clock += 1000;
      }
      expect(remaining).to.deep.equal(['2', '1', '0']);
      // 3 s into the window: 57 s to its end.
      const refused = await get(url);
      expect(refused.status).to.equal(429);
      expect((JSON.parse(refused.text) as { message: string }).message).to.equal('Too Many Attempts.');
      expect(refused.headers.get('retry-after')).to.equal('57');
      expect(refused.headers.get('x-ratelimit-remaining')).to.equal('0');
      expect(refused.headers.get('x-ratelimit-reset')).to.equal(String(Math.ceil((wall + 1000 + 60_000) / 1000)));
      // Another key has a window of its own.
      expect((await get(listUrl(api, 'authentication', FROM, FROM + 5, { domain: 'b.test' }), OTHER_KEY)).status).to.equal(200);
      clock = 1000 + 60_000 - 1;
      const last = await get(url);
      expect(last.status, 'the window ends at 60 s, not before').to.equal(429);
      expect(last.headers.get('retry-after'), 'at least 1 s').to.equal('1');
      clock = 1000 + 60_000 + 5000;
      // A new window starts at the first request after the old one ended, not at its end.
      expect((await get(url)).status).to.equal(200);
      clock += 58_000;
      expect((await get(url)).status).to.equal(200);
      expect((await get(url)).status).to.equal(200);
      const fourth = await get(url);
      expect(fourth.headers.get('retry-after')).to.equal('2');
      expect(api.fixedWindows().map(({ key, startAt, endAt, admitted, rejected }) => ({ key, startAt, endAt, admitted, rejected }))).to.deep.equal([
        { key: KEY, startAt: 1000, endAt: 61_000, admitted: 3, rejected: 2 },
        { key: OTHER_KEY, startAt: 4000, endAt: 64_000, admitted: 1, rejected: 0 },
        { key: KEY, startAt: 66_000, endAt: 126_000, admitted: 3, rejected: 1 },
      ]);
      const stats = api.stats();
      expect(stats.byFault['fixedWindow']).to.equal(3);
      expect(stats.status429).to.equal(3);
      expect(() => api.setFaults({ fixedWindow: { requests: 0, seconds: 60 } })).to.throw(RangeError, /fixedWindow/);
    });

    it('random 429s come on top of the fixed window, and a window counts the requests they answer', async () => {
      let clock = 0;
      const api = await start({ monotonicMs: () => clock, faults: { fixedWindow: { requests: 5, seconds: 10 }, status429: 1 } });
      const url = listUrl(api, 'authentication', FROM, FROM + 5);
      for (let i = 0; i < 6; i++) expect((await get(url)).status).to.equal(429);
      const stats = api.stats();
      expect(stats.byFault).to.deep.equal({ status429: 5, fixedWindow: 1 });
      expect(api.fixedWindows()[0]).to.include({ admitted: 5, rejected: 1 });
    });
  });

  describe('holds', () => {
    const starttimeOf = (r: FaultRequestInfo): number => Number(new URLSearchParams(r.rawUrl.split('?')[1] ?? '').get('starttime'));

    it('keeps a matching request unanswered until released, then answers it exactly as an unheld mock would', async () => {
      const api = await start();
      const twin = await start();
      const hold = api.hold((r) => r.kind === 'list' && starttimeOf(r) === FROM);
      const heldUrl = listUrl(api, 'authentication', FROM, FROM + 60);
      let answered = false;
      const held = get(heldUrl).then((reply) => ((answered = true), reply));
      const info = await hold.arrived;
      expect(info).to.include({ kind: 'list', key: KEY });
      expect(info.rawUrl).to.include(`starttime=${FROM}&`);
      // Other requests go on meanwhile.
      expect((await get(listUrl(api, 'authentication', FROM + 60, FROM + 120))).status).to.equal(200);
      expect(answered, 'answered before the release').to.equal(false);
      expect([hold.caught, hold.waiting, hold.abandoned]).to.deep.equal([1, 1, 0]);
      expect(api.stats().log.map((e) => e.starttime), 'the request log sees a held request when it is answered').to.deep.equal([FROM + 60]);

      hold.release();
      hold.release();
      const reply = await held;
      expect(reply.status).to.equal(200);
      expect(reply.text).to.equal((await get(listUrl(twin, 'authentication', FROM, FROM + 60))).text);
      expect(JSON.parse(reply.text)).to.deep.equal(api.expected(AUTH_A, FROM, FROM + 61).reverse());
      expect(api.stats().log.map((e) => e.starttime)).to.deep.equal([FROM + 60, FROM]);
      expect(hold.waiting).to.equal(0);
      // One request caught, so the next matching one is answered at once.
      expect((await get(heldUrl)).status).to.equal(200);
      expect(hold.caught).to.equal(1);
    });

    it('catches up to count requests, counts a client that hangs up, and close() drops what it still holds', async () => {
      const api = await start();
      const hold = api.hold((r) => r.kind === 'detail', 2);
      const page = await list(api, 'mail', FROM, FROM + 300, { type: 'incominglog', domain: 'a.test' });
      const first = new AbortController();
      const firstReply = get(detailUrl(api, page[0]!), KEY, { signal: first.signal }).then(
        () => 'answered',
        (err: unknown) => (err as Error).name,
      );
      await hold.arrived;
      const secondReply = get(detailUrl(api, page[1]!)).then(
        () => 'answered',
        () => 'connection closed',
      );
      await until(() => (hold.caught === 2 ? true : undefined), 'the second detail caught');
      expect([200, 404]).to.include((await get(detailUrl(api, page[2]!))).status);

      first.abort();
      expect(await firstReply).to.equal('AbortError');
      await until(() => (hold.abandoned === 1 ? true : undefined), 'the hang-up noticed');
      expect([hold.caught, hold.waiting]).to.deep.equal([2, 1]);

      await api.close();
      expect(await secondReply).to.equal('connection closed');
      expect(api.stats().byKind.detail, 'held requests never answered').to.equal(1);
      expect(() => api.hold(() => true, 0)).to.throw(RangeError);
    });
  });

  describe('stats', () => {
    it('counts by kind and status, logs each request and resets', async () => {
      const api = await start({ logLimit: 5 });
      await list(api, 'mail', FROM, FROM + 300, { type: 'incominglog', domain: 'a.test' });
      await get(listUrl(api, 'authentication', FROM, FROM + 5), 'bad-key-bad-key-bad');
      await get(`${api.urls.mail}/${encodeURIComponent('no/such id')}?time=${FROM}`);
      let s = api.stats();
      expect(s.requests).to.equal(3);
      expect(s.byKind).to.deep.equal({ list: 2, detail: 1, other: 0 });
      expect(s.byStatus).to.deep.equal({ '200': 1, '401': 1, '404': 1 });
      const [first, , third] = s.log;
      expect(first).to.include({ kind: 'list', key: KEY, category: 'mail', type: 'incominglog', domain: 'a.test', starttime: FROM, endtime: FROM + 300, status: 200 });
      expect(first!.records).to.equal(api.count(MAIL_IN, FROM, FROM + 301));
      expect(third).to.include({ kind: 'detail', queueId: 'no/such id', status: 404 });
      for (let k = 0; k < 10; k++) await get(listUrl(api, 'authentication', FROM, FROM + k));
      s = api.stats();
      expect(s.requests).to.equal(13);
      expect(s.log).to.have.length(5);
      expect(s.log[4]!.endtime).to.equal(FROM + 9);
      api.resetStats();
      s = api.stats();
      expect(s.requests).to.equal(0);
      expect(s.log).to.deep.equal([]);
    });
  });

  describe('command line', () => {
    it('parses --streams specs, expanding missing types and domains', () => {
      const streams = parseStreams('mail@x.test=5,authentication,quarantine:hold', ['d1', 'd2'], 'k', 3);
      expect(streams).to.deep.equal([
        { key: 'k', domain: 'x.test', category: 'mail', type: 'incominglog', perMinute: 5 },
        { key: 'k', domain: 'x.test', category: 'mail', type: 'outgoinglog', perMinute: 5 },
        { key: 'k', domain: 'd1', category: 'authentication', perMinute: 3 },
        { key: 'k', domain: 'd2', category: 'authentication', perMinute: 3 },
        { key: 'k', domain: 'd1', category: 'quarantine', type: 'hold', perMinute: 3 },
        { key: 'k', domain: 'd2', category: 'quarantine', type: 'hold', perMinute: 3 },
      ]);
      expect(() => parseStreams('mail:hold', ['d'], 'k')).to.throw(/type hold/);
    });

    it('main() starts the mock, prints one JSON line and stops on a signal', async () => {
      const lines: string[] = [];
      const handlers = new Map<string, () => void>();
      const api = await main(['--seed', '3', '--to', String(TO), '--streams', 'authentication=30', '--range-ends', 'start'], {
        stdout: (t) => lines.push(t),
        stderr: (t) => lines.push(`ERR ${t}`),
        onSignal: (sig, h) => handlers.set(sig, h),
        setExitCode: () => expect.fail('no exit code expected'),
      });
      expect(api).to.not.equal(undefined);
      try {
        expect(lines).to.have.length(1);
        const info = JSON.parse(lines[0]!) as { url: string; urls: Record<string, string>; keys: Record<string, string[]>; from: number; to: number };
        expect(info).to.include({ url: api!.url, from: TO - 6 * 3600, to: TO });
        expect(info.keys).to.deep.equal({ [DEFAULT_KEY]: ['example.com', 'example.org'] });
        const stream = { domain: 'example.org', category: 'authentication' } as const;
        let end = TO - 600;
        while (api!.count(stream, end, end + 1) === 0) end++;
        const url = `${info.urls['authentication']}?starttime=${end - 600}&endtime=${end}&domain=example.org`;
        const page = await get(url, DEFAULT_KEY);
        expect(page.status).to.equal(200);
        const times = (JSON.parse(page.text) as MockRecord[]).map((r) => r['time']);
        expect(times).to.have.length(api!.count(stream, end - 600, end));
        // --range-ends start: the endtime second is left out.
        expect(times).to.not.include(end);
        expect([...handlers.keys()].sort()).to.deep.equal(['SIGINT', 'SIGTERM']);
        handlers.get('SIGTERM')!();
        // The handler alone must stop the server: poll until connections are refused.
        const deadline = Date.now() + 2000;
        let refused = false;
        while (!refused && Date.now() < deadline) refused = await get(url, DEFAULT_KEY).then(() => false, () => true);
        expect(refused).to.equal(true);
      } finally {
        await api!.close();
      }
    });

    it('main() prints the version in package.json for --version and starts nothing', async () => {
      const out: string[] = [];
      const api = await main(['--version'], { stdout: (t) => out.push(t), stderr: () => undefined });
      expect(api).to.equal(undefined);
      const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
      expect(out.join('')).to.equal(`${pkg.version}\n`);
    });

    it('main() --fixed-window and --random-429 (with --random-429-retry-after none) shape the answers; bad values are usage errors', async () => {
      const out: string[] = [];
      const api = await main(['--to', String(TO), '--streams', 'authentication@x.test=30', '--fixed-window', '4/86400', '--random-429', '0.5', '--random-429-retry-after', 'none'], {
        stdout: (t) => out.push(t),
        stderr: (t) => expect.fail(t),
        onSignal: () => undefined,
        setExitCode: () => expect.fail('no exit code expected'),
      });
      expect(api).to.not.equal(undefined);
      try {
        const url = `${api!.urls.authentication}?starttime=${TO - 600}&endtime=${TO}&domain=x.test`;
        const replies: Reply[] = [];
        for (let i = 0; i < 12; i++) replies.push(await get(url, DEFAULT_KEY));
        const stats = api!.stats();
        const random = stats.byFault['status429'] ?? 0;
        const windowed = stats.byFault['fixedWindow'] ?? 0;
        expect(random, 'some random 429s at P = 0.5').to.be.within(1, 3);
        expect(windowed).to.equal(8);
        expect(stats.byStatus['200']).to.equal(4 - random);
        for (const r of replies.filter((x) => x.status === 429 && x.headers.get('x-ratelimit-reset') === null)) {
          expect(r.headers.get('retry-after'), 'random 429 without Retry-After').to.equal(null);
        }
        expect(replies.filter((x) => x.status === 429 && x.headers.get('x-ratelimit-reset') !== null)).to.have.length(8);
      } finally {
        await api!.close();
      }
      for (const bad of [['--fixed-window', '300'], ['--fixed-window', '0/60'], ['--random-429', '2'], ['--random-429-retry-after', 'later']]) {
        const err: string[] = [];
        let code: number | undefined;
        expect(await main(['--to', String(TO), ...bad], { stdout: () => undefined, stderr: (t) => err.push(t), setExitCode: (c) => (code = c) })).to.equal(undefined);
        expect(code, bad.join(' ')).to.equal(2);
        expect(err.join('')).to.include(bad[0]!);
      }
    });

    it('main() reports bad usage with exit code 2', async () => {
      const err: string[] = [];
      let code: number | undefined;
      const api = await main(['--port', 'x', '--bogus'], { stdout: () => undefined, stderr: (t) => err.push(t), setExitCode: (c) => (code = c) });
      expect(api).to.equal(undefined);
      expect(code).to.equal(2);
      expect(err.join('')).to.match(/uzmanposta-mock: /);
    });

    it('bin/uzmanposta-mock serves until SIGTERM and exits 0', async () => {
      const bin = fileURLToPath(new URL('../../../bin/uzmanposta-mock', import.meta.url));
      const child = spawn(process.execPath, [bin, '--hours', '1', '--streams', 'authentication@demo.test=60', '--seed', '5'], { stdio: ['ignore', 'pipe', 'inherit'] });
      const exited = once(child, 'exit');
      try {
        const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
        const info = JSON.parse(line) as { urls: { authentication: string }; to: number };
        const reply = await new Promise<number>((resolve, reject) => {
          const url = `${info.urls.authentication}?starttime=${info.to - 300}&endtime=${info.to}&domain=demo.test`;
          http
            .get(url, { headers: { authorization: `Bearer ${DEFAULT_KEY}` }, agent: false }, (res) => {
              res.resume();
              resolve(res.statusCode ?? 0);
            })
            .on('error', reject);
        });
        expect(reply).to.equal(200);
        child.kill('SIGTERM');
        const [code] = (await exited) as [number | null];
        expect(code).to.equal(0);
      } finally {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
    });
  });
});
