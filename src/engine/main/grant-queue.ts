// Who may send next on one API key: requests wait in a queue and are granted
// one at a time, no earlier than a pause allows and spaced at the pace of the
// key's limits. What those limits are is not decided here: a Pacer says
// (quota-estimator.ts); this module keeps the queue, the pace, the timers and
// the `rate_limit` ceiling, and says when the key needs no pacing at all
// ("free": workers then skip the grant round trip). The scheme as a whole:
// rate-budget.ts and docs/architecture.md, "Rate budget".
//
// `rate_limit` is a hard ceiling: grants are spaced so that no window of
// 1 s + CEILING_JITTER_MS holds more than `rate_limit` of them; the margin
// absorbs the variable delay between a grant here and the request leaving its
// worker, so the service also sees at most `rate_limit` in any second.

export interface BudgetTimers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

/** What the queue asks of whoever knows the key's limits. */
export interface Pacer {
  /** The `rate_limit` ceiling in requests per second, held in every second; Infinity when there is none. */
  readonly ceiling: number;
  /** No grant before this time (monotonic ms). */
  readonly pausedUntil: number;
  /** Requests per second allowed now; Infinity when unpaced. */
  rateAt(now: number): number;
  /** From when on the rate is unpaced if nothing new is heard; Infinity when it stays paced. */
  unpacedFrom(): number;
  /** Grants are counted against what the service says remains: the key is not free meanwhile. */
  metered(now: number): boolean;
  /** Whether a grant may go now as far as those counts go; if not, the next answer (a refresh) tells. */
  mayGrant(now: number): boolean;
  /**
   * A grant went out. `slotMs` is the spacing the request waited for when it
   * queued past its slot (demand above the pace), else 0: only then may the
   * pace grow, or an idle key would come back with a rate nobody tested.
   */
  onGrant(now: number, slotMs: number): void;
}

export interface GrantQueueOptions {
  pacer: Pacer;
  /** Monotonic milliseconds. */
  now: () => number;
  timers: BudgetTimers;
  /** Called when the key becomes free (no pacing at all) or stops being free. */
  onFreeChange?: ((free: boolean) => void) | undefined;
}

/** See the header comment: slack for grant-to-send delay under `rate_limit`. */
export const CEILING_JITTER_MS = 25;
/** Timer lateness made up for by the next grant; part of the CEILING_JITTER_MS slack. */
const LATE_GRANT_MS = 5;

export class GrantQueue {
  private readonly pacer: Pacer;
  private readonly now: () => number;
  private readonly timers: BudgetTimers;
  private readonly onFreeChange: ((free: boolean) => void) | undefined;

  private readonly queue: { grant: () => void; at: number }[] = [];
  private nextSlot = 0;
  private timer: unknown;
  private timerAt = Infinity;
  private wasFree: boolean;
  private closed = false;
  private grants = 0;

  constructor(opts: GrantQueueOptions) {
    this.pacer = opts.pacer;
    this.now = opts.now;
    this.timers = opts.timers;
    this.onFreeChange = opts.onFreeChange;
    this.wasFree = this.computeFree(this.now());
  }

  /** Whether requests may go without asking: no ceiling, no pause, no rate to respect. */
  get free(): boolean {
    return this.wasFree;
  }

  get queued(): number {
    return this.queue.length;
  }

  /** Grants given in turn (not those a closed queue waved through). */
  get granted(): number {
    return this.grants;
  }

  /** Calls `grant` once a request may go (at once when the queue is closed). */
  acquire(grant: () => void): void {
    if (this.closed) return grant();
    this.queue.push({ grant, at: this.now() });
    this.pump();
  }

  /** Looks again after the pacer changed: grants what may go now, and says whether the key is free. */
  refresh(): void {
    this.pump();
    this.refreshFree(this.now());
  }

  close(): void {
    this.closed = true;
    this.clearTimer();
    for (const w of this.queue.splice(0)) w.grant();
  }

  /** Milliseconds between grants now; 0 = unpaced. */
  private intervalAt(now: number): number {
    const rate = this.pacer.rateAt(now);
    const paced = Number.isFinite(rate) ? 1000 / rate : 0;
    const ceiling = Number.isFinite(this.pacer.ceiling) ? (1000 + CEILING_JITTER_MS) / this.pacer.ceiling : 0;
    return Math.max(paced, ceiling);
  }

  private computeFree(now: number): boolean {
    return !this.closed && now >= this.pacer.pausedUntil && !this.pacer.metered(now) && !Number.isFinite(Math.min(this.pacer.rateAt(now), this.pacer.ceiling));
  }

  private refreshFree(now: number): void {
    const free = this.computeFree(now);
    if (free !== this.wasFree) {
      this.wasFree = free;
      this.onFreeChange?.(free);
    }
    // A pause or a header cap ends by itself: look again then, so workers hear of it.
    if (!free && this.queue.length === 0 && !this.closed) {
      const lapse = Math.max(this.pacer.pausedUntil, this.pacer.unpacedFrom());
      if (lapse > now && Number.isFinite(lapse) && !Number.isFinite(this.pacer.ceiling)) this.schedule(lapse);
    }
  }

  private pump(): void {
    if (this.closed) return;
    for (;;) {
      const now = this.now();
      if (this.queue.length === 0) return;
      const interval = this.intervalAt(now);
      const earliest = Math.max(this.pacer.pausedUntil, interval > 0 ? this.nextSlot : 0);
      if (earliest > now) {
        this.schedule(earliest);
        return;
      }
      if (!this.pacer.mayGrant(now)) return;
      const w = this.queue.shift();
      if (!w) return;
      // A request that had to wait for its slot shows demand above the rate.
      this.pacer.onGrant(now, interval > 0 && w.at < this.nextSlot ? interval : 0);
      // A timer that fired a little late keeps the schedule rather than losing its lateness each
      // time (at 50 req/s, 1 ms late per grant is 5 %); a longer gap means idle, and starts afresh.
      const from = now - this.nextSlot <= LATE_GRANT_MS ? this.nextSlot : now;
      this.nextSlot = interval > 0 ? Math.max(from, this.nextSlot) + this.intervalAt(now) : now;
      this.grants++;
      w.grant();
    }
  }

  private schedule(at: number): void {
    if (this.timer !== undefined && this.timerAt <= at) return;
    this.clearTimer();
    this.timerAt = at;
    this.timer = this.timers.set(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      this.refresh();
    }, Math.max(0, Math.ceil(at - this.now())));
  }

  private clearTimer(): void {
    if (this.timer !== undefined) this.timers.clear(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
  }
}
