// The small, closed set of errors the collector raises. Match on `code`, never
// on message text. Each message says what failed, for which section and what
// to do; context fields carry the details (with any API key already masked).
//
// Errors cross the worker boundary through serializeError/deserializeError:
// structured clone keeps neither the class nor `code` (docs/architecture.md, "Message protocol").

import { readableStack } from './readable-stack.js';

export type ErrorCode =
  | 'UZP_USAGE'
  | 'UZP_CONFIG_INVALID'
  | 'UZP_API_AUTH'
  | 'UZP_API_HTTP'
  | 'UZP_API_MALFORMED'
  | 'UZP_RESPONSE_TOO_LARGE'
  | 'UZP_NETWORK'
  | 'UZP_LOCK_HELD'
  | 'UZP_LOCK_LOST'
  | 'UZP_STATE_CORRUPT'
  | 'UZP_POSITION_AHEAD'
  | 'UZP_WRITE_FAILED'
  | 'UZP_WINDOW_GIVEN_UP'
  | 'UZP_WORKER_CRASHED'
  | 'UZP_ABORTED'
  | 'UZP_RUN_DEADLINE';

/** How a network failure happened; named as such in the error log (docs/api.md, "Errors"). */
export type NetworkErrorKind = 'dns' | 'refused' | 'tls' | 'timeout' | 'reset' | 'other';

export interface ErrorContext {
  section?: string;
  path?: string;
  status?: number;
  /** Request URL with the API key masked. */
  url?: string;
  option?: string;
  [extra: string]: unknown;
}

export class UzpError extends Error {
  readonly code: ErrorCode;
  readonly context: ErrorContext;

  constructor(code: ErrorCode, message: string, context: ErrorContext = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UzpError';
    this.code = code;
    this.context = context;
  }

  get section(): string | undefined {
    return this.context.section;
  }
}

/** Bad command-line usage: exit code 2. */
export class UsageError extends UzpError {
  constructor(message: string, context: ErrorContext = {}) {
    super('UZP_USAGE', message, context);
    this.name = 'UsageError';
  }
}

export interface ConfigIssue {
  section: string;
  option?: string;
  value?: string;
  /** What is wrong and what is allowed. */
  message: string;
  severity: 'error' | 'warning';
}

/** The config file is unusable; every problem found is listed at once. Exit code 2. */
export class ConfigError extends UzpError {
  readonly issues: ConfigIssue[];

  constructor(message: string, issues: ConfigIssue[], context: ErrorContext = {}) {
    super('UZP_CONFIG_INVALID', message, { ...context, issues });
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

/** 401/403: the key is wrong or not allowed for the domain. Stops the section at once. */
export class ApiAuthError extends UzpError {
  constructor(message: string, context: ErrorContext) {
    super('UZP_API_AUTH', message, context);
    this.name = 'ApiAuthError';
  }
}

/** Any other HTTP status the client could not turn into records. */
export class ApiHttpError extends UzpError {
  constructor(message: string, context: ErrorContext) {
    super('UZP_API_HTTP', message, context);
    this.name = 'ApiHttpError';
  }
}

/** A 200 whose body is not what docs/api.md promises (not JSON, not an array, cut short). */
export class MalformedResponseError extends UzpError {
  constructor(message: string, context: ErrorContext) {
    super('UZP_API_MALFORMED', message, context);
    this.name = 'MalformedResponseError';
  }
}

/**
 * Every attempt of a list request got the very same answer that cannot be
 * read as records (not JSON, or records that cannot be written back as
 * JSON, e.g. nested 100,000 deep): retrying will not help. Carries the
 * answer so it can be kept in a rejects file.
 */
export class UnparsableAnswerError extends MalformedResponseError {
  constructor(
    message: string,
    context: ErrorContext,
    readonly body: string,
  ) {
    super(message, context);
    this.name = 'UnparsableAnswerError';
  }
}

/** An answer larger than the section's max_response_size: that request fails, retrying would fetch it again. */
export class ResponseTooLargeError extends UzpError {
  constructor(message: string, context: ErrorContext) {
    super('UZP_RESPONSE_TOO_LARGE', message, context);
    this.name = 'ResponseTooLargeError';
  }
}

export class NetworkError extends UzpError {
  readonly kind: NetworkErrorKind;

  constructor(kind: NetworkErrorKind, message: string, context: ErrorContext, options?: { cause?: unknown }) {
    super('UZP_NETWORK', message, { ...context, kind }, options);
    this.name = 'NetworkError';
    this.kind = kind;
  }
}

/** Another live process holds the section's lock. The section is skipped, not failed. */
export class LockHeldError extends UzpError {
  constructor(message: string, context: ErrorContext) {
    super('UZP_LOCK_HELD', message, context);
    this.name = 'LockHeldError';
  }
}

/**
 * The section's lock lease was lost while it ran (another host took it over,
 * or it could not be renewed): the section stops before its next commit.
 */
export class LockLostError extends UzpError {
  constructor(message: string, context: ErrorContext) {
    super('UZP_LOCK_LOST', message, context);
    this.name = 'LockLostError';
  }
}

/** A position or pending file cannot be read. Never silently restart from start_time. */
export class StateCorruptError extends UzpError {
  constructor(message: string, context: ErrorContext) {
    super('UZP_STATE_CORRUPT', message, context);
    this.name = 'StateCorruptError';
  }
}

/**
 * A saved position lies after now − end_delay: the clock went back, or the
 * file was restored or edited. Running on would skip records for good.
 */
export class PositionAheadError extends UzpError {
  constructor(message: string, context: ErrorContext) {
    super('UZP_POSITION_AHEAD', message, context);
    this.name = 'PositionAheadError';
  }
}

/** Writing data, a position or a pending record failed (disk full, permissions). */
export class WriteError extends UzpError {
  constructor(message: string, context: ErrorContext, options?: { cause?: unknown }) {
    super('UZP_WRITE_FAILED', message, context, options);
    this.name = 'WriteError';
  }
}

/** A window could not be fetched after all retries; the position does not move past it. */
export class WindowGivenUpError extends UzpError {
  constructor(message: string, context: ErrorContext, options?: { cause?: unknown }) {
    super('UZP_WINDOW_GIVEN_UP', message, context, options);
    this.name = 'WindowGivenUpError';
  }
}

/** The worker thread running a section died or threw outside the section runner. */
export class WorkerCrashError extends UzpError {
  constructor(message: string, context: ErrorContext, options?: { cause?: unknown }) {
    super('UZP_WORKER_CRASHED', message, context, options);
    this.name = 'WorkerCrashError';
  }
}

/** The run was stopped by a signal; the window in progress was rolled back. */
export class AbortedError extends UzpError {
  constructor(message: string, context: ErrorContext = {}) {
    super('UZP_ABORTED', message, context);
    this.name = 'AbortedError';
  }
}

/**
 * max_run_time was reached while a request kept failing: no more retries, the
 * window in flight is not committed, and the section fails so the next cron
 * tick is not held up by this run's lock.
 */
export class RunDeadlineError extends UzpError {
  constructor(message: string, context: ErrorContext, options?: { cause?: unknown }) {
    super('UZP_RUN_DEADLINE', message, context, options);
    this.name = 'RunDeadlineError';
  }
}

/** Plain-data form of an error, safe for postMessage and JSON. */
export interface SerializedError {
  name: string;
  code: ErrorCode;
  message: string;
  stack?: string;
  context: ErrorContext;
}

export function isUzpError(err: unknown): err is UzpError {
  return err instanceof UzpError;
}

export function serializeError(err: unknown): SerializedError {
  if (err instanceof UzpError) {
    return {
      name: err.name,
      code: err.code,
      message: err.message,
      stack: readableStack(err.stack),
      context: plainContext(err.context),
    };
  }
  const e = err instanceof Error ? err : new Error(String(err));
  return {
    name: 'WorkerCrashError',
    code: 'UZP_WORKER_CRASHED',
    message: `unexpected error: ${e.message}`,
    stack: readableStack(e.stack),
    context: {},
  };
}

/** Rebuilds the class named by `code`, so `instanceof` and `code` survive the thread boundary. */
export function deserializeError(s: SerializedError): UzpError {
  let err: UzpError;
  switch (s.code) {
    case 'UZP_USAGE':
      err = new UsageError(s.message, s.context);
      break;
    case 'UZP_CONFIG_INVALID':
      err = new ConfigError(s.message, (s.context.issues as ConfigIssue[] | undefined) ?? [], s.context);
      break;
    case 'UZP_API_AUTH':
      err = new ApiAuthError(s.message, s.context);
      break;
    case 'UZP_API_HTTP':
      err = new ApiHttpError(s.message, s.context);
      break;
    case 'UZP_API_MALFORMED':
      err = new MalformedResponseError(s.message, s.context);
      break;
    case 'UZP_RESPONSE_TOO_LARGE':
      err = new ResponseTooLargeError(s.message, s.context);
      break;
    case 'UZP_NETWORK':
      err = new NetworkError((s.context.kind as NetworkErrorKind | undefined) ?? 'other', s.message, s.context);
      break;
    case 'UZP_LOCK_HELD':
      err = new LockHeldError(s.message, s.context);
      break;
    case 'UZP_LOCK_LOST':
      err = new LockLostError(s.message, s.context);
      break;
    case 'UZP_STATE_CORRUPT':
      err = new StateCorruptError(s.message, s.context);
      break;
    case 'UZP_POSITION_AHEAD':
      err = new PositionAheadError(s.message, s.context);
      break;
    case 'UZP_WRITE_FAILED':
      err = new WriteError(s.message, s.context);
      break;
    case 'UZP_WINDOW_GIVEN_UP':
      err = new WindowGivenUpError(s.message, s.context);
      break;
    case 'UZP_ABORTED':
      err = new AbortedError(s.message, s.context);
      break;
    case 'UZP_WORKER_CRASHED':
      err = new WorkerCrashError(s.message, s.context);
      break;
    case 'UZP_RUN_DEADLINE':
      err = new RunDeadlineError(s.message, s.context);
      break;
    default: {
      const never: never = s.code;
      throw new Error(`unknown error code crossing the worker boundary: ${String(never)}`);
    }
  }
  if (s.stack) err.stack = s.stack;
  return err;
}

// Context may hold causes or other non-cloneable values; keep only plain data.
function plainContext(ctx: ErrorContext): ErrorContext {
  return JSON.parse(JSON.stringify(ctx)) as ErrorContext;
}
