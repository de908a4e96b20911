// What the mock was asked and how it answered, for tests to assert on: exact
// retry counts, no 406 ever, which windows were requested, and so on.

import type { MockCategory } from './dataset.js';
import type { RequestKind } from './faults.js';

export type LoggedKind = RequestKind | 'other';

export interface MockRequestLogEntry {
  /**
   * When the request was answered (before any injected delay), in monotonic
   * milliseconds (performance.now() unless the mock was given another clock):
   * the clock the collector's own timings use when it runs in the same process.
   */
  at: number;
  kind: LoggedKind;
  key: string | undefined;
  category?: MockCategory;
  type?: string;
  domain?: string;
  starttime?: number;
  endtime?: number;
  queueId?: string;
  /** The detail request's `time`. */
  time?: number;
  /** HTTP status sent, or 'drop' when the socket was closed without a response. */
  status: number | 'drop';
  /** The fault that shaped this answer, if any (e.g. 'status429', 'rateLimit', 'failNext', 'dropMidBody'). */
  fault?: string;
  /** Headers went out, then the socket was closed part-way through the body. */
  droppedMidBody?: true;
  /** Records in a 200 list answer (before any body corruption). */
  records?: number;
}

export interface MockStats {
  requests: number;
  byKind: Record<LoggedKind, number>;
  /** Keyed by status ('200', '404', 'drop', ...). */
  byStatus: Record<string, number>;
  byKindAndStatus: Record<LoggedKind, Record<string, number>>;
  byFault: Record<string, number>;
  status406: number;
  status429: number;
  /** Answers cut off by dropBeforeResponse or dropMidBody. */
  dropped: number;
  /** The last `logLimit` requests, oldest first. */
  log: MockRequestLogEntry[];
}

export class RequestStats {
  readonly #logLimit: number;
  #log: MockRequestLogEntry[] = [];
  #counts = RequestStats.#empty();

  constructor(logLimit: number) {
    this.#logLimit = logLimit;
  }

  static #empty(): Omit<MockStats, 'log'> {
    return {
      requests: 0,
      byKind: { list: 0, detail: 0, other: 0 },
      byStatus: {},
      byKindAndStatus: { list: {}, detail: {}, other: {} },
      byFault: {},
      status406: 0,
      status429: 0,
      dropped: 0,
    };
  }

  record(entry: MockRequestLogEntry): void {
    const c = this.#counts;
    const status = String(entry.status);
    c.requests++;
    c.byKind[entry.kind]++;
    c.byStatus[status] = (c.byStatus[status] ?? 0) + 1;
    const perKind = c.byKindAndStatus[entry.kind];
    perKind[status] = (perKind[status] ?? 0) + 1;
    if (entry.fault) c.byFault[entry.fault] = (c.byFault[entry.fault] ?? 0) + 1;
    if (entry.status === 406) c.status406++;
    if (entry.status === 429) c.status429++;
    if (entry.status === 'drop' || entry.droppedMidBody) c.dropped++;
    this.#log.push(entry);
    // Trim in batches so a long benchmark does not pay a shift per request.
    if (this.#log.length > this.#logLimit * 1.1 + 100) this.#log = this.#log.slice(-this.#logLimit);
  }

  snapshot(): MockStats {
    const c = this.#counts;
    return {
      ...c,
      byKind: { ...c.byKind },
      byStatus: { ...c.byStatus },
      byKindAndStatus: { list: { ...c.byKindAndStatus.list }, detail: { ...c.byKindAndStatus.detail }, other: { ...c.byKindAndStatus.other } },
      byFault: { ...c.byFault },
      log: this.#log.slice(-this.#logLimit),
    };
  }

  reset(): void {
    this.#counts = RequestStats.#empty();
    this.#log = [];
  }
}
