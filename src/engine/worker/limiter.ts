// Caps how many tasks (a section's detail requests) run at once, starting
// them in the order they were asked for. A task may step outside its slot
// while it only waits (a retry's Retry-After or backoff: issue 8), so an
// isolated 429 does not idle a slot for a second; it comes back ahead of the
// tasks not yet started.

/** At most `limit` tasks at once, started in the order they were asked for. */
export class Limiter {
  readonly limit: number;
  #active = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`a limiter needs a limit of at least 1, got ${limit}`);
    this.limit = limit;
  }

  /** `outside(wait)` gives the slot up while `wait` runs and takes one back, ahead of the queue, before it returns. */
  async run<T>(task: (outside: (wait: () => Promise<void>) => Promise<void>) => Promise<T>): Promise<T> {
    await this.#acquire(false);
    try {
      return await task(async (wait) => {
        this.#release();
        try {
          await wait();
        } finally {
          await this.#acquire(true);
        }
      });
    } finally {
      this.#release();
    }
  }

  async #acquire(first: boolean): Promise<void> {
    if (this.#active < this.limit && this.#waiting.length === 0) this.#active++;
    // The slot is handed over by release(), already counted.
    else await new Promise<void>((resolve) => (first ? this.#waiting.unshift(resolve) : this.#waiting.push(resolve)));
  }

  #release(): void {
    const next = this.#waiting.shift();
    // The slot passes straight to the next waiter and the count never drops:
    // a caller arriving before that waiter resumes finds no free slot, so it
    // can neither overtake the queue nor push the count past the limit.
    if (next) next();
    else this.#active--;
  }
}
