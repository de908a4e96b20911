// max_run_time in the API client: past the deadline a failing request is not
// retried, and the error says since when the API has failed. The wall clock
// and the sleep are injected: each sleep moves the clock by what it waited,
// so the test takes no time and depends on no speed.

import { expect } from 'chai';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiClient, type ApiClientOptions } from '../../src/api/api-client.js';
import { deadlineStop } from '../../src/api/run-deadline.js';
import { ApiHttpError, RunDeadlineError, deserializeError, serializeError } from '../../src/common/errors.js';
import { onCleanup } from '../support/cleanup.js';
import { testClientOptions } from '../support/client-options.js';
import { rejectionOf } from '../support/harness.js';

const KEY = 'deadline-key-0123456789abcdef';
const T0 = Date.UTC(2026, 0, 5, 10, 0, 0);

async function failingApi(answer: { status: number; headers?: Record<string, string> }): Promise<{ url: string; requests: () => number }> {
  let requests = 0;
  const server = http.createServer((_req, res) => {
    requests++;
    res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
    res.end(JSON.stringify({ status: answer.status, message: 'down for maintenance' }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  onCleanup(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const port = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}/api/v2/logs/mail`, requests: () => requests };
}

function clientWithClock(url: string, over: Partial<ApiClientOptions>) {
  let clock = T0;
  const waits: number[] = [];
  const client = new ApiClient(
    testClientOptions(url, {
      section: 'MailLogger:deadline',
      apiKey: KEY,
      listRetries: 10,
      detailRetries: 10,
      detailSleepSeconds: 2,
      wallClock: () => clock,
      sleep: async (ms) => {
        waits.push(ms);
        clock += ms;
      },
      ...over,
    }),
  );
  onCleanup(() => client.destroy());
  return { client, waits };
}


describe('max_run_time (run deadline)', () => {
  it('stops retrying a failing list request before a wait that would end past the deadline, naming since when', async () => {
    const api = await failingApi({ status: 503 });
    // Backoff 2 s, 4 s, then 8 s would end at T0 + 14 s, past T0 + 10 s.
    const { client, waits } = clientWithClock(api.url, { deadline: { atMs: T0 + 10_000, maxRunTime: 10 } });
    const err = await rejectionOf(client.list(1, 2));
    expect(err).to.be.instanceOf(RunDeadlineError);
    const e = err as RunDeadlineError;
    expect(e.code).to.equal('UZP_RUN_DEADLINE');
    expect(waits).to.deep.equal([2000, 4000]);
    expect(api.requests()).to.equal(3);
    expect(e.message).to.include(`the API was unreachable since ${new Date(T0).toISOString()} (3 failed attempts)`);
    expect(e.message).to.include(`max_run_time (10 s) ends the run at ${new Date(T0 + 10_000).toISOString()}`);
    expect(e.message).to.include('server error HTTP 503');
    expect(e.message).not.to.include(KEY);
    expect(e.context).to.include({ section: 'MailLogger:deadline', attempts: 3, maxRunTime: 10, lastCode: 'UZP_API_HTTP', status: 503 });
    expect(e.context.failingSince).to.equal(new Date(T0).toISOString());
  });

  it('makes one attempt only when the deadline has already passed, and the error crosses the thread boundary', async () => {
    const api = await failingApi({ status: 502 });
    const { client, waits } = clientWithClock(api.url, { deadline: { atMs: T0 - 1, maxRunTime: 240 } });
    const err = await rejectionOf(client.list(1, 2));
    expect(waits).to.deep.equal([]);
    expect(api.requests()).to.equal(1);
    const back = deserializeError(serializeError(err));
    expect(back).to.be.instanceOf(RunDeadlineError);
    expect(back.message).to.include('(1 failed attempt)');
  });

  it('fails a detail request at the deadline instead of resolving it failed (its window must not be committed with summaries)', async () => {
    const api = await failingApi({ status: 500 });
    const { client } = clientWithClock(api.url, { deadline: { atMs: T0 + 3000, maxRunTime: 3 } });
    const err = await rejectionOf(client.detail('Q1', 1));
    expect(err).to.be.instanceOf(RunDeadlineError);
    expect(api.requests()).to.equal(2);
  });

  it('does not wait out a Retry-After that ends past the deadline', async () => {
    const api = await failingApi({ status: 429, headers: { 'retry-after': '30' } });
    const { client, waits } = clientWithClock(api.url, { deadline: { atMs: T0 + 20_000, maxRunTime: 20 } });
    const err = await rejectionOf(client.list(1, 2));
    expect(err).to.be.instanceOf(RunDeadlineError);
    expect(waits).to.deep.equal([]);
    expect((err as RunDeadlineError).context.lastCode).to.equal('UZP_API_HTTP');
  });

  it('retries as before without a deadline', async () => {
    const api = await failingApi({ status: 503 });
    const { client, waits } = clientWithClock(api.url, { listRetries: 3 });
    const err = await rejectionOf(client.list(1, 2));
    expect(err).to.be.instanceOf(ApiHttpError);
    expect(waits).to.deep.equal([2000, 4000, 8000]);
  });

  it('deadlineStop lets a retry through that starts before the deadline, and stops one that starts at or after it', () => {
    const last = new ApiHttpError('x', { section: 's' });
    const deadline = { atMs: 10_000, maxRunTime: 10 };
    expect(deadlineStop(deadline, 5000, 4999, 0, 1, last)).to.equal(null);
    expect(deadlineStop(deadline, 5000, 5000, 0, 1, last)).to.be.instanceOf(RunDeadlineError);
    expect(deadlineStop(undefined, 5000, 1e9, 0, 1, last)).to.equal(null);
  });
});
