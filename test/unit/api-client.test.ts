import { expect } from 'chai';
import { createHook } from 'node:async_hooks';
import { once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { rootCertificates } from 'node:tls';
import util from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ApiClient, caBundle, encodePathSegment, proxyFromEnv, type ApiClientOptions, type RateGate, type RequestEvent } from '../../src/api/api-client.js';
import { AbortedError, ApiAuthError, ApiHttpError, ConfigError, MalformedResponseError, NetworkError } from '../../src/common/errors.js';
import { maskKey } from '../../src/common/mask.js';
import { networkErrorKind, toNetworkError } from '../../src/api/network-errors.js';
import { RATE_LIMIT_RETRIES } from '../../src/api/retry-policy.js';
import { testClientOptions } from '../support/client-options.js';
import { rejectionOf } from '../support/harness.js';

// A self-signed certificate for 127.0.0.1 (valid for 100 years), used as its own CA.
const TLS_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgGvF5s9pxiK4A5Xya
and9jWokjkm8NxJerFlQVWw77c2hRANCAAQP5JoSTDnvOB7JHPbGxg6dA/BJ0xaD
KvyrKEEkuwbcfGWkC6LbK+CkYPQ/CCuMq8fwFJg2L8JzrYpBHOwqt5g1
-----END PRIVATE KEY-----
`;
const TLS_CERT = `-----BEGIN CERTIFICATE-----
MIIBpzCCAU2gAwIBAgIUOFzc1sBw9y75aqzsb9AqmDEU6Z4wCgYIKoZIzj0EAwIw
GjEYMBYGA1UEAwwPdXptYW5wb3N0YSB0ZXN0MCAXDTI2MTEyOTExMTczOFoYDzIx
MjYxMTA1MTExNzM4WjAaMRgwFgYDVQQDDA91em1hbnBvc3RhIHRlc3QwWTATBgcq
hkjOPQIBBggqhkjOPQMBBwNCAAQP5JoSTDnvOB7JHPbGxg6dA/BJ0xaDKvyrKEEk
uwbcfGWkC6LbK+CkYPQ/CCuMq8fwFJg2L8JzrYpBHOwqt5g1o28wbTAdBgNVHQ4E
FgQUit9C6FkWNMtkOwR0iM+JKj2lVmkwHwYDVR0jBBgwFoAUit9C6FkWNMtkOwR0
iM+JKj2lVmkwGgYDVR0RBBMwEYcEfwAAAYIJbG9jYWxob3N0MA8GA1UdEwEB/wQF
MAMBAf8wCgYIKoZIzj0EAwIDSAAwRQIgFIRxWr6CFxelF1uJ4ZSBlCaJ4UxINiPY
XgdH4Irm9QMCIQD6dSs6aJeTrDqz+BGF9yU1IYQMv12QMG5cgr2U+zWjvw==
-----END CERTIFICATE-----
`;

const KEY = 'SECRET-KEY-0123456789abcdef-ZZZ';
const MAIL_PATH = '/api/v2/logs/mail';
const RECORD = { queue_id: '4Xk2Lm0Qz1', from: 'a@example.com', unknown_field: { kept: [1, 2] }, recipients: [{ time: 1734876012 }] };

type Step = (req: http.IncomingMessage, res: http.ServerResponse) => void;

// --- answers a fake API gives (one per request; the last one repeats) ---
const json =
  (status: number, body: unknown, headers: Record<string, string> = {}): Step =>
  (_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };
const text =
  (status: number, body: string): Step =>
  (_req, res) => {
    res.writeHead(status, { 'content-type': 'text/html' });
    res.end(body);
  };
const tooManyRequests = (retryAfter?: string): Step =>
  json(429, { status: 429, message: 'Too Many Requests' }, retryAfter === undefined ? {} : { 'retry-after': retryAfter });
const dropsConnection: Step = (req) => req.socket.destroy();
const dropsMidBody: Step = (req, res) => {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
  res.write('[{"queue_id":"a"},', () => req.socket.destroy());
};
// Complete as far as HTTP goes (Content-Length matches), but the JSON is cut short.
const truncatedJson = text(200, '[{"queue_id":"a"},{"queue_id":"b","recipi');
const notJson = text(200, '<html><body>maintenance</body></html>');
const objectInsteadOfArray = json(200, { records: [RECORD] });
const neverAnswers: Step = () => {};
const stallsInBody: Step = (_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
  res.write('[');
};

interface FakeApi {
  origin: string;
  /** The mail list URL on this server. */
  url: string;
  requests: { url: string; headers: http.IncomingHttpHeaders }[];
  connections: () => number;
  server: http.Server;
}

let cleanups: Array<() => unknown> = [];
afterEach(async () => {
  const todo = cleanups.reverse();
  cleanups = [];
  for (const c of todo) await c();
});

async function listen(server: net.Server): Promise<number> {
  const sockets = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.listen(0, '127.0.0.1');
  cleanups.push(async () => {
    // Held requests and tunnels would otherwise keep close() waiting.
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

async function fakeApi(steps: Step[], opts: { tls?: boolean } = {}): Promise<FakeApi> {
  const requests: FakeApi['requests'] = [];
  let connections = 0;
  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const step = steps[Math.min(requests.length, steps.length - 1)];
    requests.push({ url: req.url ?? '', headers: req.headers });
    step?.(req, res);
  };
  const server = opts.tls ? https.createServer({ key: TLS_KEY, cert: TLS_CERT }, handler) : http.createServer(handler);
  server.on(opts.tls ? 'secureConnection' : 'connection', () => connections++);
  const port = await listen(server);
  const origin = `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  return { origin, url: `${origin}${MAIL_PATH}`, requests, connections: () => connections, server };
}

/** A CONNECT proxy that tunnels to 127.0.0.1 only, recording what it was asked for. */
async function tunnellingProxy(): Promise<{ url: string; connects: string[] }> {
  const connects: string[] = [];
  const proxy = http.createServer((_req, res) => res.writeHead(405).end());
  proxy.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    connects.push(req.url ?? '');
    const port = Number((req.url ?? '').split(':').pop());
    const upstream = net.connect(port, '127.0.0.1', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    client.on('close', () => upstream.destroy());
  });
  const port = await listen(proxy);
  return { url: `http://127.0.0.1:${port}`, connects };
}

function makeClient(url: string, over: Partial<ApiClientOptions> = {}) {
  const waits: number[] = [];
  const events: RequestEvent[] = [];
  const client = new ApiClient(
    testClientOptions(url, {
      apiKey: KEY,
      sleep: async (ms) => {
        waits.push(ms);
      },
      onRequest: (ev) => events.push(ev),
      ...over,
    }),
  );
  cleanups.push(() => client.destroy());
  return { client, waits, events };
}


function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'uzp-api-client-'));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function deadPort(): Promise<number> {
  const s = net.createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

function query(url: string): Record<string, string> {
  return Object.fromEntries(new URL(url, 'http://x').searchParams);
}

describe('ApiClient', () => {
  describe('list requests', () => {
    it('sends GET {url}?starttime&endtime&type&domain with the bearer key and Accept, and resolves the array as received', async () => {
      const api = await fakeApi([json(200, [RECORD, { other: 'shape', n: 1 }])]);
      const { client } = makeClient(api.url);
      const records = await client.list(1734876000, 1734876300);
      expect(records).to.deep.equal([RECORD, { other: 'shape', n: 1 }]);
      expect(api.requests).to.have.length(1);
      const req = api.requests[0]!;
      expect(req.url.split('?')[0]).to.equal(MAIL_PATH);
      expect(query(req.url)).to.deep.equal({ starttime: '1734876000', endtime: '1734876300', type: 'incominglog', domain: 'example.com' });
      expect(req.headers.authorization).to.equal(`Bearer ${KEY}`);
      expect(req.headers.accept).to.equal('application/json');
    });

    it('sends no type for authentication and no domain when the section has none', async () => {
      const api = await fakeApi([json(200, [])]);
      const { client } = makeClient(`${api.origin}/api/v2/logs/authentication`, { category: 'authentication', type: 'auth', domain: '' });
      await client.list(10, 20);
      expect(query(api.requests[0]!.url)).to.deep.equal({ starttime: '10', endtime: '20' });
    });

    it('sends the type for quarantine', async () => {
      const api = await fakeApi([json(200, [])]);
      const { client } = makeClient(`${api.origin}/api/v2/quarantines`, { category: 'quarantine', type: 'hold' });
      await client.list(10, 20);
      expect(query(api.requests[0]!.url)).to.include({ type: 'hold', domain: 'example.com' });
    });
  });

  describe('detail requests', () => {
    it('GETs {url}/{queue_id}?time=T and resolves the record as received', async () => {
      const full = { ...RECORD, logs: [], transactions: [], filters: [], emails: [] };
      const api = await fakeApi([json(200, full)]);
      const { client } = makeClient(api.url);
      expect(await client.detail('4Xk2Lm0Qz1', 1734876012)).to.deep.equal({ status: 'ok', record: full });
      expect(api.requests[0]!.url).to.equal(`${MAIL_PATH}/4Xk2Lm0Qz1?time=1734876012`);
    });

    it('sends queue ids with / ? % .. space and ü as one encoded path segment', async () => {
      const api = await fakeApi([json(200, RECORD)]);
      const { client } = makeClient(api.url);
      const ids = ['a/b', 'q?time=1&x', '100%', '../../etc/passwd', 'with space', 'ümlaut', '..', '.'];
      for (const id of ids) await client.detail(id, 5);
      expect(api.requests).to.have.length(ids.length);
      api.requests.forEach((req, i) => {
        const id = ids[i]!;
        const [pathPart, q] = req.url.split('?');
        expect(q, id).to.equal('time=5');
        expect(pathPart!.startsWith(`${MAIL_PATH}/`), id).to.equal(true);
        const segment = pathPart!.slice(MAIL_PATH.length + 1);
        expect(segment, id).to.not.match(/[/?\s]/);
        expect(decodeURIComponent(segment), id).to.equal(id);
      });
      // A bare dot segment would be resolved away by the server or a proxy.
      expect(encodePathSegment('..')).to.equal('%2E%2E');
    });

    it('resolves a 404 as missing after one request, without retrying', async () => {
      const api = await fakeApi([json(404, { status: 404, message: 'Not found' })]);
      const { client, waits } = makeClient(api.url);
      expect(await client.detail('gone', 5)).to.deep.equal({ status: 'missing' });
      expect(api.requests).to.have.length(1);
      expect(waits).to.deep.equal([]);
    });

    it('resolves any other failure as failed after detailRetries + 1 attempts, backing off from detail_sleep_time', async () => {
      const api = await fakeApi([json(500, { message: 'boom' })]);
      const { client, waits } = makeClient(api.url, { detailRetries: 2, detailSleepSeconds: 1 });
      const result = await client.detail('q1', 5);
      expect(result.status).to.equal('failed');
      if (result.status !== 'failed') return;
      expect(result.error).to.be.instanceOf(ApiHttpError);
      expect(result.error.context.status).to.equal(500);
      expect(api.requests).to.have.length(3);
      expect(waits).to.deep.equal([1000, 2000]);
    });

    it('resolves a 200 that is not a JSON object as failed with MalformedResponseError', async () => {
      const api = await fakeApi([json(200, [RECORD])]);
      const { client } = makeClient(api.url, { detailRetries: 1 });
      const result = await client.detail('q1', 5);
      expect(result.status).to.equal('failed');
      if (result.status === 'failed') expect(result.error).to.be.instanceOf(MalformedResponseError);
      expect(api.requests).to.have.length(2);
    });

    it('refuses a detail nested too deeply to be written back as a JSON line, and takes one just below the bound', async () => {
      // JSON.parse takes 20,000 levels; JSON.stringify runs out of stack on them.
      const nested = (depth: number): string => `{"queue_id":"q1","x":${'['.repeat(depth)}${']'.repeat(depth)}}`;
      const deep = await fakeApi([text(200, nested(20_000))]);
      const refused = await makeClient(deep.url, { detailRetries: 0 }).client.detail('q1', 5);
      expect(refused.status).to.equal('failed');
      if (refused.status === 'failed') {
        expect(refused.error).to.be.instanceOf(MalformedResponseError);
        expect(refused.error.message).to.contain('cannot be written back as JSON');
      }
      // 998 brackets inside the record's own: below the bound, taken without a trial serialisation.
      const shallow = await fakeApi([text(200, nested(998))]);
      const taken = await makeClient(shallow.url, { detailRetries: 0 }).client.detail('q1', 5);
      expect(taken.status).to.equal('ok');
      if (taken.status === 'ok') expect(JSON.stringify(taken.record)).to.equal(nested(998));
      // Above the bound but harmless: tried, and taken.
      const wide = await fakeApi([text(200, `{"queue_id":"q1","x":[${Array.from({ length: 1500 }, () => '[]').join(',')}]}`)]);
      expect((await makeClient(wide.url, { detailRetries: 0 }).client.detail('q1', 5)).status).to.equal('ok');
    });

    it('throws ApiAuthError on 401, after one request, so the section stops', async () => {
      const api = await fakeApi([json(401, { message: 'Unauthorized' })]);
      const { client } = makeClient(api.url);
      const err = await rejectionOf(client.detail('q1', 5));
      expect(err).to.be.instanceOf(ApiAuthError);
      expect(api.requests).to.have.length(1);
    });

    it('uses detail_timeout, not list_timeout', async () => {
      const api = await fakeApi([neverAnswers]);
      const { client } = makeClient(api.url, { listTimeoutMs: 30_000, detailTimeoutMs: 150, detailRetries: 0 });
      const result = await client.detail('q1', 5);
      expect(result.status).to.equal('failed');
      if (result.status === 'failed') {
        expect(result.error).to.be.instanceOf(NetworkError);
        expect((result.error as NetworkError).kind).to.equal('timeout');
      }
    });

    it('refuses to run for a category other than mail', async () => {
      const { client } = makeClient('http://127.0.0.1:9/api/v2/quarantines', { category: 'quarantine', type: 'hold' });
      expect(await rejectionOf(client.detail('q', 1))).to.be.instanceOf(TypeError);
    });
  });

  describe('transient failures', () => {
    it('retries 5xx with backoff 2 s, 4 s and gives up after listRetries with the last error', async () => {
      const api = await fakeApi([json(503, { status: 503, message: 'unavailable' })]);
      const { client, waits } = makeClient(api.url, { listRetries: 2, listSleepSeconds: 2 });
      const err = await rejectionOf(client.list(1, 2));
      expect(err).to.be.instanceOf(ApiHttpError);
      expect((err as ApiHttpError).context.status).to.equal(503);
      expect((err as ApiHttpError).message).to.match(/gave up after 3 attempts/);
      expect(api.requests).to.have.length(3);
      expect(waits).to.deep.equal([2000, 4000]);
    });

    it('caps the backoff at 60 s', async () => {
      const api = await fakeApi([json(500, {})]);
      const { client, waits } = makeClient(api.url, { listRetries: 7, listSleepSeconds: 2 });
      await rejectionOf(client.list(1, 2));
      expect(waits).to.deep.equal([2000, 4000, 8000, 16000, 32000, 60000, 60000]);
      expect(api.requests).to.have.length(8);
    });

    it('resolves when a retry succeeds', async () => {
      const api = await fakeApi([json(502, {}), json(200, [RECORD])]);
      const { client, waits } = makeClient(api.url);
      expect(await client.list(1, 2)).to.deep.equal([RECORD]);
      expect(waits).to.deep.equal([2000]);
    });

    it('retries a connection dropped before the response', async () => {
      const api = await fakeApi([dropsConnection, json(200, [RECORD])]);
      const { client, events } = makeClient(api.url);
      expect(await client.list(1, 2)).to.deep.equal([RECORD]);
      expect(api.requests).to.have.length(2);
      expect((events[0]!.error as NetworkError).kind).to.equal('reset');
      expect(events[0]!.status).to.equal(null);
    });

    it('retries a connection dropped in the middle of the body', async () => {
      const api = await fakeApi([dropsMidBody, json(200, [RECORD])]);
      const { client, events } = makeClient(api.url);
      expect(await client.list(1, 2)).to.deep.equal([RECORD]);
      expect(api.requests).to.have.length(2);
      expect((events[0]!.error as NetworkError).kind).to.equal('reset');
    });

    it('fails with NetworkError reset when every attempt is dropped', async () => {
      const api = await fakeApi([dropsConnection]);
      const { client } = makeClient(api.url, { listRetries: 1 });
      const err = await rejectionOf(client.list(1, 2));
      expect(err).to.be.instanceOf(NetworkError);
      expect((err as NetworkError).kind).to.equal('reset');
      expect((err as NetworkError).message).to.match(/reset or closed by the other side/);
      expect(api.requests).to.have.length(2);
    });

    for (const [name, step, pattern] of [
      ['a non-JSON 200', notJson, /not valid JSON/],
      ['a truncated 200', truncatedJson, /not valid JSON/],
      ['a JSON object instead of the list array', objectInsteadOfArray, /JSON object where a JSON array of records was expected/],
    ] as const) {
      it(`retries ${name}, then fails with MalformedResponseError`, async () => {
        const api = await fakeApi([step]);
        const { client, waits } = makeClient(api.url, { listRetries: 2 });
        const err = await rejectionOf(client.list(1, 2));
        expect(err).to.be.instanceOf(MalformedResponseError);
        expect((err as MalformedResponseError).message).to.match(pattern);
        expect((err as MalformedResponseError).context.bodySnippet).to.be.a('string');
        expect(api.requests).to.have.length(3);
        expect(waits).to.deep.equal([2000, 4000]);
      });

      it(`resolves when ${name} is followed by a good answer`, async () => {
        const api = await fakeApi([step, json(200, [RECORD])]);
        const { client } = makeClient(api.url);
        expect(await client.list(1, 2)).to.deep.equal([RECORD]);
      });
    }
  });

  describe('rate limiting (429)', () => {
    it('waits Retry-After seconds when numeric', async () => {
      const api = await fakeApi([tooManyRequests('7'), json(200, [])]);
      const { client, waits } = makeClient(api.url);
      await client.list(1, 2);
      expect(waits).to.deep.equal([7000]);
      expect(api.requests).to.have.length(2);
    });

    it('backs off exponentially when Retry-After is absent', async () => {
      const api = await fakeApi([tooManyRequests(), tooManyRequests(), json(200, [])]);
      const { client, waits } = makeClient(api.url);
      await client.list(1, 2);
      expect(waits).to.deep.equal([2000, 4000]);
    });

    it('backs off exponentially when Retry-After is garbage', async () => {
      const api = await fakeApi([tooManyRequests('soon-ish'), tooManyRequests('soon-ish'), json(200, [])]);
      const { client, waits } = makeClient(api.url);
      await client.list(1, 2);
      expect(waits).to.deep.equal([2000, 4000]);
    });

    it('accepts an HTTP-date Retry-After', async () => {
      const api = await fakeApi([tooManyRequests(new Date(Date.now() + 30_000).toUTCString()), json(200, [])]);
      const { client, waits } = makeClient(api.url);
      await client.list(1, 2);
      expect(waits).to.have.length(1);
      expect(waits[0]).to.be.within(28_000, 31_000);
    });

    it("runs a detail's retry wait through the caller's whileWaiting, and only the wait", async () => {
      const api = await fakeApi([tooManyRequests('3'), json(200, { queue_id: 'q1' })]);
      const { client, waits } = makeClient(api.url);
      const wrapped: number[] = [];
      const res = await client.detail('q1', 5, {
        whileWaiting: async (wait) => {
          const before = waits.length;
          await wait();
          wrapped.push(waits.length - before);
        },
      });
      expect(res.status).to.equal('ok');
      expect(waits).to.deep.equal([3000]);
      expect(wrapped, 'one wait, inside the wrapper').to.deep.equal([1]);
    });

    it('has its own budget: a 429 is retried even with listRetries = 0', async () => {
      const api = await fakeApi([tooManyRequests('1'), json(200, [RECORD])]);
      const { client } = makeClient(api.url, { listRetries: 0 });
      expect(await client.list(1, 2)).to.deep.equal([RECORD]);
    });

    it('stops a sustained 429 after RATE_LIMIT_RETRIES retries', async () => {
      const api = await fakeApi([tooManyRequests('1')]);
      const { client, waits } = makeClient(api.url);
      const err = await rejectionOf(client.list(1, 2));
      expect(err).to.be.instanceOf(ApiHttpError);
      expect((err as ApiHttpError).context.status).to.equal(429);
      expect((err as ApiHttpError).message).to.match(/still rate limited/);
      expect(api.requests).to.have.length(RATE_LIMIT_RETRIES + 1);
      expect(waits).to.have.length(RATE_LIMIT_RETRIES);
    });

    it('does not wait out an hour-long Retry-After', async () => {
      const api = await fakeApi([tooManyRequests('3600')]);
      const { client, waits } = makeClient(api.url);
      const err = await rejectionOf(client.list(1, 2));
      expect(err).to.be.instanceOf(ApiHttpError);
      expect(api.requests).to.have.length(1);
      expect(waits).to.deep.equal([]);
    });
  });

  describe('errors that are not retried', () => {
    for (const status of [401, 403]) {
      it(`fails fast on ${status} with ApiAuthError naming the section and api_key, after exactly one request`, async () => {
        const api = await fakeApi([json(status, { status, message: 'Invalid token' })]);
        const { client, waits } = makeClient(api.url);
        const err = await rejectionOf(client.list(1, 2));
        expect(err).to.be.instanceOf(ApiAuthError);
        expect((err as ApiAuthError).code).to.equal('UZP_API_AUTH');
        expect((err as ApiAuthError).message).to.include('MailLogger:example.com-in');
        expect((err as ApiAuthError).message).to.include('api_key');
        expect((err as ApiAuthError).message).to.include('domain example.com');
        expect((err as ApiAuthError).context.status).to.equal(status);
        expect(api.requests).to.have.length(1);
        expect(waits).to.deep.equal([]);
      });
    }

    for (const status of [301, 302, 307, 308]) {
      it(`a redirect (${status}) is not followed: one request, the target named with the key masked, no retries claimed`, async () => {
        const api = await fakeApi([
          (_req, res) => {
            res.writeHead(status, { location: `https://elsewhere.example/api/v2/logs/mail?token=${KEY}` }).end();
          },
        ]);
        const { client, waits } = makeClient(api.url);
        const err = await rejectionOf(client.list(1, 2));
        expect(err).to.be.instanceOf(ApiHttpError);
        const e = err as ApiHttpError;
        expect(e.message).to.include(`redirect (HTTP ${status}, to https://elsewhere.example/api/v2/logs/mail?token=`).and.include('set url to it');
        expect(e.message).to.not.include(KEY).and.not.match(/retr(y|ies)|attempts/);
        expect(JSON.stringify(e.context)).to.not.include(KEY);
        expect(e.context.attempts).to.equal(undefined);
        expect(api.requests).to.have.length(1);
        expect(waits).to.deep.equal([]);
      });
    }

    it('fails a 400 with ApiHttpError after one request', async () => {
      const api = await fakeApi([json(400, { status: 400, message: 'starttime must be an integer' })]);
      const { client } = makeClient(api.url);
      const err = await rejectionOf(client.list(1, 2));
      expect(err).to.be.instanceOf(ApiHttpError);
      expect((err as ApiHttpError).message).to.include('starttime must be an integer');
      expect(api.requests).to.have.length(1);
    });

    it('fails a list 404 with ApiHttpError after one request', async () => {
      const api = await fakeApi([json(404, { message: 'no route' })]);
      const { client } = makeClient(api.url);
      const err = await rejectionOf(client.list(1, 2));
      expect(err).to.be.instanceOf(ApiHttpError);
      expect((err as ApiHttpError).context.status).to.equal(404);
      expect(api.requests).to.have.length(1);
    });

    it("fails a 406 with ApiHttpError carrying the API's message, after one request", async () => {
      const api = await fakeApi([json(406, { status: 406, message: 'Can make search 7 days before at most' })]);
      const { client } = makeClient(`${api.origin}/api/v2/quarantines`, { category: 'quarantine', type: 'quarantine' });
      const err = await rejectionOf(client.list(1, 2));
      expect(err).to.be.instanceOf(ApiHttpError);
      expect((err as ApiHttpError).message).to.include('Can make search 7 days before at most');
      expect(api.requests).to.have.length(1);
    });
  });

  describe('error messages and context', () => {
    it('carry the status, the scalar fields of a JSON error body, the masked URL, section and duration', async () => {
      const body = {
        status: 400,
        code: 'E_PARAM',
        message: 'bad range',
        'api-version': '2.1',
        'extended-code-text': 'RANGE_INVALID',
        link: 'https://docs.example/errors/E_PARAM',
        nested: { not: 'scalar' },
      };
      // The server takes "37 ms" on the client's clock before it answers.
      let clock = 1000;
      const slow400: Step = (req, res) => {
        clock += 37;
        json(400, body)(req, res);
      };
      const api = await fakeApi([slow400]);
      const { client } = makeClient(api.url, { now: () => clock });
      const err = (await rejectionOf(client.list(1, 2))) as ApiHttpError;
      const { nested: _nested, ...scalars } = body;
      expect(err.context.apiError).to.deep.equal(scalars);
      for (const v of ['E_PARAM', 'bad range', '2.1', 'RANGE_INVALID', 'https://docs.example/errors/E_PARAM', 'HTTP 400']) {
        expect(err.message).to.include(v);
      }
      expect(err.context).to.include({ status: 400, section: 'MailLogger:example.com-in' });
      expect(err.context.url).to.equal(`${api.url}?starttime=1&endtime=2&type=incominglog&domain=example.com`);
      expect(err.context.durationMs).to.equal(37);
      expect(err.message).to.include('after 37 ms');
    });

    it('carry the first 200 characters of a body that is not JSON', async () => {
      const page = `<html>${'x'.repeat(500)}</html>`;
      const api = await fakeApi([text(502, page)]);
      const { client } = makeClient(api.url, { listRetries: 0 });
      const err = (await rejectionOf(client.list(1, 2))) as ApiHttpError;
      expect(err.context.bodySnippet).to.equal(page.slice(0, 200));
      expect(err.message).to.include(page.slice(0, 200));
      expect(err.message).to.not.include(page.slice(0, 201));
    });

    it('never contain the API key, even when the server echoes it or the URL holds it', async () => {
      const echo: Step = (req, res) => {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ message: `bad header ${req.headers.authorization ?? ''}`, token: KEY }));
      };
      const echoText: Step = (req, res) => {
        res.writeHead(200);
        res.end(`not json: ${req.headers.authorization ?? ''}`);
      };
      const api = await fakeApi([echo, echoText]);
      const { client, events } = makeClient(`${api.url}?apikey=${KEY}`, { listRetries: 1 });
      const malformed = await rejectionOf(client.list(1, 2));
      const refused = await rejectionOf(makeClient(`http://127.0.0.1:${await deadPort()}/x?k=${KEY}`, { listRetries: 0 }).client.list(1, 2));
      expect(malformed).to.be.instanceOf(MalformedResponseError);
      expect(refused).to.be.instanceOf(NetworkError);
      for (const thing of [malformed, refused, events]) {
        for (const shown of [JSON.stringify(thing), util.inspect(thing, { depth: 8 }), String(thing)]) {
          expect(shown).to.not.include(KEY);
        }
      }
      expect(JSON.stringify(events)).to.include(maskKey(KEY));
      // The request itself still carries what the configured URL says.
      expect(api.requests[0]!.url).to.include(`apikey=${KEY}`);
    });
  });

  describe('network errors', () => {
    it('names a server that never answers within the timeout a timeout', async () => {
      const api = await fakeApi([neverAnswers]);
      const { client } = makeClient(api.url, { listTimeoutMs: 150, listRetries: 0 });
      const err = await rejectionOf(client.list(1, 2));
      expect(err).to.be.instanceOf(NetworkError);
      expect((err as NetworkError).kind).to.equal('timeout');
      expect((err as NetworkError).message).to.match(/timed out waiting for the response headers from 127\.0\.0\.1:\d+/);
    });

    it('names a body that stalls a timeout', async () => {
      const api = await fakeApi([stallsInBody]);
      const { client } = makeClient(api.url, { listTimeoutMs: 150, listRetries: 0 });
      const err = await rejectionOf(client.list(1, 2));
      expect((err as NetworkError).kind).to.equal('timeout');
      expect((err as NetworkError).message).to.match(/timed out reading the response body/);
    });

    it('ends a request whose body trickles in slower than the timeout as a whole allows, and names it a timeout', async () => {
      // One byte every 20 ms restarts undici's body timeout each time: only a
      // limit on the whole request ends it (list_timeout bounds the request).
      const trickles: Step = (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('[');
        const timer = setInterval(() => res.write(' '), 20);
        res.on('close', () => clearInterval(timer));
      };
      const api = await fakeApi([trickles]);
      const { client, events } = makeClient(api.url, { listTimeoutMs: 1000, listRetries: 0 });
      const err = await rejectionOf(client.list(1, 2));
      expect(err).to.be.instanceOf(NetworkError);
      expect((err as NetworkError).kind).to.equal('timeout');
      // Named by the stage that was slow: the body, once the headers came (on a loaded machine even they may not have).
      expect((err as NetworkError).message).to.match(/timed out (reading the response body|waiting for the response headers) from 127\.0\.0\.1:\d+/);
      expect(events.map((e) => [e.status, e.error?.code])).to.deep.equal([[null, 'UZP_NETWORK']]);
    });

    it('names a dead port refused, and retries it', async () => {
      const port = await deadPort();
      const { client, waits } = makeClient(`http://127.0.0.1:${port}${MAIL_PATH}`, { listRetries: 1 });
      const err = await rejectionOf(client.list(1, 2));
      expect(err).to.be.instanceOf(NetworkError);
      expect((err as NetworkError).kind).to.equal('refused');
      expect((err as NetworkError).message).to.include(`connection refused by 127.0.0.1:${port}`);
      expect(waits).to.deep.equal([2000]);
    });

    it('names an unknown host a DNS failure, checked with a lookup', async () => {
      const { client } = makeClient(`http://nonexistent.invalid${MAIL_PATH}`, { listRetries: 0 });
      const err = await rejectionOf(client.list(1, 2));
      expect(err).to.be.instanceOf(NetworkError);
      expect((err as NetworkError).kind).to.equal('dns');
      expect((err as NetworkError).message).to.match(/DNS resolution failed for nonexistent\.invalid .*checked with a lookup/);
      expect((err as NetworkError).context.dnsCheck).to.match(/does not resolve/);
    });

    it('names an untrusted certificate a TLS failure and does not retry it', async () => {
      const api = await fakeApi([json(200, [])], { tls: true });
      const { client, events } = makeClient(api.url, { listRetries: 3 });
      const err = await rejectionOf(client.list(1, 2));
      expect(err).to.be.instanceOf(NetworkError);
      expect((err as NetworkError).kind).to.equal('tls');
      expect((err as NetworkError).message).to.match(/TLS handshake with 127\.0\.0\.1:\d+ failed/);
      expect(events).to.have.length(1);
      expect(api.requests).to.have.length(0);
    });

    it('trusts the extra CA from ca_file, with verification still on', async () => {
      const api = await fakeApi([json(200, [RECORD])], { tls: true });
      const caFile = path.join(tempDir(), 'ca.pem');
      fs.writeFileSync(caFile, TLS_CERT);
      const { client } = makeClient(api.url, { caFile });
      expect(await client.list(1, 2)).to.deep.equal([RECORD]);
      // A ca_file that does not vouch for this certificate must not make it trusted.
      const unrelatedCa = path.join(tempDir(), 'other-ca.pem');
      fs.writeFileSync(unrelatedCa, rootCertificates[0]!);
      const other = makeClient(api.url, { caFile: unrelatedCa, listRetries: 0 });
      const err = await rejectionOf(other.client.list(1, 2));
      expect((err as NetworkError).kind).to.equal('tls');
    });

    it('adds ca_file to the built-in roots rather than replacing them', () => {
      const caFile = path.join(tempDir(), 'ca.pem');
      fs.writeFileSync(caFile, TLS_CERT);
      const bundle = caBundle(caFile, 's');
      expect(bundle).to.include(TLS_CERT);
      expect(bundle).to.include.members([...rootCertificates]);
    });

    it('reports an unreadable ca_file as a config error', () => {
      expect(() => makeClient('https://127.0.0.1:1/x', { caFile: path.join(tempDir(), 'missing.pem') })).to.throw(ConfigError);
    });
  });

  describe('connections', () => {
    for (const [useSession, expected] of [
      [true, 1],
      [false, 5],
    ] as const) {
      it(`opens ${expected} connection(s) for 5 requests when use_session = ${String(useSession)}`, async () => {
        const api = await fakeApi([json(200, [])]);
        // One connection allowed: undici may otherwise open a second while the first is finishing its previous response.
        const { client } = makeClient(api.url, { useSession, maxConnections: 1 });
        for (let i = 0; i < 5; i++) await client.list(i, i + 1);
        expect(api.requests).to.have.length(5);
        expect(api.connections()).to.equal(expected);
      });
    }

    it('opens at most maxConnections connections to one origin', async () => {
      // Answers only once two requests wait, so an unbounded pool would open six.
      const held: http.ServerResponse[] = [];
      const releaseInPairs: Step = (_req, res) => {
        held.push(res);
        if (held.length >= 2) for (const r of held.splice(0)) json(200, [])(_req, r);
      };
      const api = await fakeApi([releaseInPairs]);
      const { client } = makeClient(api.url, { maxConnections: 2 });
      await Promise.all([1, 2, 3, 4, 5, 6].map((i) => client.list(i, i + 1)));
      expect(api.connections()).to.equal(2);
    });

    it('keeps one pool per origin: list and detail share connections', async () => {
      const api = await fakeApi([json(200, [RECORD]), json(200, RECORD)]);
      const { client } = makeClient(api.url, { maxConnections: 1 });
      await client.list(1, 2);
      await client.detail('q', 1);
      expect(api.connections()).to.equal(1);
    });
  });

  describe('proxy from the environment', () => {
    it('routes through HTTP_PROXY when it is set', async () => {
      const api = await fakeApi([json(200, [RECORD])]);
      const proxy = await tunnellingProxy();
      const { client } = makeClient(api.url, { env: { HTTP_PROXY: proxy.url } });
      expect(await client.list(1, 2)).to.deep.equal([RECORD]);
      expect(proxy.connects).to.deep.equal([new URL(api.origin).host]);
    });

    it('still trusts ca_file for HTTPS through HTTPS_PROXY', async () => {
      const api = await fakeApi([json(200, [RECORD])], { tls: true });
      const proxy = await tunnellingProxy();
      const caFile = path.join(tempDir(), 'ca.pem');
      fs.writeFileSync(caFile, TLS_CERT);
      const { client } = makeClient(api.url, { env: { https_proxy: proxy.url }, caFile });
      expect(await client.list(1, 2)).to.deep.equal([RECORD]);
      expect(proxy.connects).to.have.length(1);
    });

    it('goes direct for hosts in NO_PROXY', async () => {
      const api = await fakeApi([json(200, [])]);
      const proxy = await tunnellingProxy();
      const { client } = makeClient(api.url, { env: { HTTP_PROXY: proxy.url, NO_PROXY: '127.0.0.1' } });
      await client.list(1, 2);
      expect(api.requests).to.have.length(1);
      expect(proxy.connects).to.deep.equal([]);
    });

    it('reads the variables, lower case first', () => {
      expect(proxyFromEnv({})).to.equal(null);
      expect(proxyFromEnv({ HTTPS_PROXY: 'http://a', https_proxy: 'http://b' })).to.deep.equal({ httpProxy: '', httpsProxy: 'http://b', noProxy: '' });
      expect(proxyFromEnv({ NO_PROXY: 'x' })).to.deep.equal({ httpProxy: '', httpsProxy: '', noProxy: 'x' });
    });
  });

  describe('gate and request events', () => {
    it('calls gate.acquire before and gate.observe after every attempt', async () => {
      const calls: string[] = [];
      const gate: RateGate = {
        acquire: async (signal) => {
          calls.push(`acquire:${signal ? 'signal' : 'none'}`);
        },
        observe: (o) => calls.push(`observe:${String(o.status)}:${String(o.retryAfterSeconds)}:${String(o.headers['x-marker'])}`),
      };
      const api = await fakeApi([dropsConnection, json(429, {}, { 'retry-after': '3', 'x-marker': 'm' }), json(200, [])]);
      const { client } = makeClient(api.url, { gate });
      await client.list(1, 2);
      expect(calls).to.deep.equal([
        'acquire:signal',
        'observe:null:undefined:undefined',
        'acquire:signal',
        'observe:429:3:m',
        'acquire:signal',
        'observe:200:undefined:undefined',
      ]);
    });

    it('reports every attempt with its status, attempt number, retry decision and wait', async () => {
      // Each answer takes its own time on the client's clock: 11, 22 and 33 ms.
      let clock = 0;
      const after = (ms: number, step: Step): Step => (req, res) => {
        clock += ms;
        step(req, res);
      };
      const api = await fakeApi([after(11, json(503, {})), after(22, tooManyRequests('5')), after(33, json(200, []))]);
      const { client, events } = makeClient(api.url, { now: () => clock });
      await client.list(1, 2);
      expect(events.map((e) => [e.kind, e.status, e.attempt, e.willRetry, e.waitMs, e.error?.code])).to.deep.equal([
        ['list', 503, 1, true, 2000, 'UZP_API_HTTP'],
        ['list', 429, 2, true, 5000, 'UZP_API_HTTP'],
        ['list', 200, 3, false, undefined, undefined],
      ]);
      for (const e of events) {
        expect(e.url).to.equal(`${api.url}?starttime=1&endtime=2&type=incominglog&domain=example.com`);
      }
      expect(events.map((e) => e.durationMs)).to.deep.equal([11, 22, 33]);
    });

    it('reports detail attempts as kind detail', async () => {
      const api = await fakeApi([json(404, {})]);
      const { client, events } = makeClient(api.url);
      await client.detail('q', 1);
      expect(events.map((e) => [e.kind, e.status, e.willRetry])).to.deep.equal([['detail', 404, false]]);
    });
  });

  describe('abort and shutdown', () => {
    it('abort stops a backoff sleep at once with AbortedError', async () => {
      const api = await fakeApi([json(503, {})]);
      const ctl = new AbortController();
      let sleeping: () => void = () => {};
      const asleep = new Promise<void>((resolve) => (sleeping = resolve));
      // A sleep that never ends by itself: only the abort can end the wait.
      const { client } = makeClient(api.url, { signal: ctl.signal, sleep: () => (sleeping(), new Promise<void>(() => {})) });
      const pending = rejectionOf(client.list(1, 2));
      await asleep;
      ctl.abort();
      expect(await pending).to.be.instanceOf(AbortedError);
      expect(api.requests).to.have.length(1);
    });

    it('abort stops the built-in sleep too, clearing its timer', async () => {
      const api = await fakeApi([json(503, {})]);
      const ctl = new AbortController();
      // The sleep's timer, watched through async_hooks: Node keeps a timer's
      // delay in its (internal) _idleTimeout, which picks it out from others.
      let waitMs: number | undefined;
      const timers = new Map<number, 'set' | 'cleared'>();
      const hook = createHook({
        init(id, type, _trigger, resource) {
          if (type === 'Timeout' && waitMs !== undefined && (resource as { _idleTimeout?: number })._idleTimeout === waitMs) timers.set(id, 'set');
        },
        destroy(id) {
          if (timers.has(id)) timers.set(id, 'cleared');
        },
      }).enable();
      cleanups.push(() => hook.disable());
      const { client } = makeClient(api.url, {
        listSleepSeconds: 30,
        signal: ctl.signal,
        sleep: undefined,
        onRequest: (ev) => {
          if (!ev.willRetry) return;
          waitMs = ev.waitMs;
          // The sleep starts right after this event; abort once it has.
          setImmediate(() => ctl.abort());
        },
      });
      expect(await rejectionOf(client.list(1, 2))).to.be.instanceOf(AbortedError);
      expect(waitMs).to.equal(30_000);
      expect(api.requests).to.have.length(1);
      // Destroy hooks run a turn of the event loop after clearTimeout, not within it.
      for (let turn = 0; turn < 100 && [...timers.values()].includes('set'); turn++) await new Promise((resolve) => setImmediate(resolve));
      expect([...timers.values()], 'the 30 s timer was set, then cleared by the abort').to.deep.equal(['cleared']);
    });

    it('abort cuts an in-flight request; detail throws rather than resolving failed', async () => {
      const api = await fakeApi([neverAnswers]);
      const ctl = new AbortController();
      const { client } = makeClient(api.url, { signal: ctl.signal });
      api.server.on('request', () => ctl.abort());
      expect(await rejectionOf(client.detail('q', 1))).to.be.instanceOf(AbortedError);
      expect(api.requests).to.have.length(1);
    });

    it('close() lets an in-flight request finish, refuses new ones, and is idempotent', async () => {
      let answer: () => void = () => {};
      const answersWhenTold: Step = (req, res) => {
        answer = () => json(200, [RECORD])(req, res);
      };
      const api = await fakeApi([answersWhenTold]);
      const { client } = makeClient(api.url);
      api.server.on('request', () => {
        void Promise.all([client.close(), client.close()]);
        answer();
      });
      expect(await client.list(1, 2)).to.deep.equal([RECORD]);
      await client.close();
      expect(await rejectionOf(client.list(1, 2))).to.be.instanceOf(AbortedError);
      expect(api.requests).to.have.length(1);
    });

    it('destroy() cuts an in-flight request with AbortedError and is idempotent', async () => {
      const api = await fakeApi([neverAnswers]);
      const { client } = makeClient(api.url);
      api.server.on('request', () => void client.destroy());
      expect(await rejectionOf(client.list(1, 2))).to.be.instanceOf(AbortedError);
      await Promise.all([client.destroy(), client.destroy(), client.close()]);
    });

    it('a closed client is not kept alive by the stop signal it was given, which outlives it', async () => {
      // A worker runs many sections one after another, each with a client on
      // the section's stop signal; a finished client must be garbage.
      setFlagsFromString('--expose-gc');
      const gc = runInNewContext('gc') as () => void;
      const api = await fakeApi([json(200, [RECORD])]);
      const stop = new AbortController();
      const ref = await (async () => {
        const client = new ApiClient(testClientOptions(api.url, { apiKey: KEY, signal: stop.signal }));
        expect(await client.list(1, 2)).to.deep.equal([RECORD]);
        await client.close();
        return new WeakRef(client);
      })();
      for (let i = 0; i < 10 && ref.deref() !== undefined; i++) {
        await new Promise((resolve) => setImmediate(resolve));
        gc();
      }
      expect(ref.deref(), 'the client after close(), its stop signal still alive').to.equal(undefined);
      expect(stop.signal.aborted).to.equal(false);
    });
  });
});

describe('network-errors', () => {
  it('classifies undici and system codes by kind', () => {
    const withCode = (code: string, message = code) => Object.assign(new Error(message), { code });
    expect(networkErrorKind(withCode('ENOTFOUND'))).to.equal('dns');
    expect(networkErrorKind(withCode('EAI_AGAIN'))).to.equal('dns');
    expect(networkErrorKind(withCode('ECONNREFUSED'))).to.equal('refused');
    expect(networkErrorKind(withCode('UND_ERR_CONNECT_TIMEOUT'))).to.equal('timeout');
    expect(networkErrorKind(withCode('UND_ERR_HEADERS_TIMEOUT'))).to.equal('timeout');
    expect(networkErrorKind(withCode('UND_ERR_BODY_TIMEOUT'))).to.equal('timeout');
    expect(networkErrorKind(withCode('ECONNRESET'))).to.equal('reset');
    expect(networkErrorKind(withCode('UND_ERR_SOCKET'))).to.equal('reset');
    expect(networkErrorKind(withCode('CERT_HAS_EXPIRED'))).to.equal('tls');
    expect(networkErrorKind(withCode('ERR_TLS_CERT_ALTNAME_INVALID'))).to.equal('tls');
    expect(networkErrorKind(withCode('SELF_SIGNED_CERT_IN_CHAIN'))).to.equal('tls');
    expect(networkErrorKind(withCode('EPROTO', 'SSL routines: wrong version number'))).to.equal('tls');
    expect(networkErrorKind(withCode('EHOSTUNREACH'))).to.equal('other');
    // Happy eyeballs reports every address's failure inside an AggregateError.
    expect(networkErrorKind(new AggregateError([withCode('ECONNREFUSED')]))).to.equal('refused');
    // Bugs are not network failures: they must surface, not be retried.
    expect(networkErrorKind(withCode('UND_ERR_INVALID_ARG'))).to.equal(null);
    expect(networkErrorKind(new TypeError('x is not a function'))).to.equal(null);
  });

  it('says so when the DNS check finds the host resolves after all', async () => {
    const err = Object.assign(new Error('getaddrinfo EAI_AGAIN api.example'), { code: 'EAI_AGAIN' });
    const ctx = { section: 's', url: 'https://api.example/x', host: 'api.example', port: 443, durationMs: 3, attempt: 1 };
    const transient = await toNetworkError(err, 'dns', ctx, async () => ({ address: '192.0.2.1', family: 4 }));
    expect(transient.message).to.match(/checked with a lookup: api\.example resolves now/);
    const gone = await toNetworkError(err, 'dns', ctx, async () => {
      throw Object.assign(new Error('nope'), { code: 'ENOTFOUND' });
    });
    expect(gone.context.dnsCheck).to.equal('api.example does not resolve (ENOTFOUND)');
  });
});
