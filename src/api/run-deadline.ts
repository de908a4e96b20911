// max_run_time: the point after which a failing request is not retried
// again (docs/decisions.md, "A run deadline stops retries, not work"). A run
// started by cron must end before the next tick, or every tick after it skips
// on the lock while the API is down; a request that keeps failing is what
// holds a run that long (backoff 2, 4 … 60 s over ten retries is ~6 minutes).
//
// Pure: the client passes its wall clock in, tests pass fixed values.

import { RunDeadlineError, type UzpError } from '../common/errors.js';

export interface RunDeadline {
  /** Wall-clock epoch milliseconds (Date.now()) at which retries stop. */
  atMs: number;
  /** The configured max_run_time, in seconds, for the message. */
  maxRunTime: number;
}

/**
 * Null when a retry that would start after `waitMs` still begins before the
 * deadline; otherwise the error that ends the request: it says since when the
 * API has failed (the first failed attempt of this request), how many
 * attempts were made and what the last one got.
 */
export function deadlineStop(
  deadline: RunDeadline | undefined,
  nowMs: number,
  waitMs: number,
  failingSinceMs: number,
  attempts: number,
  last: UzpError,
): RunDeadlineError | null {
  if (!deadline || nowMs + waitMs < deadline.atMs) return null;
  const section = last.context.section ?? '?';
  return new RunDeadlineError(
    `section ${section}: the API was unreachable since ${new Date(failingSinceMs).toISOString()} ` +
      `(${attempts} failed ${attempts === 1 ? 'attempt' : 'attempts'}); max_run_time (${deadline.maxRunTime} s) ` +
      `ends the run at ${new Date(deadline.atMs).toISOString()}, before the next retry, so no more retries; ` +
      `last error: ${last.message}`,
    {
      ...last.context,
      failingSince: new Date(failingSinceMs).toISOString(),
      deadline: new Date(deadline.atMs).toISOString(),
      maxRunTime: deadline.maxRunTime,
      attempts,
      lastCode: last.code,
    },
    { cause: last },
  );
}
