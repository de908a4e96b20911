// A clock and timers that move only when told to: the rate tests (grant
// queue, quota estimator, rate budget, simulated runs) go through minutes of
// traffic in milliseconds, and deterministically.

export class VirtualTime {
  private t = 0;
  private seq = 0;
  private readonly queue: { at: number; seq: number; fn: () => void }[] = [];

  readonly now = (): number => this.t;

  readonly timers = {
    set: (fn: () => void, ms: number): unknown => this.at(this.t + Math.max(0, ms), fn),
    clear: (handle: unknown): void => {
      const i = this.queue.findIndex((e) => e === handle);
      if (i >= 0) this.queue.splice(i, 1);
    },
  };

  /** Runs `fn` at virtual time `at`; returns a handle for timers.clear. */
  at(at: number, fn: () => void): unknown {
    const entry = { at, seq: this.seq++, fn };
    // Sorted insert; simulations keep a few hundred timers at most.
    let i = this.queue.length;
    while (i > 0 && (this.queue[i - 1]!.at > at || (this.queue[i - 1]!.at === at && this.queue[i - 1]!.seq > entry.seq))) i--;
    this.queue.splice(i, 0, entry);
    return entry;
  }

  /** Fires every timer due up to `until`, in time order, and leaves the clock there. */
  runUntil(until: number): void {
    for (;;) {
      const next = this.queue[0];
      if (!next || next.at > until) break;
      this.queue.shift();
      this.t = Math.max(this.t, next.at);
      next.fn();
    }
    this.t = Math.max(this.t, until);
  }
}
