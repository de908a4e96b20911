// The worker's side of the per-key rate budget: every request attempt asks
// the main thread for a grant and reports how it went. The budget itself
// lives in the main thread (src/rate-budget.ts) because sections that share
// an API key share the service's limit (API.md) and run in different threads.

import type { RateGate } from './api-client.js';
import { AbortedError } from './errors.js';
import type { RateOutcome, WorkerMessage } from './worker-protocol.js';

export class PortRateGate implements RateGate {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();

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

  observe(outcome: RateOutcome): void {
    this.emit({ type: 'rate-observe', section: this.section, outcome });
  }
}
