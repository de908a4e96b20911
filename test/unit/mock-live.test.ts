// The mock's live mode (issue 13): a mock left running keeps producing
// records as its clock passes their time, so cron-style runs against it get
// new data, as they would from the service. The clock is injected: the test
// moves it, nothing waits.

import { expect } from 'chai';
import { main, LIVE_DAYS, DEFAULT_KEY } from '../../src/mock-api/cli.js';
import { eventTimeOf, startMockApi, type MockApi, type MockRecord } from '../../src/mock-api/index.js';
import { onCleanup } from '../support/cleanup.js';

const FROM = 1_734_870_000;
const KEY = 'live-key-0123456789abcdef';
const AUTH = { key: KEY, domain: 'a.test', category: 'authentication' as const, perMinute: 5 };
const MAIL = { key: KEY, domain: 'a.test', category: 'mail' as const, type: 'incominglog', perMinute: 20 };

async function get(url: string, key: string): Promise<{ status: number; text: string }> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${key}`, accept: 'application/json' } });
  return { status: res.status, text: await res.text() };
}

async function listTimes(url: string, from: number, to: number, key = KEY, extra = ''): Promise<number[]> {
  const r = await get(`${url}?starttime=${from}&endtime=${to}${extra}`, key);
  expect(r.status, r.text).to.equal(200);
  return (JSON.parse(r.text) as MockRecord[]).map((rec) => eventTimeOf('authentication', rec) ?? -1);
}

async function mock(live: boolean, clock: () => number): Promise<MockApi> {
  const api = await startMockApi({ seed: 4, from: FROM, to: FROM + 3600, streams: [AUTH, MAIL], live, now: clock });
  onCleanup(() => api.close());
  return api;
}

describe('mock API live mode', () => {
  it('serves a record only once the clock has reached its time, and the later ones as the clock moves on', async () => {
    let clock = FROM + 1200;
    const api = await mock(true, () => clock);
    const url = `${api.urls.authentication}`;
    const first = await listTimes(url, FROM, FROM + 3599, KEY, '&domain=a.test');
    expect(first.length).to.equal(api.count(AUTH, FROM, FROM + 1201));
    expect(first.length).to.be.greaterThan(50);
    expect(Math.max(...first)).to.be.at.most(clock);
    clock = FROM + 2400;
    const second = await listTimes(url, FROM, FROM + 3599, KEY, '&domain=a.test');
    expect(second.length).to.equal(api.count(AUTH, FROM, FROM + 2401));
    expect(second.length).to.be.greaterThan(first.length);
    // The records already served are the same ones: live mode only hides the future.
    expect(second.filter((t) => t <= FROM + 1200)).to.deep.equal(first);
  });

  it('answers 404 for the detail of a mail record still in the future, and the detail once it happened', async () => {
    let clock = FROM + 3599;
    const api = await mock(true, () => clock);
    // A record the mock has a detail for: its written form is the detail, with its log lines.
    const record = api.expected(MAIL, FROM + 1800, FROM + 3600).find((r) => 'logs' in r)!;
    const t = eventTimeOf('mail', record)!;
    const url = `${api.urls.mail}/${encodeURIComponent(String(record['queue_id']))}?time=${t}`;
    clock = t - 1;
    expect((await get(url, KEY)).status).to.equal(404);
    clock = t;
    const now = await get(url, KEY);
    expect(now.status, now.text).to.equal(200);
    expect((JSON.parse(now.text) as MockRecord)['queue_id']).to.equal(record['queue_id']);
  });

  it('without live mode serves the whole span whatever the clock says', async () => {
    const api = await mock(false, () => FROM);
    const all = await listTimes(api.urls.authentication, FROM, FROM + 3599, KEY, '&domain=a.test');
    expect(all.length).to.equal(api.count(AUTH, FROM, FROM + 3600));
  });

  it('uzmanposta-mock --live has data for a week past now and serves up to its clock', async () => {
    let clock = FROM + 6 * 3600;
    const lines: string[] = [];
    const api = await main(['--live', '--streams', 'authentication@example.com=30'], {
      stdout: (t) => lines.push(t),
      stderr: (t) => lines.push(`ERR ${t}`),
      onSignal: () => undefined,
      setExitCode: () => expect.fail('no exit code expected'),
      now: () => clock,
    });
    expect(api, lines.join('')).to.not.equal(undefined);
    onCleanup(() => api!.close());
    const info = JSON.parse(lines[0]!) as { from: number; to: number; live: boolean };
    expect(info).to.include({ from: clock - 6 * 3600, to: clock + LIVE_DAYS * 86_400, live: true });
    const url = api!.urls.authentication;
    const stream = { domain: 'example.com', category: 'authentication' } as const;
    const now1 = await listTimes(url, clock - 600, clock + 600, DEFAULT_KEY, '&domain=example.com');
    expect(now1.length).to.equal(api!.count(stream, clock - 600, clock + 1));
    clock += 300;
    const now2 = await listTimes(url, clock - 900, clock + 300, DEFAULT_KEY, '&domain=example.com');
    expect(now2.length).to.equal(api!.count(stream, clock - 900, clock + 1));
    expect(Math.max(...now2)).to.be.greaterThan(Math.max(...now1));
  });

  it('uzmanposta-mock refuses --live with --to', async () => {
    const err: string[] = [];
    let code = 0;
    const api = await main(['--live', '--to', String(FROM)], { stdout: () => undefined, stderr: (t) => err.push(t), setExitCode: (c) => (code = c), now: () => FROM });
    expect(api).to.equal(undefined);
    expect(code).to.equal(2);
    expect(err.join('')).to.include('--live and --to cannot be combined');
  });
});
