// One request budget per API key, kept in the main thread for all the
// sections (worker threads) that share the key: the service limits requests
// per key across domains (docs/api.md, "Rate limits"), so one section's 429
// must slow them all (docs/architecture.md, "Rate budget").
//
// The scheme (issue 4) estimates the key's quota and paces just below it. Two
// halves, each with its part of the scheme explained where it is done:
// - quota-estimator.ts: what the service allows: which 429s are the quota's
//   and which are isolated (with throttle-evidence.ts; issue 8), pauses
//   after a quota 429 or an exhausted rate-limit header, caps from rate-limit
//   headers, grants counted against a remaining count without a reset
//   (remaining-meter.ts), the quota estimated between 429s and the rate that
//   recovers and probes beyond it;
// - grant-queue.ts: who sends next: the queue, grants spaced at that rate,
//   and the `rate_limit` ceiling, which holds in every second.
// Until the first quota 429 (and without `rate_limit` or rate-limit headers)
// the budget is "free": workers are told so and skip the grant round trip;
// an isolated 429 leaves it free (docs/decisions.md, "Isolated 429s and quota 429s").
// This class only joins the two and gives the coordinator one object.

import type { RateOutcome } from '../shared/rate-outcome.js';
import { GrantQueue, type BudgetTimers } from './grant-queue.js';
import { QuotaEstimator } from './quota-estimator.js';

export interface RateBudgetOptions {
  /** Requests per second never to exceed; 0 = no ceiling. */
  ceiling: number;
  /** Monotonic milliseconds. */
  now?: () => number;
  /** Wall-clock milliseconds, for reset headers given as a Unix time. */
  wallNow?: () => number;
  timers?: BudgetTimers;
  /** Called when the budget becomes free (no pacing at all) or stops being free. */
  onFreeChange?: (free: boolean) => void;
  /** Share of the quota estimate the rate is cut to after a 429. */
  backoff?: number;
  /** Probing growth: the rate reaches estimate × (1 + probe × t³) after t seconds beyond it. */
  probe?: number;
}

export interface RateBudgetSnapshot {
  free: boolean;
  /** Requests per second now allowed; Infinity when unpaced. */
  rate: number;
  /** Latest quota estimate, requests per second; undefined before the first 429. */
  quota: number | undefined;
  pausedForMs: number;
  queued: number;
  granted: number;
  admitted: number;
  rateLimited: number;
  episodes: number;
  /** 429s that only delayed their own request. */
  isolated: number;
}

export class RateBudget {
  private readonly now: () => number;
  private readonly estimator: QuotaEstimator;
  private readonly queue: GrantQueue;

  constructor(opts: RateBudgetOptions) {
    const now = opts.now ?? (() => performance.now());
    const timers = opts.timers ?? { set: (fn, ms) => setTimeout(fn, ms), clear: (h) => clearTimeout(h as NodeJS.Timeout) };
    this.now = now;
    this.estimator = new QuotaEstimator({
      ceiling: opts.ceiling,
      now,
      wallNow: opts.wallNow ?? (() => Date.now()),
      timers,
      // A cut comes CUT_DELAY_MS after its 429, with nothing else to make the queue look again.
      onCut: () => this.queue.refresh(),
      backoff: opts.backoff,
      probe: opts.probe,
    });
    this.queue = new GrantQueue({ pacer: this.estimator, now, timers, onFreeChange: opts.onFreeChange });
  }

  /** Whether requests may go without asking: no ceiling, no pause, no rate known to respect. */
  get free(): boolean {
    return this.queue.free;
  }

  snapshot(): RateBudgetSnapshot {
    const now = this.now();
    const { admitted, rateLimited, episodes, isolated } = this.estimator.counts;
    return {
      free: this.queue.free,
      rate: this.estimator.rateAt(now),
      quota: this.estimator.quota,
      pausedForMs: Math.max(0, this.estimator.pausedUntil - now),
      queued: this.queue.queued,
      granted: this.queue.granted,
      admitted,
      rateLimited,
      episodes,
      isolated,
    };
  }

  /** Trial cuts started while the key was free, and those that found a quota (quota-trial.ts). */
  get trials(): { trials: number; quotas: number } {
    return this.estimator.trials;
  }

  /** Calls `grant` once a request may go (at once when the budget is closed). */
  acquire(grant: () => void): void {
    this.queue.acquire(grant);
  }

  /** Requests that got an answer other than 429, reported in batches by free workers. */
  admitted(count: number): void {
    this.estimator.admitted(count);
    // Answers may let a metered grant go (remaining-meter.ts).
    this.queue.refresh();
  }

  observe(outcome: RateOutcome): void {
    this.estimator.observe(outcome);
    this.queue.refresh();
  }

  close(): void {
    this.estimator.close();
    this.queue.close();
  }
}
