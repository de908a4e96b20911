// How one request attempt went, as far as the key's rate budget cares. The
// worker's API client reports it (src/engine/worker/rate-gate-port.ts) and the
// main thread's budget consumes it (src/engine/main/rate-budget.ts): one type
// for both ends, so what is sent and what is read cannot drift apart
// (docs/architecture.md, "Rate budget").

/** Response headers as undici gives them: lower-case names, a repeated header as an array. */
export type ResponseHeaders = Record<string, string | string[] | undefined>;

export interface RateOutcome {
  /** null when no complete response arrived (network error, timeout, abort). */
  status: number | null;
  /** The Retry-After, when it was given in a form read as seconds. */
  retryAfterSeconds?: number;
  /** Across threads only the rate-limit ones (rateLimitHeaders in rate-headers.ts). */
  headers: ResponseHeaders;
}

/**
 * Workers count plain answers and post them ('rate-admitted') at least this
 * often; the budget waits this long (and a little more) after a 429 before
 * estimating the quota, so that every worker's admissions up to it are in.
 */
export const ADMITTED_FLUSH_MS = 100;
