// The HTTP client for the Uzman Posta log API (docs/api.md), and the only module
// that imports undici. One ApiClient per section task: it owns its connection
// pools, so nothing is shared between worker threads.
//
// Retry rules (docs/api.md, "Errors"; waits computed in retry-policy.ts):
// - transient (5xx, reset, timeout, DNS, refused, malformed 200 body): back off
//   and retry up to list_retries / detail_retries times;
// - 429: wait Retry-After (or back off) on a separate budget of RATE_LIMIT_RETRIES;
// - TLS certificate failures, 400, 401, 403, 404, 406 and other 4xx: no retry.
//
// list() rejects with a UzpError. detail() resolves every failure to
// `{status: 'failed'}` so the summary record is written instead, except two
// that must stop the section rather than degrade every record of it: an
// ApiAuthError (401/403) and an AbortedError.

import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { setTimeout as sleepTimer } from 'node:timers/promises';
import { EnvHttpProxyAgent, Pool, type Dispatcher } from 'undici';
import {
  AbortedError,
  ApiAuthError,
  ApiHttpError,
  ConfigError,
  MalformedResponseError,
  RunDeadlineError,
  UnparsableAnswerError,
  ResponseTooLargeError,
  UzpError,
  type ErrorContext,
} from '../common/errors.js';
import { redact } from '../common/mask.js';
import type { RateOutcome } from '../engine/shared/rate-outcome.js';
import { networkErrorKind, toNetworkError } from './network-errors.js';
import { BodyTooLarge, readBodyCapped } from './bounded-body.js';
import { parseRetryAfter, rateLimitDecision, transientRetryWaitMs, type RetryAfter } from './retry-policy.js';
import { deadlineStop, type RunDeadline } from './run-deadline.js';
import { isPlainObject } from '../common/plain-object.js';

export interface RateGate {
  /** Called before every request attempt; may wait for the key's budget. */
  acquire(signal?: AbortSignal): Promise<void>;
  /** Called after every attempt that acquire() let through (status null = network error or abort). */
  observe(outcome: RateOutcome): void;
}

export interface RequestEvent {
  kind: 'list' | 'detail';
  /** Key-masked. */
  url: string;
  /** null when no complete response arrived (network error, timeout, abort). */
  status: number | null;
  durationMs: number;
  /** 1-based, counting every attempt of the logical request (429s included). */
  attempt: number;
  error?: UzpError;
  willRetry: boolean;
  /** Planned wait before the next attempt, when willRetry. */
  waitMs?: number;
}

export interface ApiClientOptions {
  section: string;
  apiKey: string;
  url: string;
  category: 'mail' | 'quarantine' | 'authentication';
  type: string;
  domain: string;
  listTimeoutMs: number;
  detailTimeoutMs: number;
  listRetries: number;
  listSleepSeconds: number;
  detailRetries: number;
  detailSleepSeconds: number;
  useSession: boolean;
  maxConnections: number;
  caFile?: string;
  gate?: RateGate;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  onRequest?: (ev: RequestEvent) => void;
  signal?: AbortSignal;
  /** Monotonic milliseconds that request durations are measured with; performance.now() unless a test injects one. */
  now?: () => number;
  /** This host's wall clock in milliseconds, checked against the API's Date header; Date.now() unless a test injects one. */
  wallNow?: () => number;
  /**
   * Where the proxy variables (HTTPS_PROXY, HTTP_PROXY, NO_PROXY, and their
   * lower-case forms) are read from. Defaults to process.env; tests inject one.
   */
  env?: Record<string, string | undefined>;
  /** max_run_time: no retry starts at or after it (run-deadline.ts). */
  deadline?: RunDeadline;
  /** Wall-clock epoch milliseconds the deadline is checked with; Date.now() unless a test injects one. */
  wallClock?: () => number;
  /** Largest answer read for one request, bytes (max_response_size); a bigger one fails it with ResponseTooLargeError. Default 64 MiB. */
  maxResponseBytes?: number;
}

/** max_response_size's default, for clients built without a config (tests, tools). */
export const DEFAULT_MAX_RESPONSE_BYTES = 64 * 2 ** 20;

export type DetailResult =
  | { status: 'ok'; record: Record<string, unknown> }
  | { status: 'missing' }
  | { status: 'failed'; error: UzpError };

type Headers = Record<string, string | string[] | undefined>;

/** What one attempt came to, before the retry decision. */
type Attempt<T> =
  | { type: 'done'; value: T }
  /** Retrying cannot help. */
  | { type: 'fatal'; error: UzpError }
  | { type: 'transient'; error: UzpError }
  | { type: 'rate-limited'; error: ApiHttpError; retryAfter: RetryAfter };

interface RequestSpec<T> {
  kind: 'list' | 'detail';
  origin: string;
  /** Path and query, as sent. */
  path: string;
  timeoutMs: number;
  retries: number;
  sleepSeconds: number;
  interpret: (status: number, headers: Headers, text: string, ctx: ErrorContext) => Attempt<T>;
  whileWaiting?: WaitWrapper | undefined;
}

/** Runs the wait before a retry; a caller's way to free what the request holds meanwhile (a detail slot). */
export type WaitWrapper = (wait: () => Promise<void>) => Promise<void>;

export interface ProxySettings {
  httpProxy: string;
  httpsProxy: string;
  noProxy: string;
}

/**
 * The proxy settings from the environment, or null when none of the variables
 * is set (then requests go straight to the service). Lower case wins, as in curl and undici.
 */
export function proxyFromEnv(env: Record<string, string | undefined>): ProxySettings | null {
  const pick = (lower: string, upper: string): string => env[lower] || env[upper] || '';
  const settings = {
    httpProxy: pick('http_proxy', 'HTTP_PROXY'),
    httpsProxy: pick('https_proxy', 'HTTPS_PROXY'),
    noProxy: pick('no_proxy', 'NO_PROXY'),
  };
  return settings.httpProxy || settings.httpsProxy || settings.noProxy ? settings : null;
}

/** A body's first characters shown in errors: enough to recognise an HTML error page. */
const SNIPPET_CHARS = 200;

export class ApiClient {
  readonly #opts: ApiClientOptions;
  readonly #base: URL;
  readonly #headers: Record<string, string>;
  /** Local minus API clock in seconds, from the latest Date header (docs/api.md, "Clock"). */
  #clockSkewSeconds: number | undefined;
  readonly #ca: string[] | undefined;
  readonly #proxy: ProxySettings | null;
  readonly #connectTimeoutMs: number;
  // Lazily created: the authentication URL's host differs from the others (docs/api.md, "Endpoints").
  readonly #pools = new Map<string, Dispatcher>();
  #proxyAgent: Dispatcher | undefined;
  // close() stops new attempts and wakes backoff sleeps; destroy() also cuts in-flight requests.
  readonly #closeCtl = new AbortController();
  readonly #destroyCtl = new AbortController();
  readonly #sleepSignal: AbortSignal;
  readonly #requestSignal: AbortSignal;
  /**
   * The requests in flight, each with its own controller: the request signal
   * aborts them all through one listener. (A composite AbortSignal.any per
   * request cost about 4 % of a worker's CPU in the cron-tick bench.)
   */
  readonly #inFlight = new Set<AbortController>();
  /** Takes the in-flight abort listener off the signals the client was given (once closed). */
  readonly #unlinkSignals: () => void;
  /** The last Date header seen and its time: answers within one second carry the same text. */
  #serverDate: { text: string; ms: number } | undefined;
  #closing: Promise<void> | undefined;
  #destroying: Promise<void> | undefined;

  constructor(opts: ApiClientOptions) {
    this.#opts = opts;
    this.#base = new URL(opts.url);
    this.#headers = {
      authorization: `Bearer ${opts.apiKey}`,
      accept: 'application/json',
      'user-agent': 'uzmanposta',
    };
    this.#ca = opts.caFile ? caBundle(opts.caFile, opts.section) : undefined;
    this.#proxy = proxyFromEnv(opts.env ?? process.env);
    // One connection may serve both kinds of request, so it gets the longer allowance.
    this.#connectTimeoutMs = Math.max(opts.listTimeoutMs, opts.detailTimeoutMs);
    const outer = opts.signal ? [opts.signal] : [];
    this.#sleepSignal = AbortSignal.any([...outer, this.#closeCtl.signal]);
    this.#requestSignal = AbortSignal.any([...outer, this.#destroyCtl.signal]);
    // On the sources, not on the composite: Node keeps a composite signal that
    // has an abort listener (and with it this client, its pools and buffers)
    // alive until a source aborts, which for a section that ends normally is
    // never; 1,000 sections kept ≈ 55 MB of finished clients that way.
    // And taken off again once the client is closed, so that a signal that
    // outlives the client (a worker's) does not keep it either.
    const abortInFlight = (event: Event): void => {
      const reason: unknown = (event.target as AbortSignal).reason;
      for (const ctl of this.#inFlight) ctl.abort(reason);
    };
    const sources = [...outer, this.#destroyCtl.signal];
    for (const source of sources) source.addEventListener('abort', abortInFlight, { once: true });
    this.#unlinkSignals = () => {
      for (const source of sources) source.removeEventListener('abort', abortInFlight);
    };
  }

  /** One logical list request, retried as docs/api.md, "Errors" says; resolves the array as received. */
  async list(starttime: number, endtime: number): Promise<unknown[]> {
    const o = this.#opts;
    const query = new URLSearchParams(this.#base.search);
    query.set('starttime', String(starttime));
    query.set('endtime', String(endtime));
    // Authentication logs have no type (docs/api.md, "Endpoints").
    if (o.category !== 'authentication' && o.type) query.set('type', o.type);
    if (o.domain) query.set('domain', o.domain);
    // Whether every attempt got the same unreadable bytes: then retrying cannot help (docs/api.md, "Errors").
    const answers = { unreadable: 0, other: 0, last: '', same: true };
    try {
      return await this.#run<unknown[]>({
        kind: 'list',
        origin: this.#base.origin,
        path: `${this.#base.pathname}?${query.toString()}`,
        timeoutMs: o.listTimeoutMs,
        retries: o.listRetries,
        sleepSeconds: o.listSleepSeconds,
        interpret: (status, headers, text, ctx) => {
          if (status >= 200 && status < 300) {
            let parsed = parseJson(text);
            if (parsed.ok && Array.isArray(parsed.value)) {
              const unwritable = unwritableProblem(parsed.value, text);
              if (unwritable === undefined) return { type: 'done', value: parsed.value };
              parsed = { ok: false, error: unwritable };
            }
            if (answers.unreadable > 0 && answers.last !== text) answers.same = false;
            answers.last = text;
            answers.unreadable++;
            return { type: 'transient', error: this.#malformed('a JSON array of records', parsed, text, ctx) };
          }
          answers.other++;
          return this.#httpFailure(status, headers, text, ctx);
        },
      });
    } catch (err) {
      if (err instanceof MalformedResponseError && answers.same && answers.other === 0 && answers.unreadable >= Math.min(2, o.listRetries + 1)) {
        throw new UnparsableAnswerError(`${err.message}; all ${answers.unreadable} attempts got these same ${answers.last.length} characters`, err.context, answers.last);
      }
      throw err;
    }
  }

  /** The full record of one mail message; see the header comment for what throws. */
  async detail(queueId: string, time: number, opts: { whileWaiting?: WaitWrapper } = {}): Promise<DetailResult> {
    const o = this.#opts;
    if (o.category !== 'mail') throw new TypeError(`section ${o.section}: detail() is for category mail only, not ${o.category}`);
    if (queueId === '') {
      // `{url}/` would be the list endpoint: never ask it.
      return {
        status: 'failed',
        error: new MalformedResponseError(`section ${o.section}: a list record has an empty queue_id; no detail can be fetched`, {
          section: o.section,
        }),
      };
    }
    const query = new URLSearchParams(this.#base.search);
    query.set('time', String(time));
    const basePath = this.#base.pathname.replace(/\/+$/, '');
    try {
      return await this.#run<DetailResult>({
        kind: 'detail',
        origin: this.#base.origin,
        path: `${basePath}/${encodePathSegment(queueId)}?${query.toString()}`,
        timeoutMs: o.detailTimeoutMs,
        retries: o.detailRetries,
        sleepSeconds: o.detailSleepSeconds,
        whileWaiting: opts.whileWaiting,
        interpret: (status, headers, text, ctx) => {
          if (status >= 200 && status < 300) {
            const parsed = parseJson(text);
            if (parsed.ok && isPlainObject(parsed.value)) {
              const unwritable = unwritableProblem([parsed.value], text);
              if (unwritable === undefined) return { type: 'done', value: { status: 'ok', record: parsed.value } };
              return { type: 'transient', error: this.#malformed('a JSON object (the full record)', { ok: false, error: unwritable }, text, ctx) };
            }
            return { type: 'transient', error: this.#malformed('a JSON object (the full record)', parsed, text, ctx) };
          }
          // No detail for this queue_id: the summary record is written instead (docs/api.md, "Detail").
          if (status === 404) return { type: 'done', value: { status: 'missing' } };
          return this.#httpFailure(status, headers, text, ctx);
        },
      });
    } catch (err) {
      if (err instanceof ApiAuthError || err instanceof AbortedError || err instanceof RunDeadlineError) throw err;
      if (err instanceof UzpError) return { status: 'failed', error: err };
      throw err;
    }
  }

  /** Graceful: no new attempts, sleeping retries end with AbortedError, in-flight requests finish. Idempotent. */
  close(): Promise<void> {
    if (this.#destroying) return this.#destroying;
    this.#closing ??= (async () => {
      this.#closeCtl.abort();
      await Promise.all(this.#dispatchers().map((d) => d.close()));
      this.#unlinkSignals();
    })();
    return this.#closing;
  }

  /** Forceful: in-flight requests are cut and reject with AbortedError. Idempotent. */
  destroy(): Promise<void> {
    this.#destroying ??= (async () => {
      this.#closeCtl.abort();
      this.#destroyCtl.abort();
      await Promise.all(this.#dispatchers().map((d) => d.destroy()));
      this.#unlinkSignals();
    })();
    return this.#destroying;
  }

  #dispatchers(): Dispatcher[] {
    return [...this.#pools.values(), ...(this.#proxyAgent ? [this.#proxyAgent] : [])];
  }

  #dispatcherFor(origin: string): Dispatcher {
    const tls = { timeout: this.#connectTimeoutMs, rejectUnauthorized: true, ...(this.#ca ? { ca: this.#ca } : {}) };
    const common = {
      connections: Math.max(1, this.#opts.maxConnections),
      pipelining: 1,
      connect: tls,
      headersTimeout: this.#opts.listTimeoutMs,
      bodyTimeout: this.#opts.listTimeoutMs,
    };
    if (this.#proxy) {
      // One agent routes every origin, per NO_PROXY; the extra CA applies to the
      // service behind the tunnel and to an HTTPS proxy alike.
      this.#proxyAgent ??= new EnvHttpProxyAgent({ ...common, ...this.#proxy, requestTls: tls, proxyTls: tls });
      return this.#proxyAgent;
    }
    let pool = this.#pools.get(origin);
    if (!pool) {
      pool = new Pool(origin, common);
      this.#pools.set(origin, pool);
    }
    return pool;
  }

  async #run<T>(spec: RequestSpec<T>): Promise<T> {
    const o = this.#opts;
    const url = redact(`${spec.origin}${spec.path}`, [o.apiKey]);
    const { hostname, port, protocol } = new URL(spec.origin);
    const host = hostname.replace(/^\[|\]$/g, '');
    const portNumber = port ? Number(port) : protocol === 'https:' ? 443 : 80;
    let transientRetries = 0;
    let rateLimitRetries = 0;
    const wall = o.wallClock ?? Date.now;
    let failingSinceMs: number | undefined;

    for (let attempt = 1; ; attempt++) {
      this.#throwIfStopped(url);
      try {
        await (o.gate?.acquire(this.#sleepSignal) ?? Promise.resolve());
      } catch (err) {
        if (this.#sleepSignal.aborted) throw this.#aborted(url);
        throw err;
      }
      this.#throwIfStopped(url);

      const now = this.#opts.now ?? (() => performance.now());
      const startedWall = wall();
      const started = now();
      const elapsed = (): number => Math.round(now() - started);
      let status: number | null = null;
      let headers: Headers = {};
      let outcome: Attempt<T> | { type: 'aborted' } | { type: 'bug'; error: unknown };
      // undici's headersTimeout and bodyTimeout restart with every byte: a
      // server trickling its body would hold the request, and the section's
      // lock, forever. The attempt as a whole gets the same limit.
      // The deadline's error is named as undici names its own timeouts, by the
      // stage the request was in, so the error log says what was slow.
      const attemptCtl = new AbortController();
      let gotHeaders = false;
      let timedOut: Error | undefined;
      const deadlineTimer = setTimeout(() => {
        const [code, what] = gotHeaders ? ['UND_ERR_BODY_TIMEOUT', 'the body'] : ['UND_ERR_HEADERS_TIMEOUT', 'the headers'];
        timedOut = Object.assign(new Error(`${what} did not arrive within ${spec.timeoutMs} ms`), { code });
        attemptCtl.abort(timedOut);
      }, spec.timeoutMs);
      this.#inFlight.add(attemptCtl);
      if (this.#requestSignal.aborted) attemptCtl.abort(this.#requestSignal.reason);
      try {
        const res = await this.#dispatcherFor(spec.origin).request({
          origin: spec.origin,
          path: spec.path,
          method: 'GET',
          headers: this.#headers,
          signal: attemptCtl.signal,
          headersTimeout: spec.timeoutMs,
          bodyTimeout: spec.timeoutMs,
          // use_session = false: a fresh connection per request, as the Python tool without a Session.
          reset: !o.useSession,
        });
        gotHeaders = true;
        let text: string | ResponseTooLargeError;
        try {
          // Pages are at most 1000 records (docs/api.md, "List"): read whole, up to max_response_size.
          text = await readBodyCapped(res.body, o.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES, res.headers['content-length']);
        } catch (err) {
          // Never leave a half-read body holding a socket.
          res.body.destroy();
          if (!(err instanceof BodyTooLarge)) throw err;
          text = this.#tooLarge(spec.kind, err, { section: o.section, url, status: res.statusCode, durationMs: elapsed(), attempt });
        }
        status = res.statusCode;
        headers = res.headers;
        this.#noteServerDate(headers['date']);
        outcome =
          typeof text === 'string'
            ? spec.interpret(status, headers, text, { section: o.section, url, status, durationMs: elapsed(), attempt })
            : { type: 'fatal', error: text };
      } catch (caught) {
        // An abort may surface as undici's own error rather than the reason it was given.
        const err = timedOut !== undefined && !this.#requestSignal.aborted ? timedOut : caught;
        if (this.#requestSignal.aborted) {
          outcome = { type: 'aborted' };
        } else {
          const kind = networkErrorKind(err);
          if (kind === null) {
            outcome = { type: 'bug', error: err };
          } else {
            const error = await toNetworkError(err, kind, {
              section: o.section,
              url,
              host,
              port: portNumber,
              durationMs: elapsed(),
              attempt,
              viaProxy: this.#proxy !== null,
            });
            // A certificate that failed verification will fail the same way in 2 s.
            outcome = kind === 'tls' ? { type: 'fatal', error } : { type: 'transient', error };
          }
        }
      } finally {
        clearTimeout(deadlineTimer);
        this.#inFlight.delete(attemptCtl);
      }
      const durationMs = elapsed();

      const retryAfter: RetryAfter = parseRetryAfter(headers['retry-after'], Date.now());
      o.gate?.observe({
        status,
        headers,
        ...(retryAfter.kind === 'seconds' ? { retryAfterSeconds: retryAfter.seconds } : {}),
      });

      if (outcome.type === 'aborted') {
        const error = this.#aborted(url);
        o.onRequest?.({ kind: spec.kind, url, status, durationMs, attempt, error, willRetry: false });
        throw error;
      }
      if (outcome.type === 'bug') throw outcome.error;
      if (outcome.type === 'done') {
        o.onRequest?.({ kind: spec.kind, url, status, durationMs, attempt, willRetry: false });
        return outcome.value;
      }

      let waitMs: number | null = null;
      const error = outcome.error;
      if (outcome.type === 'transient') {
        transientRetries++;
        waitMs = transientRetryWaitMs(transientRetries, spec.retries, spec.sleepSeconds);
        if (waitMs === null) giveUp(error, `gave up after ${attempt} attempts (${spec.kind}_retries = ${spec.retries})`, attempt);
      } else if (outcome.type === 'rate-limited') {
        rateLimitRetries++;
        const decision = rateLimitDecision(rateLimitRetries, outcome.retryAfter, spec.sleepSeconds);
        if (decision.retry) {
          waitMs = decision.waitMs;
        } else if (decision.reason === 'retry-after-too-long') {
          giveUp(error, `not waiting the ${decision.retryAfterSeconds ?? '?'} s Retry-After asks for`, attempt);
        } else {
          giveUp(error, `still rate limited after ${rateLimitRetries} answers of 429 (${attempt} attempts)`, attempt);
        }
      }
      failingSinceMs ??= startedWall;
      const stop = waitMs === null ? null : deadlineStop(o.deadline, wall(), waitMs, failingSinceMs, attempt, error);
      if (stop) waitMs = null;
      const willRetry = waitMs !== null;
      o.onRequest?.({
        kind: spec.kind,
        url,
        status,
        durationMs,
        attempt,
        error,
        willRetry,
        ...(willRetry ? { waitMs: waitMs ?? 0 } : {}),
      });
      if (waitMs === null) throw stop ?? error;
      const ms = waitMs;
      await (spec.whileWaiting ? spec.whileWaiting(() => this.#wait(ms, url)) : this.#wait(ms, url));
    }
  }

  /**
   * How far this host's clock is ahead of the API's (negative: behind), in
   * whole seconds, from the latest answer's Date header; undefined before
   * the first answer or without the header.
   */
  get clockSkewSeconds(): number | undefined {
    return this.#clockSkewSeconds;
  }

  #noteServerDate(value: string | string[] | undefined): void {
    const text = Array.isArray(value) ? value[0] : value;
    if (text === undefined) return;
    if (this.#serverDate?.text !== text) this.#serverDate = { text, ms: Date.parse(text) };
    const serverMs = this.#serverDate.ms;
    if (!Number.isFinite(serverMs)) return;
    // The header has whole seconds: the service's time was in [serverMs, serverMs + 1000) when it answered.
    const localMs = (this.#opts.wallNow ?? Date.now)();
    this.#clockSkewSeconds = Math.round((localMs - (serverMs + 500)) / 1000);
  }

  #tooLarge(kind: 'list' | 'detail', err: BodyTooLarge, ctx: ErrorContext): ResponseTooLargeError {
    const mib = (n: number): string => `${Math.round((n / 2 ** 20) * 10) / 10} MiB`;
    const size = err.declared !== undefined ? `declares ${mib(err.declared)}` : `went past it after ${mib(err.received)}`;
    const effect = kind === 'list' ? 'the window is not committed and the position stays' : 'the record is written without its details';
    return new ResponseTooLargeError(
      `section ${String(ctx.section)}: the ${kind} answer is larger than max_response_size = ${mib(err.limitBytes)} (it ${size}); ` +
        `${effect}; raise max_response_size if such answers are expected, or lower split_interval; GET ${String(ctx.url)}`,
      { ...ctx, kind, limitBytes: err.limitBytes, receivedBytes: err.received, ...(err.declared !== undefined ? { declaredBytes: err.declared } : {}) },
    );
  }

  #httpFailure<T>(status: number, headers: Headers, text: string, ctx: ErrorContext): Attempt<T> {
    const o = this.#opts;
    const body = describeBody(text, o.apiKey);
    const context: ErrorContext = { ...ctx, ...body.context };
    const tail = `${body.summary}; GET ${String(ctx.url)}, after ${String(ctx.durationMs)} ms`;
    if (status === 401 || status === 403) {
      const domain = o.domain ? ` for domain ${o.domain}` : '';
      return {
        type: 'fatal',
        error: new ApiAuthError(
          `section ${o.section}: the API refused the key with HTTP ${status}; check api_key and that the key is allowed${domain} (${tail})`,
          context,
        ),
      };
    }
    if (status === 429) {
      return {
        type: 'rate-limited',
        error: new ApiHttpError(`section ${o.section}: rate limited by the API (HTTP 429, Retry-After ${retryAfterText(headers)}); ${tail}`, context),
        retryAfter: parseRetryAfter(headers['retry-after'], Date.now()),
      };
    }
    if (status >= 500) {
      return { type: 'transient', error: new ApiHttpError(`section ${o.section}: server error HTTP ${status} from the API; ${tail}`, context) };
    }
    if (status >= 300 && status < 400) {
      // Not followed: the key would go wherever the redirect points (docs/api.md, "Errors").
      const raw = Array.isArray(headers['location']) ? headers['location'][0] : headers['location'];
      const target = raw === undefined ? 'no Location header' : `to ${redact(raw, [o.apiKey])}`;
      return {
        type: 'fatal',
        error: new ApiHttpError(
          `section ${o.section}: the API answered with a redirect (HTTP ${status}, ${target}) instead of records; redirects are not followed, ` +
            `so the key is not sent to another address: if the new address is right, set url to it (GET ${String(ctx.url)})`,
          { ...context, ...(raw === undefined ? {} : { location: redact(raw, [o.apiKey]) }) },
        ),
      };
    }
    const what =
      status === 400
        ? 'the API rejected the request parameters (HTTP 400)'
        : status === 404
          ? 'the API has no such endpoint or range (HTTP 404); check url'
          : status === 406
            ? 'the API refused the search (HTTP 406)'
            : `unexpected HTTP ${status} from the API`;
    return { type: 'fatal', error: new ApiHttpError(`section ${o.section}: ${what}; ${tail}`, context) };
  }

  #malformed(expected: string, parsed: ParsedJson, text: string, ctx: ErrorContext): MalformedResponseError {
    const o = this.#opts;
    const got = parsed.ok ? `JSON ${jsonKind(parsed.value)}` : `a body that is not valid JSON (${parsed.error})`;
    const snippet = snippetOf(text, o.apiKey);
    return new MalformedResponseError(
      `section ${o.section}: HTTP ${String(ctx.status)} with ${got} where ${expected} was expected; ${text.length} characters, starting ${JSON.stringify(snippet)}; GET ${String(ctx.url)}, after ${String(ctx.durationMs)} ms`,
      { ...ctx, bodySnippet: snippet, bodyLength: text.length },
    );
  }

  async #wait(ms: number, url: string): Promise<void> {
    const signal = this.#sleepSignal;
    if (signal.aborted) throw this.#aborted(url);
    const sleep = this.#opts.sleep ?? ((t: number, s?: AbortSignal) => sleepTimer(t, undefined, { signal: s }));
    // An injected sleep may ignore the signal; abort must still end the wait at once.
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(this.#aborted(url));
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      await Promise.race([sleep(ms, signal), aborted]);
    } catch (err) {
      if (signal.aborted) throw this.#aborted(url);
      throw err;
    } finally {
      if (onAbort) signal.removeEventListener('abort', onAbort);
      aborted.catch(() => {});
    }
  }

  #throwIfStopped(url: string): void {
    if (this.#sleepSignal.aborted) throw this.#aborted(url);
  }

  #aborted(url: string): AbortedError {
    const o = this.#opts;
    const why = o.signal?.aborted
      ? 'the run was stopped'
      : this.#destroying
        ? 'the API client was destroyed'
        : 'the API client was closed';
    return new AbortedError(`section ${o.section}: request abandoned because ${why}; GET ${url}`, { section: o.section, url });
  }
}

/**
 * encodeURIComponent, plus dots for an id made only of dots: `.` and `..` would
 * otherwise be resolved as path steps by the server or a proxy.
 */
export function encodePathSegment(segment: string): string {
  const encoded = encodeURIComponent(segment);
  return /^\.+$/.test(encoded) ? encoded.replace(/\./g, '%2E') : encoded;
}

/** The trust list for ca_file: Node's built-in roots plus the file's certificates. */
export function caBundle(path: string, section: string): string[] {
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new ConfigError(`section ${section}: ca_file ${path} cannot be read: ${reason}`, [
      { section, option: 'ca_file', value: path, message: `cannot be read: ${reason}`, severity: 'error' },
    ]);
  }
  // Node's `ca` replaces the built-in roots; ca_file adds to them, it does not narrow them.
  return [...rootCertificates, pem];
}

type ParsedJson = { ok: true; value: unknown } | { ok: false; error: string };

function parseJson(text: string): ParsedJson {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}

/**
 * JSON.parse takes nesting that JSON.stringify cannot write back (it runs out
 * of stack). An answer with fewer opening brackets than this cannot be nested
 * deeper, so it is written back without trying first: that is nearly every
 * detail, which would otherwise be serialised twice.
 */
const SURELY_WRITABLE_DEPTH = 1000;

/** Whether `text` holds fewer than SURELY_WRITABLE_DEPTH `{` and `[` in all (so its nesting is shallower than that). */
function surelyShallow(text: string): boolean {
  let open = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c === 0x7b || c === 0x5b) && ++open >= SURELY_WRITABLE_DEPTH) return false;
  }
  return true;
}

/** Why records parsed from `text` cannot be written back as JSON lines (nested too deep for the serializer), or undefined. */
function unwritableProblem(records: unknown[], text: string): string | undefined {
  if (surelyShallow(text)) return undefined;
  try {
    JSON.stringify(records);
    return undefined;
  } catch (err) {
    return `records that cannot be written back as JSON (${err instanceof Error ? err.message : String(err)}; nested too deep?)`;
  }
}

function jsonKind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v === 'object' ? 'object' : typeof v;
}

/** Redact before cutting, so a key split by the cut cannot leak half of itself. */
function snippetOf(text: string, apiKey: string): string {
  return redact(text, [apiKey]).slice(0, SNIPPET_CHARS);
}

type Scalar = string | number | boolean | null;

/** The error body as docs/api.md, "Errors" says to log it: its scalar fields, or its first 200 characters. */
function describeBody(text: string, apiKey: string): { summary: string; context: ErrorContext } {
  const parsed = parseJson(text);
  if (parsed.ok && isPlainObject(parsed.value)) {
    const fields: Record<string, Scalar> = {};
    for (const [k, v] of Object.entries(parsed.value)) {
      if (v === null || typeof v === 'number' || typeof v === 'boolean') fields[k] = v;
      else if (typeof v === 'string') fields[k] = snippetOf(v, apiKey);
    }
    const shown = Object.entries(fields).map(([k, v]) => `${k}: ${JSON.stringify(v)}`);
    return { summary: shown.length > 0 ? `API says ${shown.join(', ')}` : 'empty JSON error body', context: { apiError: fields } };
  }
  if (text.trim() === '') return { summary: 'empty body', context: {} };
  const snippet = snippetOf(text, apiKey);
  return { summary: `body starts ${JSON.stringify(snippet)}`, context: { bodySnippet: snippet } };
}

function retryAfterText(headers: Headers): string {
  const v = headers['retry-after'];
  const first = Array.isArray(v) ? v[0] : v;
  return first === undefined ? 'absent' : JSON.stringify(first);
}

// Error classes keep their message read-only in spirit, but the final verdict
// (how many attempts, why no more) is only known after the retry decision.
function giveUp(error: UzpError, why: string, attempts: number): void {
  error.message = `${error.message}; ${why}`;
  error.context.attempts = attempts;
}
