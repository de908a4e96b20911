// The mock Uzman Posta API over plain node:http: routing, checks in a fixed
// order (key 401, holds, rate limit 429, injected faults, parameters 400,
// domain 403, quarantine retention 406), then the answer itself. One instance
// owns all its state, so several can run side by side in one process.

import { once } from 'node:events';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';

import { Dataset, TYPES_BY_CATEGORY, type MockCategory, type MockRecord, type MockStreamSpec, type StreamSelector } from './dataset.js';
import { FaultInjector, type FailAction, type FaultDecision, type FaultRequestInfo, type FixedWindowRecord, type MockFaults, type RequestKind } from './faults.js';
import { errorAnswer, htmlErrorAnswer, jsonAnswer, malformed, objectInsteadOfArray, QUARANTINE_TOO_OLD, type Answer } from './responses.js';
import { RequestStats, type MockRequestLogEntry, type MockStats } from './stats.js';

export type RangeEnds = 'both' | 'start' | 'end';

export interface MockApiOptions {
  /** Same seed, same records and same fault sequence. Default 1. */
  seed?: number;
  /** Dataset span [from, to), unix seconds. */
  from: number;
  to: number;
  streams: MockStreamSpec[];
  /** API key → domains it may read. Default: each stream's key gets its stream's domain. */
  keys?: Record<string, string[]>;
  /** Most records in one list answer (docs/api.md, "List": 1000). */
  pageSize?: number;
  /** Which range ends a list includes; 'both' is believed, a client must cope with all (docs/api.md, "Range ends"). */
  rangeEnds?: RangeEnds;
  /** Share of mail records whose detail answers 404. Default 0.05. */
  detailMissingRatio?: number;
  /** Queue ids with '/', '?', '%', '..', spaces and non-ASCII. Default false. */
  hostileQueueIds?: boolean;
  /** Share of quarantine records with no time field at all. Default 0. */
  recordsWithoutTimeRatio?: number;
  /** Current unix seconds, for the 7-day quarantine limit and live mode. */
  now?: () => number;
  /**
   * Live mode: a record exists only once `now()` has reached its event time,
   * so a mock left running serves new records to every later run, as the
   * service does. The dataset still ends at `to`.
   */
  live?: boolean;
  /**
   * The service's clock runs this many seconds off this host's: its `Date`
   * header says so (a client must check its own clock against it). Default 0.
   */
  clockOffsetSeconds?: number;
  /** Monotonic milliseconds for the per-key token bucket, fixed windows and the request log. Default performance.now. */
  monotonicMs?: () => number;
  /** Wall-clock milliseconds for X-RateLimit-Reset of fixed windows. Default Date.now. */
  wallMs?: () => number;
  faults?: MockFaults;
  host?: string;
  port?: number;
  /** Request log entries kept. Default 100 000. */
  logLimit?: number;
}

export interface MockApiUrls {
  mail: string;
  quarantine: string;
  authentication: string;
}

export interface MockApi {
  /** http://HOST:PORT */
  readonly url: string;
  readonly port: number;
  /** Base URLs to put in a section's `url`. */
  readonly urls: MockApiUrls;
  readonly keys: Readonly<Record<string, readonly string[]>>;
  readonly seed: number;
  readonly from: number;
  readonly to: number;
  /** What a correct collector writes for event times in [from, to), in output order. */
  expected(stream: StreamSelector, from: number, to: number): MockRecord[];
  count(stream: StreamSelector, from: number, to: number): number;
  /** The most records one second of [from, to) holds: at pageSize or more, a collector must report truncation. */
  maxPerSecond(stream: StreamSelector, from: number, to: number): number;
  /** expected() without holding the records in memory. */
  iterateExpected(stream: StreamSelector, from: number, to: number): Generator<MockRecord, void, void>;
  /** Merges into the current faults; a field given as undefined is switched off. */
  setFaults(partial: Partial<MockFaults>): void;
  /** The next `count` requests of `kind` (default any) fail with `action`. */
  failNext(count: number, action: FailAction, kind?: RequestKind | 'any'): void;
  /**
   * Catches up to `count` (default 1) list or detail requests that `match`
   * picks and leaves them unanswered until the hold is released: a test acts
   * while a request is provably in flight instead of hoping a latency lasts
   * long enough. Holds are checked in the order they were made.
   */
  hold(match: (request: FaultRequestInfo) => boolean, count?: number): MockHold;
  stats(): MockStats;
  /** Every fixed window (faults.fixedWindow) so far per key, oldest first: what it admitted and refused. */
  fixedWindows(): FixedWindowRecord[];
  resetStats(): void;
  /** Stops listening and destroys every connection; idempotent. */
  close(): Promise<void>;
}

export interface MockHold {
  /** The first request caught, as it arrived (before the mock looked at it further). */
  readonly arrived: Promise<FaultRequestInfo>;
  /** Requests caught so far. */
  readonly caught: number;
  /** Caught requests not yet released whose client still waits for the answer. */
  readonly waiting: number;
  /** Caught requests whose client hung up before the release. */
  readonly abandoned: number;
  /**
   * Answers each caught request as if it arrived now (the rate limit, faults,
   * stats and request log see it then), and catches no more. Idempotent.
   */
  release(): void;
}

export const API_PATHS: Readonly<Record<MockCategory, string>> = {
  mail: '/api/v2/logs/mail',
  quarantine: '/api/v2/quarantines',
  authentication: '/api/v2/logs/authentication',
};

const QUARANTINE_RETENTION_SECONDS = 7 * 86400;
const DETAIL_PREFIX = `${API_PATHS.mail}/`;
const UNIX_SECONDS = /^\d{1,12}$/;

type Route = { kind: 'list'; category: MockCategory } | { kind: 'detail'; rawId: string } | { kind: 'other' };

function route(path: string): Route {
  for (const category of Object.keys(API_PATHS) as MockCategory[]) {
    if (path === API_PATHS[category]) return { kind: 'list', category };
  }
  // Only one raw segment: a client that does not encode '/' in a queue id lands in 'other'.
  if (path.startsWith(DETAIL_PREFIX) && path.length > DETAIL_PREFIX.length && !path.includes('/', DETAIL_PREFIX.length)) {
    return { kind: 'detail', rawId: path.slice(DETAIL_PREFIX.length) };
  }
  return { kind: 'other' };
}

/** Decoded from the raw path: a URL parser would have resolved '..' or split on '%2F'. */
function safeDecode(rawSegment: string): string | undefined {
  try {
    return decodeURIComponent(rawSegment);
  } catch {
    return undefined;
  }
}

function bearerKey(header: string | undefined): string | undefined {
  const m = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m?.[1];
}

function validateOptions(o: MockApiOptions): void {
  const problems: string[] = [];
  if (!Number.isInteger(o.from) || !Number.isInteger(o.to) || o.to < o.from) problems.push(`from/to must be integer unix seconds with from <= to, got ${o.from}..${o.to}`);
  if (!Array.isArray(o.streams)) problems.push('streams must be an array');
  for (const s of o.streams ?? []) {
    const name = `${s.category}:${s.type ?? '-'}@${s.domain}`;
    const types = TYPES_BY_CATEGORY[s.category];
    if (!types) problems.push(`stream ${name}: category must be mail, quarantine or authentication`);
    else if (types.length === 0 ? s.type !== undefined : !types.includes(s.type ?? '')) {
      problems.push(`stream ${name}: type must be ${types.length === 0 ? 'absent' : types.join(' or ')}`);
    }
    if (!(typeof s.perMinute === 'number' && Number.isFinite(s.perMinute) && s.perMinute >= 0)) problems.push(`stream ${name}: perMinute must be >= 0`);
    if (!s.key) problems.push(`stream ${name}: key must be a non-empty string`);
    if (!s.domain) problems.push(`stream ${name}: domain must be a non-empty string`);
  }
  if (o.pageSize !== undefined && !(Number.isInteger(o.pageSize) && o.pageSize >= 1)) problems.push(`pageSize must be a positive integer, got ${o.pageSize}`);
  if (o.rangeEnds !== undefined && !['both', 'start', 'end'].includes(o.rangeEnds)) problems.push(`rangeEnds must be both, start or end, got ${String(o.rangeEnds)}`);
  for (const field of ['detailMissingRatio', 'recordsWithoutTimeRatio'] as const) {
    const v = o[field];
    if (v !== undefined && !(v >= 0 && v <= 1)) problems.push(`${field} must be in [0, 1], got ${v}`);
  }
  if (o.recordsWithoutTimeRatio === 1) problems.push('recordsWithoutTimeRatio must be below 1');
  if (problems.length > 0) throw new RangeError(`invalid mock API options:\n  ${problems.join('\n  ')}`);
}

function defaultKeys(streams: readonly MockStreamSpec[]): Record<string, string[]> {
  const keys: Record<string, string[]> = {};
  for (const s of streams) {
    const domains = (keys[s.key] ??= []);
    if (!domains.includes(s.domain)) domains.push(s.domain);
  }
  return keys;
}

export async function startMockApi(options: MockApiOptions): Promise<MockApi> {
  validateOptions(options);
  const seed = options.seed ?? 1;
  const pageSize = options.pageSize ?? 1000;
  const rangeEnds = options.rangeEnds ?? 'both';
  const now = options.now ?? (() => Math.floor(Date.now() / 1000));
  const keys = options.keys ?? defaultKeys(options.streams);
  const allowed = new Map(Object.entries(keys).map(([k, domains]) => [k, new Set(domains)]));
  const dataset = new Dataset({
    seed,
    from: options.from,
    to: options.to,
    streams: options.streams,
    detailMissingRatio: options.detailMissingRatio ?? 0.05,
    hostileQueueIds: options.hostileQueueIds ?? false,
    recordsWithoutTimeRatio: options.recordsWithoutTimeRatio ?? 0,
  });
  const monotonicMs = options.monotonicMs ?? (() => performance.now());
  const faults = new FaultInjector(seed, options.faults ?? {}, monotonicMs, options.wallMs);
  const stats = new RequestStats(options.logLimit ?? 100_000);
  const timers = new Set<NodeJS.Timeout>();
  const holds = new Set<HoldState>();
  let closed = false;

  function listAnswer(category: MockCategory, query: URLSearchParams, key: string, entry: MockRequestLogEntry): Answer {
    const start = query.get('starttime');
    const end = query.get('endtime');
    const type = query.get('type') ?? undefined;
    const domain = query.get('domain') ?? undefined;
    if (type !== undefined) entry.type = type;
    if (domain !== undefined) entry.domain = domain;
    if (start === null || !UNIX_SECONDS.test(start)) return errorAnswer(400, 'starttime is required and must be integer unix seconds');
    if (end === null || !UNIX_SECONDS.test(end)) return errorAnswer(400, 'endtime is required and must be integer unix seconds');
    const s = Number(start);
    const e = Number(end);
    entry.starttime = s;
    entry.endtime = e;
    if (s > e) return errorAnswer(400, 'starttime must not be after endtime');
    const types = TYPES_BY_CATEGORY[category];
    if (types.length === 0 ? type !== undefined : type === undefined || !types.includes(type)) {
      return errorAnswer(400, types.length === 0 ? `type is not accepted for ${category}` : `type must be one of ${types.join(', ')}`);
    }
    const domains = allowed.get(key) ?? new Set<string>();
    if (domain !== undefined && !domains.has(domain)) return errorAnswer(403, 'Domain is not allowed for this API key');
    if (category === 'quarantine' && s < now() - QUARANTINE_RETENTION_SECONDS) return errorAnswer(406, QUARANTINE_TOO_OLD);

    const selector: StreamSelector = domain === undefined ? { category, type } : { category, type, domain };
    const streams = dataset.select(selector, domains);
    // Every mode becomes a half-open [from, to) over event times.
    const from = rangeEnds === 'end' ? s + 1 : s;
    const asked = rangeEnds === 'start' ? e : e + 1;
    // Live: nothing after this second has happened yet.
    const to = options.live ? Math.min(asked, now() + 1) : asked;
    const refs = dataset.newest(streams, from, to, pageSize);
    const parts = refs.map((r) => dataset.listRecordJson(r.stream, r.index, r.time));
    return jsonAnswer(`[${parts.join(',')}]`, refs.length);
  }

  function detailAnswer(rawId: string, query: URLSearchParams, key: string, entry: MockRequestLogEntry): Answer {
    const queueId = safeDecode(rawId);
    if (queueId === undefined) return errorAnswer(404, 'Unknown queue id');
    entry.queueId = queueId;
    const time = query.get('time');
    if (time === null || !UNIX_SECONDS.test(time)) return errorAnswer(400, 'time is required and must be integer unix seconds');
    entry.time = Number(time);
    const found = dataset.findQueueId(queueId);
    if (!found || (options.live && found.time > now())) return errorAnswer(404, 'Unknown queue id');
    entry.category = 'mail';
    entry.domain = found.stream.spec.domain;
    if (found.stream.spec.type !== undefined) entry.type = found.stream.spec.type;
    if (!(allowed.get(key)?.has(found.stream.spec.domain) ?? false)) return errorAnswer(403, 'Domain is not allowed for this API key');
    if (found.time !== Number(time)) return errorAnswer(404, 'No log found for this queue id at this time');
    const detail = dataset.detailRecord(found.stream, found.index, found.time);
    if (!detail) return errorAnswer(404, 'No detail found for this queue id');
    return jsonAnswer(JSON.stringify(detail));
  }

  function spoil(answer: Answer, decision: FaultDecision, kind: RequestKind): Answer {
    switch (decision.action) {
      case 'status': {
        const spoiled = decision.notJson ? htmlErrorAnswer(decision.status) : errorAnswer(decision.status, decision.status === 429 ? 'Too many requests' : 'Internal error');
        if (decision.retryAfter !== undefined) spoiled.headers['retry-after'] = decision.retryAfter;
        return spoiled;
      }
      case 'malformed':
        return answer.status === 200 ? malformed(answer, decision.variant) : htmlErrorAnswer(answer.status);
      case 'body':
        return jsonAnswer(decision.body);
      case 'objectInsteadOfArray':
        return answer.status === 200 && kind === 'list' ? objectInsteadOfArray(answer) : answer;
      default:
        return answer;
    }
  }

  /** MockFaults.oversize: the same JSON, padded with trailing whitespace. */
  function oversize(answer: Answer, info: FaultRequestInfo): Answer {
    const big = faults.faults.oversize;
    if (!big || answer.status !== 200 || !(big.match?.(info) ?? true)) return answer;
    const pad = big.bytes - Buffer.byteLength(answer.body, 'utf8');
    return { ...answer, body: pad > 0 ? answer.body + ' '.repeat(pad) : answer.body, ...(big.chunked ? { chunked: true } : {}) };
  }

  function send(res: ServerResponse, answer: Answer, mode: 'full' | 'drop' | 'dropMidBody', delayMs: number): void {
    const write = (): void => {
      if (res.destroyed || res.socket === null || res.socket.destroyed) return;
      if (mode === 'drop') {
        res.socket.destroy();
        return;
      }
      const body = Buffer.from(answer.body, 'utf8');
      const date = options.clockOffsetSeconds ? { date: new Date(Date.now() + options.clockOffsetSeconds * 1000).toUTCString() } : {};
      // Without Content-Length, Node sends the body chunked.
      res.writeHead(answer.status, answer.chunked ? { ...date, ...answer.headers } : { ...date, ...answer.headers, 'content-length': String(body.length) });
      if (mode === 'dropMidBody') {
        // Content-Length promises the whole body; the client must notice it never came.
        const socket = res.socket;
        res.write(body.subarray(0, Math.max(1, Math.floor(body.length / 2))), () => socket.destroy());
        return;
      }
      res.end(body);
    };
    if (delayMs <= 0) {
      write();
      return;
    }
    const timer = setTimeout(() => {
      timers.delete(timer);
      write();
    }, delayMs);
    timers.add(timer);
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    serve(req, res, true);
  }

  /** `mayHold` is false for a request a hold has let go: it is answered, not caught again. */
  function serve(req: IncomingMessage, res: ServerResponse, mayHold: boolean): void {
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const path = q < 0 ? rawUrl : rawUrl.slice(0, q);
    const query = new URLSearchParams(q < 0 ? '' : rawUrl.slice(q + 1));
    const r = route(path);
    const key = bearerKey(req.headers.authorization);
    const entry: MockRequestLogEntry = { at: monotonicMs(), kind: r.kind, key, status: 0 };
    if (r.kind === 'list') entry.category = r.category;

    const finish = (answer: Answer, mode: 'full' | 'drop' | 'dropMidBody' = 'full', delayMs = 0, fault?: string): void => {
      entry.status = mode === 'drop' ? 'drop' : answer.status;
      if (fault !== undefined) entry.fault = fault;
      if (mode === 'dropMidBody') entry.droppedMidBody = true;
      if (answer.records !== undefined) entry.records = answer.records;
      stats.record(entry);
      send(res, answer, mode, delayMs);
    };

    if (r.kind === 'other') return finish(errorAnswer(404, 'Not found'));
    if (req.method !== 'GET') return finish(errorAnswer(405, 'Only GET is supported'));
    if (key === undefined) return finish(errorAnswer(401, 'Authorization header with a Bearer API key is required'));
    if (!allowed.has(key)) return finish(errorAnswer(401, 'Invalid API key'));
    const info: FaultRequestInfo = { kind: r.kind, key, rawUrl };
    if (r.kind === 'detail') {
      const queueId = safeDecode(r.rawId);
      if (queueId !== undefined) info.queueId = queueId;
    }
    if (mayHold) {
      for (const h of holds) {
        if (h.caught.length >= h.count || !h.match(info)) continue;
        h.catch({ info, res, resume: () => serve(req, res, false) });
        return;
      }
    }

    const limited = faults.rateLimit(key);
    if (limited && !limited.allowed) {
      const answer = errorAnswer(429, 'Rate limit exceeded', { ...limited.headers, 'retry-after': String(limited.retryAfterSeconds) });
      return finish(answer, 'full', 0, 'rateLimit');
    }
    const windowed = faults.fixedWindow(key);
    if (windowed && !windowed.allowed) {
      // Laravel's throttle body (docs/api.md, "Rate limits").
      const answer = errorAnswer(429, 'Too Many Attempts.', { ...windowed.headers, 'retry-after': String(windowed.retryAfterSeconds) });
      return finish(answer, 'full', 0, 'fixedWindow');
    }
    const { decision, delayMs } = faults.decide(info);
    const normal = r.kind === 'list' ? listAnswer(r.category, query, key, entry) : detailAnswer(r.rawId, query, key, entry);
    const answer = oversize(spoil(normal, decision, r.kind), info);
    if (limited) Object.assign(answer.headers, limited.headers);
    if (windowed) Object.assign(answer.headers, windowed.headers);
    const mode = decision.action === 'drop' ? 'drop' : decision.action === 'dropMidBody' ? 'dropMidBody' : 'full';
    finish(answer, mode, delayMs, decision.action === 'none' ? undefined : decision.fault);
  }

  const server = http.createServer(handle);
  // Long idle keep-alive: benchmarks should not pay reconnects, and close() destroys sockets anyway.
  server.keepAliveTimeout = 30_000;
  server.listen(options.port ?? 0, options.host ?? '127.0.0.1');
  await once(server, 'listening');
  const address = server.address() as AddressInfo;
  const hostText = address.family === 'IPv6' || address.address.includes(':') ? `[${address.address}]` : address.address;
  const url = `http://${hostText}:${address.port}`;
  let closing: Promise<void> | undefined;

  return {
    url,
    port: address.port,
    urls: {
      mail: `${url}${API_PATHS.mail}`,
      quarantine: `${url}${API_PATHS.quarantine}`,
      authentication: `${url}${API_PATHS.authentication}`,
    },
    keys,
    seed,
    from: options.from,
    to: options.to,
    expected: (stream, from, to) => dataset.expected(stream, from, to),
    count: (stream, from, to) => dataset.count(stream, from, to),
    maxPerSecond: (stream, from, to) => dataset.maxPerSecond(stream, from, to),
    iterateExpected: (stream, from, to) => dataset.iterateExpected(stream, from, to),
    setFaults: (partial) => faults.set(partial),
    failNext: (count, action, kind = 'any') => faults.failNext(count, action, kind),
    hold(match, count = 1): MockHold {
      if (!(count >= 1 && (Number.isInteger(count) || count === Infinity))) throw new RangeError(`hold count must be a whole number >= 1 or Infinity, got ${count}`);
      const h = new HoldState(match, count, () => !closed, (done) => holds.delete(done));
      holds.add(h);
      return h.handle;
    },
    stats: () => stats.snapshot(),
    fixedWindows: () => faults.fixedWindows(),
    resetStats: () => stats.reset(),
    close(): Promise<void> {
      closing ??= new Promise<void>((resolve) => {
        // Held requests are never answered: their connections are destroyed below.
        closed = true;
        holds.clear();
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

interface Caught {
  info: FaultRequestInfo;
  res: ServerResponse;
  /** Answers the request as if it arrived now. */
  resume: () => void;
}

/** One hold: the requests it caught and its handle for the test. */
class HoldState {
  readonly caught: Caught[] = [];
  #released = false;
  #abandoned = 0;
  #arrived: (info: FaultRequestInfo) => void = () => undefined;
  readonly handle: MockHold;

  constructor(
    readonly match: (request: FaultRequestInfo) => boolean,
    readonly count: number,
    private readonly open: () => boolean,
    private readonly done: (self: HoldState) => void,
  ) {
    const arrived = new Promise<FaultRequestInfo>((resolve) => (this.#arrived = resolve));
    const self = this;
    this.handle = {
      arrived,
      get caught() {
        return self.caught.length;
      },
      get waiting() {
        return self.#released ? 0 : self.caught.length - self.#abandoned;
      },
      get abandoned() {
        return self.#abandoned;
      },
      release: () => this.release(),
    };
  }

  catch(c: Caught): void {
    this.caught.push(c);
    // 'close' before the release can only mean the client hung up.
    c.res.once('close', () => {
      if (!this.#released) this.#abandoned++;
    });
    if (this.caught.length >= this.count) this.done(this);
    if (this.caught.length === 1) this.#arrived(c.info);
  }

  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.done(this);
    // Answered even when the client hung up, as a slow answer would be: the
    // fault draws and the request log stay what they would have been.
    if (this.open()) for (const c of this.caught) c.resume();
  }
}
