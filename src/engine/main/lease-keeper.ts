// Keeps a section's lock lease alive while the section runs: renews it every
// third of `lock_lease` on the main thread, and gives the lease up as lost
// when the lock names another holder or could not be renewed for a whole
// lease (the file server unreachable, say). A lost lease stops the section
// before its next commit (docs/decisions.md, "Leases on the file server's clock").

import type { SectionLock } from '../../storage/section-lock.js';

export interface LeaseKeeperOptions {
  lock: SectionLock;
  section: string;
  leaseSeconds: number;
  /** Once, when the lease is lost; says why. */
  onLost: (message: string) => void;
  /** A renewal that failed but did not lose the lease yet. */
  onTrouble?: (message: string) => void;
  /** Monotonic milliseconds (injectable for tests). */
  now?: () => number;
  /** Timer functions (injectable for tests). */
  setInterval?: (fn: () => void, ms: number) => { unref?(): void };
  clearInterval?: (timer: unknown) => void;
}

export class LeaseKeeper {
  private readonly opts: LeaseKeeperOptions;
  private readonly now: () => number;
  private lastRenewedMs: number;
  private lost = false;
  private timer: unknown;

  constructor(opts: LeaseKeeperOptions) {
    this.opts = opts;
    this.now = opts.now ?? (() => performance.now());
    this.lastRenewedMs = this.now();
    if (opts.leaseSeconds <= 0) return;
    const every = (opts.setInterval ?? setInterval) as (fn: () => void, ms: number) => { unref?(): void };
    const timer = every(() => this.renew(), (opts.leaseSeconds * 1000) / 3);
    timer.unref?.();
    this.timer = timer;
  }

  /** One renewal; the timer calls it, tests may too. */
  renew(): void {
    if (this.lost) return;
    const { lock, section, leaseSeconds } = this.opts;
    let outcome: 'renewed' | 'lost';
    try {
      outcome = lock.renew();
    } catch (err) {
      const failingMs = this.now() - this.lastRenewedMs;
      const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      if (failingMs >= leaseSeconds * 1000) {
        this.lose(
          `section ${section}: could not renew the lease of its lock ${lock.path} for ${Math.round(failingMs / 1000)} s (${why}); ` +
            'stopping before the next commit, as another host may take the lock over: check the storage that holds the lock',
        );
      } else {
        this.opts.onTrouble?.(`section ${section}: could not renew the lease of its lock ${lock.path} (${why}); trying again`);
      }
      return;
    }
    if (outcome === 'lost') {
      this.lose(
        `section ${section}: its lock ${lock.path} was taken over by another run (its lease of ${leaseSeconds} s had run out as seen from there); ` +
          'stopping before the next commit so that two runs never append to one stream. If this repeats, raise lock_lease above the longest stall of this host or its storage',
      );
      return;
    }
    this.lastRenewedMs = this.now();
  }

  stop(): void {
    if (this.timer !== undefined) (this.opts.clearInterval ?? clearInterval)(this.timer as NodeJS.Timeout);
    this.timer = undefined;
  }

  private lose(message: string): void {
    this.lost = true;
    this.stop();
    this.opts.onLost(message);
  }
}
