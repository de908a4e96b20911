// Per-section counters kept by the worker and posted to the main thread as
// plain snapshots (heartbeats, summary, Prometheus file are built from them).

export interface SectionMetrics {
  recordsWritten: number;
  windowsCommitted: number;
  apiCalls: number;
  apiListCalls: number;
  apiDetailCalls: number;
  apiErrors: number;
  http429: number;
  retries: number;
  apiTimeAvgMs: number;
  apiTimeMinMs: number;
  apiTimeMaxMs: number;
  apiTimeP95Ms: number;
  detailsFetched: number;
  detailsMissing: number;
  detailsFailed: number;
  recordsWithoutTime: number;
  /** Listed records whose event time is outside the range the request asked for: not written. */
  recordsOutOfRange: number;
  truncatedWindows: number;
  gaps: number;
  gapSeconds: number;
  /** Old data files deleted by data_retention_days at the start of the run. */
  dataFilesDeleted: number;
  recordsPerSecond: number;
  /** Unix seconds: everything before it is written (null before the first commit of a fresh section). */
  position: number | null;
  /** Seconds the position is behind now. */
  lagSeconds: number | null;
  startedAt: string;
  elapsedSeconds: number;
}

// Durations are kept in a bounded ring so a million-request backfill does not
// grow memory; p95 is computed over the most recent samples.
const SAMPLE_CAP = 4096;

export class MetricsRecorder {
  private readonly started = Date.now();
  private readonly samples: number[] = [];
  private sampleNext = 0;
  private timeSum = 0;
  private timeCount = 0;
  private timeMin = Infinity;
  private timeMax = 0;
  readonly counts = {
    recordsWritten: 0,
    windowsCommitted: 0,
    apiListCalls: 0,
    apiDetailCalls: 0,
    apiErrors: 0,
    http429: 0,
    retries: 0,
    detailsFetched: 0,
    detailsMissing: 0,
    detailsFailed: 0,
    recordsWithoutTime: 0,
    recordsOutOfRange: 0,
    truncatedWindows: 0,
    gaps: 0,
    gapSeconds: 0,
    dataFilesDeleted: 0,
  };
  position: number | null = null;

  constructor(private readonly nowSeconds: () => number = () => Math.floor(Date.now() / 1000)) {}

  /** `failed`: the attempt failed despite its status (a 200 whose body was cut short or not JSON). */
  recordRequest(kind: 'list' | 'detail', status: number | null, durationMs: number, willRetry: boolean, failed = false): void {
    if (kind === 'list') this.counts.apiListCalls++;
    else this.counts.apiDetailCalls++;
    const ok = !failed && status !== null && status >= 200 && status < 300;
    // A detail 404 is an answer, not an error (docs/api.md, "Detail": write the summary).
    if (!ok && !(kind === 'detail' && status === 404)) this.counts.apiErrors++;
    if (status === 429) this.counts.http429++;
    if (willRetry) this.counts.retries++;
    this.timeSum += durationMs;
    this.timeCount++;
    this.timeMin = Math.min(this.timeMin, durationMs);
    this.timeMax = Math.max(this.timeMax, durationMs);
    if (this.samples.length < SAMPLE_CAP) this.samples.push(durationMs);
    else {
      this.samples[this.sampleNext] = durationMs;
      this.sampleNext = (this.sampleNext + 1) % SAMPLE_CAP;
    }
  }

  snapshot(): SectionMetrics {
    const elapsedSeconds = (Date.now() - this.started) / 1000;
    const sorted = [...this.samples].sort((a, b) => a - b);
    const p95 = sorted.length ? (sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.95) - 1)] ?? 0) : 0;
    const c = this.counts;
    return {
      ...c,
      apiCalls: c.apiListCalls + c.apiDetailCalls,
      apiTimeAvgMs: this.timeCount ? round(this.timeSum / this.timeCount) : 0,
      apiTimeMinMs: this.timeCount ? round(this.timeMin) : 0,
      apiTimeMaxMs: round(this.timeMax),
      apiTimeP95Ms: round(p95),
      recordsPerSecond: elapsedSeconds > 0 ? round(c.recordsWritten / elapsedSeconds) : 0,
      position: this.position,
      lagSeconds: this.position === null ? null : Math.max(0, this.nowSeconds() - this.position),
      startedAt: new Date(this.started).toISOString(),
      elapsedSeconds: round(elapsedSeconds),
    };
  }
}

export function emptyMetrics(): SectionMetrics {
  return new MetricsRecorder().snapshot();
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
