// A simulated service with a per-key token bucket (as the mock's
// perKeyRateLimit), or a fixed window (as its fixedWindow), or none, plus
// random 429s (as its status429), and clients that behave as the API client does: ask the
// budget, send, and on a 429 wait its Retry-After before asking again. Runs
// in virtual time, so a minute of traffic takes milliseconds.

import { RateBudget, type RateBudgetOptions } from '../../src/engine/main/rate-budget.js';
import type { RateOutcome } from '../../src/engine/shared/rate-outcome.js';
import { VirtualTime } from './virtual-time.js';

export interface SimulationOptions {
  /** Bucket refill, requests per second; 0 = no bucket. */
  quota: number;
  /** From `ms` on the bucket refills at `quota` instead (another client of the key took a share of it). */
  quotaAfter?: { ms: number; quota: number };
  /** Bucket size; default max(1, quota) as the mock's. */
  burst?: number;
  /** Concurrent request loops (sections × requests in flight). */
  clients: number;
  latencyMs: number;
  seconds: number;
  /** Send X-RateLimit-* headers as the mock's rateLimitHeaders. */
  headers?: boolean;
  /** Laravel-style fixed window instead of the bucket: X-RateLimit-Remaining on every answer, the reset on 429s. */
  fixedWindow?: { requests: number; seconds: number };
  /** Share of requests answered 429 with Retry-After: 1 whatever the rate, drawn from a fixed-seed generator. */
  random429?: number;
  budget?: Partial<RateBudgetOptions>;
  /**
   * The budget hears of each answer this late (a main thread busy with other
   * messages): until then requests of a free key go on without it knowing.
   */
  observeLagMs?: number;
  /**
   * Clients belong to this many workers (client i to worker i mod workers);
   * with `hold`, a worker whose request was answered 429 sends nothing more
   * until the budget has heard of that 429 (rate-gate-port.ts, issue 8c).
   */
  workers?: number;
  hold?: boolean;
  /**
   * A request answered 429 waits its Retry-After apart and its client goes
   * on at once with the next request, as a detail gives its slot up while it
   * waits (limiter.ts): the requests in flight do not drop as 429s come.
   */
  freesSlot?: boolean;
}

export interface SimulationResult {
  admitted: number;
  rejected: number;
  /** Admitted requests per second over the whole run. */
  admittedPerSecond: number;
  share429: number;
  /** Virtual ms at which each request reached the service. */
  arrivals: number[];
  budget: RateBudget;
}

export function simulate(o: SimulationOptions): SimulationResult {
  const time = new VirtualTime();
  const burst = o.burst ?? Math.max(1, o.quota);
  const bucket = { tokens: burst, at: 0 };
  const wall = (): number => 1_700_000_000_000 + time.now();
  const budget = new RateBudget({ ceiling: 0, now: time.now, wallNow: wall, timers: time.timers, ...o.budget });
  let window: { start: number; count: number } | undefined;
  // A fixed-seed generator (mulberry32): the same run every time.
  let seed = 0x9e3779b9;
  const random = (): number => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const end = o.seconds * 1000;
  let admitted = 0;
  let rejected = 0;
  const arrivals: number[] = [];

  const serve = (): RateOutcome & { status: number } => {
    const now = time.now();
    const unlucky = random() < (o.random429 ?? 0);
    if (o.fixedWindow) {
      const { requests, seconds } = o.fixedWindow;
      if (!window || now >= window.start + seconds * 1000) window = { start: now, count: 0 };
      const headers: Record<string, string> = { 'x-ratelimit-limit': String(requests) };
      if (window.count >= requests) {
        const retryAfterSeconds = Math.max(1, Math.ceil((window.start + seconds * 1000 - now) / 1000));
        headers['x-ratelimit-remaining'] = '0';
        headers['x-ratelimit-reset'] = String(Math.ceil((wall() + retryAfterSeconds * 1000) / 1000));
        return { status: 429, headers, retryAfterSeconds };
      }
      window.count++;
      headers['x-ratelimit-remaining'] = String(requests - window.count);
      return unlucky ? { status: 429, headers, retryAfterSeconds: 1 } : { status: 200, headers };
    }
    if (!(o.quota > 0)) return unlucky ? { status: 429, headers: {}, retryAfterSeconds: 1 } : { status: 200, headers: {} };
    const refill = o.quotaAfter && now >= o.quotaAfter.ms ? o.quotaAfter.quota : o.quota;
    bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * refill);
    bucket.at = now;
    const allowed = bucket.tokens >= 1;
    if (allowed) bucket.tokens -= 1;
    const headers: Record<string, string> = {};
    if (o.headers) {
      headers['x-ratelimit-limit'] = String(burst);
      headers['x-ratelimit-remaining'] = String(Math.floor(bucket.tokens));
      headers['x-ratelimit-reset'] = String(Math.ceil((burst - bucket.tokens) / o.quota));
    }
    if (allowed) return unlucky ? { status: 429, headers, retryAfterSeconds: 1 } : { status: 200, headers };
    return { status: 429, headers, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / refill)) };
  };

  const lag = o.observeLagMs ?? 0;
  const workers = Array.from({ length: Math.max(1, o.workers ?? o.clients) }, () => ({ unheard: 0, waiting: [] as (() => void)[] }));
  const hear = (answer: RateOutcome, worker: (typeof workers)[number]): void => {
    const observe = (): void => {
      budget.observe(answer);
      if (answer.status !== 429 || !o.hold) return;
      worker.unheard--;
      if (worker.unheard === 0) for (const go of worker.waiting.splice(0)) go();
    };
    if (answer.status === 429 && o.hold) worker.unheard++;
    if (lag > 0) time.at(time.now() + lag, observe);
    else observe();
  };

  /** One request of `client` (and its retries after 429s); `then` when it was admitted, or its slot given up. */
  const request = (client: number, then: () => void): void => {
    if (time.now() >= end) return;
    const worker = workers[client % workers.length]!;
    if (worker.unheard > 0) {
      worker.waiting.push(() => request(client, then));
      return;
    }
    budget.acquire(() => {
      if (time.now() >= end) return;
      time.at(time.now() + o.latencyMs / 2, () => {
        arrivals.push(time.now());
        const answer = serve();
        if (answer.status === 429) rejected++;
        else admitted++;
        time.at(time.now() + o.latencyMs / 2, () => {
          hear(answer, worker);
          if (answer.status !== 429) return then();
          const retry = (): void => request(client, o.freesSlot ? () => undefined : then);
          time.at(time.now() + (answer.retryAfterSeconds ?? 1) * 1000, retry);
          if (o.freesSlot) then();
        });
      });
    });
  };
  const loop = (client: number): void => request(client, () => loop(client));
  for (let i = 0; i < o.clients; i++) loop(i);
  time.runUntil(end);
  budget.close();
  return { admitted, rejected, admittedPerSecond: admitted / o.seconds, share429: rejected / Math.max(1, admitted + rejected), arrivals, budget };
}
