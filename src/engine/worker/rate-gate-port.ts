// The worker's side of the per-key rate budget: every request attempt asks
// the main thread for a grant (unless the main thread said the budget is
// free) and reports how it went. The budget itself lives in the main thread
// (src/engine/main/rate-budget.ts) because sections that share an API key
// share the service's limit (docs/api.md, "Rate limits") and run in different
// threads (docs/architecture.md, "Rate budget").

import type { RateGate } from '../../api/api-client.js';
import { AbortedError } from '../../common/errors.js';
import { rateLimitHeaders } from '../shared/rate-headers.js';
import { ADMITTED_FLUSH_MS, type RateOutcome } from '../shared/rate-outcome.js';
import type { WorkerMessage } from '../shared/worker-protocol.js';

export class PortRateGate implements RateGate {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  // While the main thread says the key's budget is free, requests skip the round trip.
  private free = false;
  private admitted = 0;
  private lastFlush = 0;
  private flushTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly section: string,
    private readonly emit: (msg: WorkerMessage) => void,
    signal: AbortSignal,
  ) {
    signal.addEventListener('abort', () => {
      for (const w of this.waiting.values()) w.reject(new AbortedError(`section ${section}: stopped while waiting for the rate budget`, { section }));
      this.waiting.clear();
    });
  }

  acquire(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(new AbortedError(`section ${this.section}: stopped`, { section: this.section }));
    if (this.free) return Promise.resolve();
    const id = this.nextId++;
    return new Promise<void>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.emit({ type: 'rate-acquire', section: this.section, id });
    });
  }

  grant(id: number): void {
    const w = this.waiting.get(id);
    if (!w) return; // aborted meanwhile
    this.waiting.delete(id);
    w.resolve();
  }

  setFree(free: boolean): void {
    this.free = free;
  }

  /**
   * 429s, rate-limit headers and attempts without an answer go at once (the
   * budget may be counting unanswered grants: remaining-meter.ts); plain
   * answers are only counted, and sent at most every ADMITTED_FLUSH_MS but
   * never later than that.
   *
   * A 429 also holds this worker (issue 8c): until the main thread has judged
   * it and says whether the key is still free (it answers every 429 with a
   * rate-mode), the worker's next requests ask for a grant. A quota's 429s
   * then stop each worker at its first one, however late the main thread
   * reads them: in the quota-429 bench it read a run's first 429s in one
   * batch 50 ms late, while free workers sent some thirty more into the
   * empty bucket. An isolated 429 costs only that round trip, and only to
   * this worker (docs/decisions.md, "Isolated 429s and quota 429s").
   */
  observe(outcome: RateOutcome): void {
    const headers = rateLimitHeaders(outcome.headers);
    if (outcome.status !== 429 && outcome.status !== null && headers === undefined) {
      this.admitted++;
      if (performance.now() - this.lastFlush >= ADMITTED_FLUSH_MS) this.flushAdmitted();
      else this.flushTimer ??= setTimeout(() => this.flushAdmitted(), ADMITTED_FLUSH_MS).unref();
      return;
    }
    this.flushAdmitted();
    if (outcome.status === 429) this.free = false;
    const { status, retryAfterSeconds } = outcome;
    this.emit({ type: 'rate-observe', section: this.section, outcome: { status, headers: headers ?? {}, ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }) } });
  }

  private flushAdmitted(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    this.lastFlush = performance.now();
    if (this.admitted === 0) return;
    this.emit({ type: 'rate-admitted', section: this.section, count: this.admitted });
    this.admitted = 0;
  }
}
