// The one message protocol between a section's worker thread and the main
// thread. Every message carries a `type` tag; receivers switch on it with a
// loud default so a new message kind cannot be silently ignored.

import type { SerializedError } from '../../common/errors.js';
import type { SectionConfig } from '../../config/section-config.js';
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
  /** Whether the main thread coordinates a rate budget for this section's key. */
  rateCoordinated: boolean;
  /** How often to post metrics while running, ms. */
  metricsIntervalMs: number;
}

export interface SectionResult {
  section: string;
  status: SectionEndStatus;
  metrics: SectionMetrics;
  error?: SerializedError;
}

export interface RateOutcome {
  status: number | null;
  retryAfterSeconds?: number;
  headers: Record<string, string | string[] | undefined>;
}

export type WorkerMessage =
  | { type: 'progress'; section: string; position: number; rangeStart: number; rangeEnd: number; recordsWritten: number }
  | { type: 'metrics'; section: string; metrics: SectionMetrics }
  | { type: 'log'; section: string; level: 'info' | 'warn' | 'error'; message: string }
  | { type: 'rate-acquire'; section: string; id: number }
  | { type: 'rate-observe'; section: string; outcome: RateOutcome }
  /** Answers other than 429 without rate-limit headers, counted by the worker and sent in batches. */
  | { type: 'rate-admitted'; section: string; count: number }
  | { type: 'error'; section: string; error: SerializedError };

export type MainMessage =
  | { type: 'stop' }
  | { type: 'rate-grant'; id: number }
  /** free: the key's budget paces nothing now, so requests go without a rate-acquire round trip. */
  | { type: 'rate-mode'; free: boolean };
