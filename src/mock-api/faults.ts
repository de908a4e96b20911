// Bad days of the real service, on demand. Probabilistic faults draw from one
// PRNG seeded by the dataset seed and advanced by a fixed number of draws per
// request, so the same request sequence meets the same faults, and turning one
// fault on does not reshuffle when the others strike.

import { createRng, type Rng } from './random.js';

export type RequestKind = 'list' | 'detail';

/** How a request is made to fail: an HTTP status, or a broken connection or body. */
/** `{ body }`: a 200 carrying exactly this body (a hostile or broken answer the test spells out). */
export type FailAction = number | 'drop' | 'dropMidBody' | 'malformed' | { body: string };

export interface FaultRequestInfo {
  kind: RequestKind;
  key: string;
  /** Path and query exactly as received. */
  rawUrl: string;
  queueId?: string;
}

export interface PerKeyRateLimit {
  requestsPerSecond: number;
  /** Bucket size; defaults to max(1, requestsPerSecond). */
  burst?: number;
}

/**
 * Laravel's request throttle (docs/api.md, "Rate limits"): at most `requests`
 * per key in a window of `seconds` that starts at the key's first request
 * after the previous window ended.
 */
export interface FixedWindowLimit {
  requests: number;
  seconds: number;
}

/** One fixed window of one key, as the mock counted it: the ground truth for tests and benchmarks. */
export interface FixedWindowRecord {
  key: string;
  /** Monotonic ms of the request that opened the window. */
  startAt: number;
  /** Monotonic ms when it ends: startAt + seconds × 1000. */
  endAt: number;
  /** Wall-clock Unix seconds sent as X-RateLimit-Reset on its 429s. */
  resetUnix: number;
  admitted: number;
  rejected: number;
}

export interface MockFaults {
  /** Which request kinds the faults below apply to (all when absent). Not perKeyRateLimit nor failNext. */
  kinds?: RequestKind[];
  /** Added before every response. */
  latencyMs?: number;
  /** Up to this much more, drawn per request. */
  jitterMs?: number;
  /** Probability of a 429. */
  status429?: number;
  /** Retry-After on fault 429s: seconds, no header, or an unparsable value. Default 1. */
  retryAfter?: number | 'absent' | 'garbage';
  /** Probability of a 500/502/503/504, sometimes with a non-JSON body. */
  status5xx?: number;
  /** Probability of closing the socket without any response. */
  dropBeforeResponse?: number;
  /** Probability of sending headers and part of the body, then closing the socket. */
  dropMidBody?: number;
  /** Probability of a 200 whose body is cut short or not JSON. */
  malformedBody?: number;
  /** Probability of a 200 carrying a JSON object where a list answer has an array. */
  objectInsteadOfArray?: number;
  /** Extra delay, long enough to trip client timeouts. */
  slowMs?: number;
  /** Share of responses that get slowMs (default 1). */
  slowRatio?: number;
  /** Token bucket per API key; exceeding it answers 429 with a numeric Retry-After. */
  perKeyRateLimit?: PerKeyRateLimit;
  /** Send X-RateLimit-Limit/-Remaining/-Reset with perKeyRateLimit. */
  rateLimitHeaders?: boolean;
  /**
   * Laravel-style fixed window per API key; exceeding it answers 429 with
   * Retry-After (seconds to the window's end), X-RateLimit-Reset (Unix time),
   * and X-RateLimit-Limit/-Remaining on every answer. Checked after
   * perKeyRateLimit; like it, not subject to `kinds`. Random 429s (status429)
   * strike after it: a request the window admitted may still get one.
   */
  fixedWindow?: FixedWindowLimit;
  /**
   * Answers of 200 to requests it matches (all when no match) are padded with
   * trailing JSON whitespace to `bytes` bytes: the same records, in an answer
   * larger than a client's size cap. chunked: sent without Content-Length.
   */
  oversize?: { bytes: number; chunked?: boolean; match?: (request: FaultRequestInfo) => boolean };
  /** Per-request hook: return an action to fail this request with it, undefined to go on. */
  failPaths?: (request: FaultRequestInfo) => FailAction | undefined;
}

export type FaultDecision =
  | { action: 'none' }
  | { action: 'status'; status: number; retryAfter?: string; fault: string; notJson?: boolean }
  | { action: 'drop'; fault: string }
  | { action: 'dropMidBody'; fault: string }
  | { action: 'malformed'; variant: number; fault: string }
  | { action: 'objectInsteadOfArray'; fault: string }
  | { action: 'body'; body: string; fault: string };

export interface RateLimitVerdict {
  allowed: boolean;
  retryAfterSeconds: number;
  headers: Record<string, string>;
}

interface PendingFailure {
  remaining: number;
  action: FailAction;
  kind: RequestKind | 'any';
}

const PROBABILITY_FIELDS = [
  'status429',
  'status5xx',
  'dropBeforeResponse',
  'dropMidBody',
  'malformedBody',
  'objectInsteadOfArray',
  'slowRatio',
] as const;

/** Throws a RangeError naming the first bad field: a misspelt fault would otherwise silently test nothing. */
export function validateFaults(faults: Partial<MockFaults>): void {
  for (const field of PROBABILITY_FIELDS) {
    const p = faults[field];
    if (p !== undefined && !(typeof p === 'number' && p >= 0 && p <= 1)) {
      throw new RangeError(`fault ${field} must be a probability in [0, 1], got ${String(p)}`);
    }
  }
  for (const field of ['latencyMs', 'jitterMs', 'slowMs'] as const) {
    const v = faults[field];
    if (v !== undefined && !(typeof v === 'number' && Number.isFinite(v) && v >= 0)) {
      throw new RangeError(`fault ${field} must be a non-negative number of milliseconds, got ${String(v)}`);
    }
  }
  const ra = faults.retryAfter;
  if (ra !== undefined && ra !== 'absent' && ra !== 'garbage' && !(typeof ra === 'number' && ra >= 0)) {
    throw new RangeError(`fault retryAfter must be seconds, 'absent' or 'garbage', got ${String(ra)}`);
  }
  const rl = faults.perKeyRateLimit;
  if (rl !== undefined && !(rl.requestsPerSecond > 0 && (rl.burst === undefined || rl.burst >= 1))) {
    throw new RangeError('fault perKeyRateLimit needs requestsPerSecond > 0 and burst >= 1');
  }
  const fw = faults.fixedWindow;
  if (fw !== undefined && !(Number.isInteger(fw.requests) && fw.requests >= 1 && fw.seconds > 0 && Number.isFinite(fw.seconds))) {
    throw new RangeError(`fault fixedWindow needs an integer requests >= 1 and seconds > 0, got ${fw.requests}/${fw.seconds}`);
  }
  const big = faults.oversize;
  if (big !== undefined && !(Number.isSafeInteger(big.bytes) && big.bytes > 0)) {
    throw new RangeError(`fault oversize.bytes must be a positive whole number of bytes, got ${String(big.bytes)}`);
  }
  for (const kind of faults.kinds ?? []) {
    if (kind !== 'list' && kind !== 'detail') throw new RangeError(`fault kinds accepts 'list' and 'detail', got ${String(kind)}`);
  }
}

function retryAfterHeader(setting: MockFaults['retryAfter']): string | undefined {
  if (setting === 'absent') return undefined;
  if (setting === 'garbage') return 'soon-ish';
  return String(setting ?? 1);
}

function actionDecision(action: FailAction, fault: string, faults: MockFaults): FaultDecision {
  if (typeof action === 'object') return { action: 'body', body: action.body, fault };
  switch (action) {
    case 'drop':
      return { action: 'drop', fault };
    case 'dropMidBody':
      return { action: 'dropMidBody', fault };
    case 'malformed':
      return { action: 'malformed', variant: 0, fault };
    default: {
      const retryAfter = action === 429 ? retryAfterHeader(faults.retryAfter) : undefined;
      return retryAfter === undefined ? { action: 'status', status: action, fault } : { action: 'status', status: action, retryAfter, fault };
    }
  }
}

export class FaultInjector {
  #faults: MockFaults;
  readonly #rng: Rng;
  readonly #monotonicMs: () => number;
  readonly #wallMs: () => number;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();
  /** Every fixed window so far, oldest first; the last one of a key is its current one. */
  readonly #windows: FixedWindowRecord[] = [];
  readonly #currentWindow = new Map<string, FixedWindowRecord>();
  readonly #pending: PendingFailure[] = [];

  constructor(seed: number, faults: MockFaults, monotonicMs: () => number, wallMs: () => number = () => Date.now()) {
    validateFaults(faults);
    this.#faults = { ...faults };
    this.#rng = createRng(seed ^ 0x5fa17ed);
    this.#monotonicMs = monotonicMs;
    this.#wallMs = wallMs;
  }

  /** The fixed windows so far (copies), oldest first. */
  fixedWindows(): FixedWindowRecord[] {
    return this.#windows.map((w) => ({ ...w }));
  }

  get faults(): Readonly<MockFaults> {
    return this.#faults;
  }

  /** Merges into the current faults; a field set to undefined is switched off. */
  set(partial: Partial<MockFaults>): void {
    validateFaults(partial);
    const next: MockFaults = { ...this.#faults, ...partial };
    for (const [k, v] of Object.entries(next)) if (v === undefined) delete (next as Record<string, unknown>)[k];
    if ('perKeyRateLimit' in partial) this.#buckets.clear();
    if ('fixedWindow' in partial) this.#currentWindow.clear();
    this.#faults = next;
  }

  failNext(count: number, action: FailAction, kind: RequestKind | 'any'): void {
    if (!(Number.isInteger(count) && count >= 0)) throw new RangeError(`failNext count must be a non-negative integer, got ${count}`);
    if (typeof action === 'number' && !(Number.isInteger(action) && action >= 100 && action <= 599)) {
      throw new RangeError(`failNext status must be an HTTP status, got ${action}`);
    }
    if (count > 0) this.#pending.push({ remaining: count, action, kind });
  }

  #applies(kind: RequestKind): boolean {
    const kinds = this.#faults.kinds;
    return kinds === undefined || kinds.includes(kind);
  }

  /** Spends a token of the key's bucket; refusals do not spend. */
  rateLimit(key: string): RateLimitVerdict | undefined {
    const limit = this.#faults.perKeyRateLimit;
    if (!limit) return undefined;
    const burst = limit.burst ?? Math.max(1, limit.requestsPerSecond);
    const now = this.#monotonicMs();
    const bucket = this.#buckets.get(key) ?? { tokens: burst, at: now };
    bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * limit.requestsPerSecond);
    bucket.at = now;
    this.#buckets.set(key, bucket);
    const allowed = bucket.tokens >= 1;
    if (allowed) bucket.tokens -= 1;
    const retryAfterSeconds = allowed ? 0 : Math.max(1, Math.ceil((1 - bucket.tokens) / limit.requestsPerSecond));
    const headers: Record<string, string> = {};
    if (this.#faults.rateLimitHeaders) {
      headers['x-ratelimit-limit'] = String(burst);
      headers['x-ratelimit-remaining'] = String(Math.floor(bucket.tokens));
      // Seconds until the bucket is full again (delta, as in the IETF RateLimit draft).
      headers['x-ratelimit-reset'] = String(Math.ceil((burst - bucket.tokens) / limit.requestsPerSecond));
    }
    return { allowed, retryAfterSeconds, headers };
  }

  /**
   * Counts a request in the key's fixed window, opening a new window when
   * there is none or it has ended; refusals count too (as `rejected`), but
   * do not use up the window. Retry-After is whole seconds to the window's
   * end, at least 1; X-RateLimit-Reset the Unix second it ends, rounded up.
   */
  fixedWindow(key: string): RateLimitVerdict | undefined {
    const limit = this.#faults.fixedWindow;
    if (!limit) return undefined;
    const now = this.#monotonicMs();
    let w = this.#currentWindow.get(key);
    if (w === undefined || now >= w.endAt) {
      const lengthMs = limit.seconds * 1000;
      w = { key, startAt: now, endAt: now + lengthMs, resetUnix: Math.ceil((this.#wallMs() + lengthMs) / 1000), admitted: 0, rejected: 0 };
      this.#currentWindow.set(key, w);
      this.#windows.push(w);
    }
    const headers: Record<string, string> = { 'x-ratelimit-limit': String(limit.requests) };
    if (w.admitted < limit.requests) {
      w.admitted++;
      headers['x-ratelimit-remaining'] = String(limit.requests - w.admitted);
      return { allowed: true, retryAfterSeconds: 0, headers };
    }
    w.rejected++;
    const retryAfterSeconds = Math.max(1, Math.ceil((w.endAt - now) / 1000));
    headers['x-ratelimit-remaining'] = '0';
    headers['x-ratelimit-reset'] = String(w.resetUnix);
    return { allowed: false, retryAfterSeconds, headers };
  }

  /** Explicit failures first (failNext, then failPaths), then the probabilistic ones. */
  decide(request: FaultRequestInfo): { decision: FaultDecision; delayMs: number } {
    // Fixed draws per request whatever is enabled: keeps outcomes stable when faults change.
    const draws = Array.from({ length: 9 }, () => this.#rng());
    const d = (k: number): number => draws[k] as number;
    const f = this.#faults;
    const applies = this.#applies(request.kind);
    let delayMs = 0;
    if (applies) {
      delayMs += (f.latencyMs ?? 0) + (f.jitterMs ?? 0) * d(0);
      if (f.slowMs && d(1) < (f.slowRatio ?? 1)) delayMs += f.slowMs;
    }

    const pending = this.#pending.find((p) => p.kind === 'any' || p.kind === request.kind);
    if (pending) {
      pending.remaining--;
      if (pending.remaining <= 0) this.#pending.splice(this.#pending.indexOf(pending), 1);
      return { decision: actionDecision(pending.action, 'failNext', f), delayMs };
    }
    const hooked = f.failPaths?.(request);
    if (hooked !== undefined) return { decision: actionDecision(hooked, 'failPaths', f), delayMs };
    if (!applies) return { decision: { action: 'none' }, delayMs };

    if (d(2) < (f.dropBeforeResponse ?? 0)) return { decision: { action: 'drop', fault: 'dropBeforeResponse' }, delayMs };
    if (d(3) < (f.status429 ?? 0)) {
      const retryAfter = retryAfterHeader(f.retryAfter);
      const decision: FaultDecision =
        retryAfter === undefined
          ? { action: 'status', status: 429, fault: 'status429' }
          : { action: 'status', status: 429, retryAfter, fault: 'status429' };
      return { decision, delayMs };
    }
    if (d(4) < (f.status5xx ?? 0)) {
      const v = Math.floor(d(8) * 8);
      const status = [500, 502, 503, 504][v % 4] ?? 500;
      // Error bodies are sometimes not JSON at all, a proxy's HTML page (docs/api.md, "Errors").
      return { decision: { action: 'status', status, fault: 'status5xx', notJson: v >= 4 }, delayMs };
    }
    if (d(5) < (f.dropMidBody ?? 0)) return { decision: { action: 'dropMidBody', fault: 'dropMidBody' }, delayMs };
    if (d(6) < (f.malformedBody ?? 0)) {
      return { decision: { action: 'malformed', variant: Math.floor(d(8) * 3), fault: 'malformedBody' }, delayMs };
    }
    if (request.kind === 'list' && d(7) < (f.objectInsteadOfArray ?? 0)) {
      return { decision: { action: 'objectInsteadOfArray', fault: 'objectInsteadOfArray' }, delayMs };
    }
    return { decision: { action: 'none' }, delayMs };
  }
}
