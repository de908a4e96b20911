// A simulated service with a per-key token bucket (as the mock's
// perKeyRateLimit) and clients that behave as the API client does: ask the
// budget, send, and on a 429 wait its Retry-After before asking again. Runs
// in virtual time, so a minute of traffic takes milliseconds.

import { RateBudget, type RateBudgetOptions } from '../../src/engine/main/rate-budget.js';
import type { RateOutcome } from '../../src/engine/shared/rate-outcome.js';
import { VirtualTime } from './virtual-time.js';

export interface SimulationOptions {
  /** Bucket refill, requests per second. */
  quota: number;
  /** Bucket size; default max(1, quota) as the mock's. */
  burst?: number;
  /** Concurrent request loops (sections × requests in flight). */
  clients: number;
  latencyMs: number;
  seconds: number;
  /** Send X-RateLimit-* headers as the mock's rateLimitHeaders. */
  headers?: boolean;
  budget?: Partial<RateBudgetOptions>;
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
  const budget = new RateBudget({ ceiling: 0, now: time.now, wallNow: () => 1_700_000_000_000 + time.now(), timers: time.timers, ...o.budget });
  const end = o.seconds * 1000;
  let admitted = 0;
  let rejected = 0;
  const arrivals: number[] = [];

  const serve = (): RateOutcome & { status: number } => {
    const now = time.now();
    bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * o.quota);
    bucket.at = now;
    const allowed = bucket.tokens >= 1;
    if (allowed) bucket.tokens -= 1;
    const headers: Record<string, string> = {};
    if (o.headers) {
      headers['x-ratelimit-limit'] = String(burst);
      headers['x-ratelimit-remaining'] = String(Math.floor(bucket.tokens));
      headers['x-ratelimit-reset'] = String(Math.ceil((burst - bucket.tokens) / o.quota));
    }
    if (allowed) return { status: 200, headers };
    return { status: 429, headers, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / o.quota)) };
  };

  const loop = (): void => {
    if (time.now() >= end) return;
    budget.acquire(() => {
      if (time.now() >= end) return;
      time.at(time.now() + o.latencyMs / 2, () => {
        arrivals.push(time.now());
        const answer = serve();
        if (answer.status === 429) rejected++;
        else admitted++;
        time.at(time.now() + o.latencyMs / 2, () => {
          budget.observe(answer);
          if (answer.status === 429) time.at(time.now() + (answer.retryAfterSeconds ?? 1) * 1000, loop);
          else loop();
        });
      });
    });
  };
  for (let i = 0; i < o.clients; i++) loop();
  time.runUntil(end);
  budget.close();
  return { admitted, rejected, admittedPerSecond: admitted / o.seconds, share429: rejected / Math.max(1, admitted + rejected), arrivals, budget };
}
