// How long the API client waits before trying a request again. Pure functions:
// the client passes in the clock and the header, tests pass fixed values.
//
// Two budgets, kept apart on purpose (docs/decisions.md, "A separate budget for 429s"):
// - transient failures (5xx, resets, timeouts, malformed 200 bodies) use the
//   section's list_retries / detail_retries and back off base × 2^(n−1),
//   capped at 60 s;
// - 429 answers use their own budget of RATE_LIMIT_RETRIES, so a key shared by
//   many sections that is briefly throttled does not eat the retries meant for
//   a flaky network (and detail_retries = 0 still survives one 429), while a
//   sustained 429 still ends: after RATE_LIMIT_RETRIES + 1 answers of 429 the
//   request fails with the last one.

/** Longest backoff between two attempts, in seconds (docs/api.md, "Errors": capped at 60 s). */
export const MAX_BACKOFF_SECONDS = 60;

/** 429 answers tolerated per logical request, on top of the transient retry budget. */
export const RATE_LIMIT_RETRIES = 10;

/**
 * A Retry-After longer than this is not waited out: holding a section (and its
 * lock) for longer than 10 minutes is worse than failing the window, which the
 * next run fetches again. Retrying earlier than asked would be rude to the service.
 */
export const MAX_RETRY_AFTER_SECONDS = 600;

/**
 * Milliseconds to wait before retry number `retry` (1 = first retry):
 * base × 2^(retry−1) seconds, capped at MAX_BACKOFF_SECONDS.
 */
export function backoffMs(retry: number, baseSeconds: number, capSeconds: number = MAX_BACKOFF_SECONDS): number {
  if (!(baseSeconds > 0) || retry < 1) return 0;
  // Exponent clamped so a long retry budget cannot overflow to Infinity before the cap applies.
  const seconds = baseSeconds * 2 ** Math.min(retry - 1, 30);
  return Math.round(Math.min(seconds, capSeconds) * 1000);
}

export type RetryAfter =
  | { kind: 'absent' }
  | { kind: 'unparsable'; raw: string }
  | { kind: 'seconds'; seconds: number };

/**
 * Reads a Retry-After header: delay-seconds, or an HTTP-date (RFC 9110 §10.2.3)
 * turned into seconds from `nowMs` (a date in the past means 0). A repeated
 * header uses its first value.
 */
export function parseRetryAfter(value: string | string[] | undefined, nowMs: number): RetryAfter {
  const first = Array.isArray(value) ? value[0] : value;
  if (first === undefined) return { kind: 'absent' };
  const raw = first.trim();
  if (raw === '') return { kind: 'unparsable', raw: first };
  // Fractions are not in the RFC but cost nothing to honour.
  if (/^\d+(\.\d+)?$/.test(raw)) return { kind: 'seconds', seconds: Number(raw) };
  // Only a date-looking value goes to Date.parse, which accepts odd inputs such as "1".
  if (/[A-Za-z]{3}/.test(raw)) {
    const at = Date.parse(raw);
    if (!Number.isNaN(at)) return { kind: 'seconds', seconds: Math.max(0, Math.ceil((at - nowMs) / 1000)) };
  }
  return { kind: 'unparsable', raw: first };
}

export type RateLimitDecision =
  | { retry: true; waitMs: number; reason: 'retry-after' | 'retry-after-unparsable' | 'backoff' }
  | { retry: false; reason: 'budget-spent' | 'retry-after-too-long'; retryAfterSeconds?: number };

/**
 * What to do after the `retry`-th 429 of one logical request (1 = the first).
 * Without a Retry-After, or with one that is neither seconds nor an HTTP date,
 * backs off exponentially from `baseSeconds` (at least 1 s, so a section
 * configured with sleep 0 does not hammer a throttled key): a garbage value
 * says nothing about how long, and a fixed long wait would stall the request
 * for a 429 that may have been isolated (docs/api.md, "Rate limits").
 */
export function rateLimitDecision(
  retry: number,
  retryAfter: RetryAfter,
  baseSeconds: number,
  budget: number = RATE_LIMIT_RETRIES,
): RateLimitDecision {
  if (retry > budget) return { retry: false, reason: 'budget-spent' };
  switch (retryAfter.kind) {
    case 'seconds':
      if (retryAfter.seconds > MAX_RETRY_AFTER_SECONDS) {
        return { retry: false, reason: 'retry-after-too-long', retryAfterSeconds: retryAfter.seconds };
      }
      return { retry: true, waitMs: Math.round(retryAfter.seconds * 1000), reason: 'retry-after' };
    case 'unparsable':
      return { retry: true, waitMs: backoffMs(retry, Math.max(baseSeconds, 1)), reason: 'retry-after-unparsable' };
    case 'absent':
      return { retry: true, waitMs: backoffMs(retry, Math.max(baseSeconds, 1)), reason: 'backoff' };
    default: {
      const never: never = retryAfter;
      throw new Error(`unknown Retry-After kind: ${JSON.stringify(never)}`);
    }
  }
}

/**
 * Wait before the `retry`-th transient retry, or null when the budget of
 * `retries` is spent (so `retries` = 2 allows 3 attempts in all).
 */
export function transientRetryWaitMs(retry: number, retries: number, baseSeconds: number): number | null {
  if (retry > retries) return null;
  return backoffMs(retry, baseSeconds);
}
