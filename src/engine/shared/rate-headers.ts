// The rate-limit headers a service may send with any answer (docs/api.md,
// "Rate limits"): the worker keeps only these to post across threads, and the
// main thread's budget reads them to pace before any 429.

import type { ResponseHeaders } from './rate-outcome.js';

export interface RateLimitInfo {
  remaining: number;
  /** Seconds until the quota resets (or refills). */
  resetSeconds: number;
}

/**
 * Reads `X-RateLimit-Remaining`/`-Reset`, `RateLimit-Remaining`/`-Reset`, or
 * the combined `RateLimit` field (`remaining=5, reset=3` or `"q";r=5;t=3`).
 * A reset above 10^9 is a Unix time; smaller ones are seconds from now.
 */
export function rateLimitInfo(headers: ResponseHeaders, wallNowMs: number): RateLimitInfo | undefined {
  let remaining = num(headers['x-ratelimit-remaining'] ?? headers['ratelimit-remaining']);
  let reset = num(headers['x-ratelimit-reset'] ?? headers['ratelimit-reset']);
  const combined = first(headers['ratelimit']);
  if ((remaining === undefined || reset === undefined) && combined !== undefined) {
    remaining ??= num(/(?:^|[\s,;])(?:remaining|r)=(\d+(?:\.\d+)?)/.exec(combined)?.[1]);
    reset ??= num(/(?:^|[\s,;])(?:reset|t)=(\d+(?:\.\d+)?)/.exec(combined)?.[1]);
  }
  if (remaining === undefined || reset === undefined || remaining < 0 || reset < 0) return undefined;
  const resetSeconds = reset > 1e9 ? reset - wallNowMs / 1000 : reset;
  return { remaining, resetSeconds };
}

/**
 * `X-RateLimit-Remaining` (or `RateLimit-Remaining`, or `remaining=`/`r=` of
 * the combined field) alone: Laravel's throttle sends it on every answer but
 * the reset only on a 429.
 */
export function rateLimitRemaining(headers: ResponseHeaders): number | undefined {
  const remaining =
    num(headers['x-ratelimit-remaining'] ?? headers['ratelimit-remaining']) ??
    num(/(?:^|[\s,;])(?:remaining|r)=(\d+(?:\.\d+)?)/.exec(first(headers['ratelimit']) ?? '')?.[1]);
  return remaining !== undefined && remaining >= 0 ? remaining : undefined;
}

/** Only the headers the budget reads, so a worker posts little across threads. */
export function rateLimitHeaders(headers: ResponseHeaders): ResponseHeaders | undefined {
  let out: ResponseHeaders | undefined;
  for (const [k, v] of Object.entries(headers)) {
    if (k === 'ratelimit' || k.startsWith('x-ratelimit-') || k.startsWith('ratelimit-')) (out ??= {})[k] = v;
  }
  return out;
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function num(v: string | string[] | undefined): number | undefined {
  const s = first(v);
  if (s === undefined || s.trim() === '') return undefined;
  const n = Number(s);
  return Number.isFinite(n) ? n : undefined;
}
