// The one message protocol between a section's worker thread and the main
// thread. Every message carries a `type` tag; receivers switch on it with a
// loud default so a new message kind cannot be silently ignored.

import type { SerializedError } from '../../common/errors.js';
import type { SectionConfig } from '../../config/section-config.js';
import type { RateOutcome } from './rate-outcome.js';
import type { SectionMetrics } from './section-metrics.js';
import type { SectionEndStatus } from './section-status.js';

/** What to collect: the cron range (saved position → now − end_delay) or a one-off backfill. */
export interface RunRange {
  /** Unix seconds, from --start-time; undefined = resume from the position. */
  from?: number;
  /** Unix seconds, from --end-time; undefined = now − end_delay. */
  to?: number;
}

/** The task handed to workers/section-worker.ts through Piscina. Plain data plus one port. */
export interface SectionTask {
  config: SectionConfig;
  range: RunRange;
  /** Worker → main messages go out on it; main → worker messages come in on it. */
  port: import('node:worker_threads').MessagePort;
  /** How often to post metrics while running, ms. */
  metricsIntervalMs: number;
  /** The lock this run holds for the section: checked before each commit (fencing). */
  lock?: { path: string; token: string };
  /** When the run started (Date.now()); max_run_time counts from it. */
  runStartedAtMs: number;
}

export interface SectionResult {
  section: string;
  status: SectionEndStatus;
  metrics: SectionMetrics;
  error?: SerializedError;
  /** The worker thread it ran on (worker_threads threadId); threads run several sections at once. */
  threadId?: number;
  /** The worker wrote the `summary:` line to the section's message log (otherwise the main thread does). */
  summaryLogged?: boolean;
}

export type WorkerMessage =
  /**
   * After each committed window: how far the range is done, and the metrics as
   * of that commit (records and the section's position move together, so no
   * heartbeat shows new records with the previous position).
   */
  | { type: 'progress'; section: string; position: number; rangeStart: number; rangeEnd: number; metrics: SectionMetrics }
  | { type: 'metrics'; section: string; metrics: SectionMetrics }
  | { type: 'log'; section: string; level: 'info' | 'warn' | 'error'; message: string }
  | { type: 'rate-acquire'; section: string; id: number }
  /** A 429, or an answer with rate-limit headers (only those headers): at once. */
  | { type: 'rate-observe'; section: string; outcome: RateOutcome }
  /** Answers other than 429 without rate-limit headers, counted by the worker and sent in batches no older than ADMITTED_FLUSH_MS (rate-outcome.ts). */
  | { type: 'rate-admitted'; section: string; count: number }
  | { type: 'error'; section: string; error: SerializedError };

export type MainMessage =
  | { type: 'stop' }
  | { type: 'rate-grant'; id: number }
  /** free: the key's budget paces nothing now, so requests go without a rate-acquire round trip. */
  | { type: 'rate-mode'; free: boolean }
  /** The section's lock lease is lost (lease-keeper.ts): commit nothing more, fail with this message. */
  | { type: 'lease-lost'; message: string };
