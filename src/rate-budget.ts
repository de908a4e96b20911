// One request budget per API key, kept in the main thread for all the
// sections (worker threads) that share the key: the service limits requests
// per key across domains (API.md), so one section's 429 must slow them all.
//
// The scheme is additive increase, multiplicative decrease on the send rate:
// - until the first 429 (and without `rate_limit`) requests pass unthrottled;
// - a 429 pauses every grant until its Retry-After has passed and cuts the
//   rate to a fraction of what was actually being sent;
// - each success raises the rate a little, so the budget finds the quota;
// - `X-RateLimit-Remaining`/`-Reset` (or `RateLimit-Remaining`/`-Reset`),
//   when present, spread the remaining requests over the time to the reset
//   before a 429 happens;
// - `rate_limit` is a hard ceiling that is never exceeded.

import type { RateOutcome } from './worker-protocol.js';

export interface RateBudgetOptions {
  /** Requests per second never to exceed; 0 = no ceiling. */
  ceiling: number;
  now?: () => number; // ms
  /** Multiplicative decrease factor applied to the measured rate on a 429. */
  decrease?: number;
  /** Additive increase, requests/s gained per second of successful requests. */
  increasePerSecond?: number;
}

interface Waiter {
  grant: () => void;
}

const MIN_RATE = 0.5;

export class RateBudget {
  private rate: number; // requests/s; Infinity = unthrottled
  private readonly ceiling: number;
  private readonly now: () => number;
  private readonly decrease: number;
  private readonly increasePerSecond: number;
  private readonly queue: Waiter[] = [];
  private nextSlot = 0; // ms: earliest time the next grant may go out
  private pausedUntil = 0; // ms
  private timer: NodeJS.Timeout | undefined;
  private lastCut = 0;
  private readonly recentGrants: number[] = [];
  private closed = false;
  readonly stats = { granted: 0, throttled429: 0, cuts: 0 };

  constructor(opts: RateBudgetOptions) {
    this.ceiling = opts.ceiling > 0 ? opts.ceiling : Infinity;
    this.rate = this.ceiling;
    this.now = opts.now ?? (() => performance.now());
    this.decrease = opts.decrease ?? 0.8;
    this.increasePerSecond = opts.increasePerSecond ?? 0.5;
  }

  /** Current allowed rate in requests per second (Infinity when unthrottled). */
  get currentRate(): number {
    return this.rate;
  }

  acquire(grant: () => void): void {
    if (this.closed) return grant();
    this.queue.push({ grant });
    this.pump();
  }

  observe(outcome: RateOutcome): void {
    const now = this.now();
    if (outcome.status === 429) {
      this.stats.throttled429++;
      const waitS = outcome.retryAfterSeconds;
      if (waitS !== undefined && waitS > 0) this.pausedUntil = Math.max(this.pausedUntil, now + waitS * 1000);
      // Many in-flight requests answer 429 together; cut once per burst.
      if (now - this.lastCut > 1000) {
        this.lastCut = now;
        this.stats.cuts++;
        const measured = this.measuredRate(now);
        const base = Number.isFinite(this.rate) ? Math.min(this.rate, measured || this.rate) : measured;
        this.rate = Math.min(this.ceiling, Math.max(MIN_RATE, (base || 1) * this.decrease));
      }
    } else if (outcome.status !== null && outcome.status < 400 && Number.isFinite(this.rate) && this.rate < this.ceiling) {
      // Additive increase, spread over the requests of one second.
      this.rate = Math.min(this.ceiling, this.rate + this.increasePerSecond / Math.max(1, this.rate));
    }
    this.applyHeaders(outcome.headers, now);
    this.pump();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (const w of this.queue.splice(0)) w.grant();
  }

  private applyHeaders(headers: RateOutcome['headers'], now: number): void {
    const remaining = num(headers['x-ratelimit-remaining'] ?? headers['ratelimit-remaining']);
    const reset = num(headers['x-ratelimit-reset'] ?? headers['ratelimit-reset']);
    if (remaining === undefined || reset === undefined) return;
    // Reset may be seconds-until or an epoch timestamp; epoch values are large.
    const resetInS = reset > 1e9 ? reset - Date.now() / 1000 : reset;
    if (resetInS <= 0) return;
    if (remaining <= 0) {
      this.pausedUntil = Math.max(this.pausedUntil, now + resetInS * 1000);
      return;
    }
    const spread = remaining / resetInS;
    if (spread < this.rate) this.rate = Math.max(MIN_RATE, Math.min(this.ceiling, spread));
  }

  private measuredRate(now: number): number {
    while (this.recentGrants.length && (this.recentGrants[0] ?? 0) < now - 1000) this.recentGrants.shift();
    return this.recentGrants.length;
  }

  private pump(): void {
    if (this.timer || this.closed) return;
    while (this.queue.length) {
      const now = this.now();
      const earliest = Math.max(this.pausedUntil, Number.isFinite(this.rate) ? this.nextSlot : 0);
      if (earliest > now) {
        this.timer = setTimeout(() => {
          this.timer = undefined;
          this.pump();
        }, Math.ceil(earliest - now));
        return;
      }
      const w = this.queue.shift();
      if (!w) return;
      // Strictly one grant per interval: a ceiling holds over any stretch of time.
      this.nextSlot = Number.isFinite(this.rate) ? Math.max(this.nextSlot, now) + 1000 / this.rate : now;
      this.recentGrants.push(now);
      if (this.recentGrants.length > 10_000) this.recentGrants.splice(0, 5_000);
      this.stats.granted++;
      w.grant();
    }
  }
}

function num(v: string | string[] | undefined): number | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  if (s === undefined) return undefined;
  const n = Number(s);
  return Number.isFinite(n) ? n : undefined;
}
