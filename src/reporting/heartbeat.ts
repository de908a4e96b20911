// The per-section heartbeat file monitoring reads: written atomically (never
// half a JSON document) by the main thread while a section runs and at its end.
// Keys match the Python tool's heartbeat so existing checks keep working.

import type { UzpError } from '../common/errors.js';
import type { SectionConfig } from '../config/section-config.js';
import type { SectionMetrics } from '../engine/shared/section-metrics.js';
import type { SectionStatus } from '../engine/shared/section-status.js';
import { maskKey } from '../common/mask.js';
import { writeFileAtomicDurable } from '../storage/durable-fs.js';

/** The status words of the file: the section statuses, with `failed` written as the Python tool's `error`. */
export type HeartbeatStatus = 'running' | 'completed' | 'error' | 'stopped' | 'skipped';

/** A heartbeat is written once a section has started. */
export type HeartbeatSectionStatus = Exclude<SectionStatus, 'queued'>;

/**
 * The word the file says for a section status. Monitoring written for the
 * Python tool alerts on `"status": "error"` (README, Monitoring), so a failed
 * section keeps that word here, and only here.
 */
function heartbeatStatus(status: HeartbeatSectionStatus): HeartbeatStatus {
  switch (status) {
    case 'failed':
      return 'error';
    case 'running':
    case 'completed':
    case 'stopped':
    case 'skipped':
      return status;
    default: {
      const never: never = status;
      throw new Error(`unknown section status ${String(never)}`);
    }
  }
}

export interface Heartbeat {
  section: string;
  status: HeartbeatStatus;
  last_heartbeat: string;
  pid: number;
  domain: string;
  category: string;
  type: string;
  api_key: string;
  metrics: SectionMetrics;
  error?: { code: string; message: string };
}

export function buildHeartbeat(cfg: SectionConfig, status: HeartbeatSectionStatus, metrics: SectionMetrics, error?: UzpError, now: Date = new Date()): Heartbeat {
  // The worker posts its figures about once a second; how far behind the
  // position is depends on when the heartbeat is read, so it is taken now.
  const lagSeconds = metrics.position === null ? null : Math.max(0, Math.floor(now.getTime() / 1000) - metrics.position);
  return {
    section: cfg.section,
    status: heartbeatStatus(status),
    last_heartbeat: now.toISOString(),
    pid: process.pid,
    domain: cfg.domain,
    category: cfg.category,
    type: cfg.type,
    api_key: maskKey(cfg.apiKey),
    metrics: { ...metrics, lagSeconds },
    ...(error ? { error: { code: error.code, message: error.message } } : {}),
  };
}

/** Replaces the heartbeat file in one rename: a reader never sees half a document. */
export function writeHeartbeat(cfg: SectionConfig, status: HeartbeatSectionStatus, metrics: SectionMetrics, error?: UzpError, now?: Date): void {
  // Advisory and rewritten every few seconds: losing the last one to a power cut is harmless.
  writeFileAtomicDurable(cfg.heartbeatFile, JSON.stringify(buildHeartbeat(cfg, status, metrics, error, now), null, 2) + '\n', { durable: false });
}
