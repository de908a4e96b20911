// Caps how many tasks (a section's detail requests) run at once, starting
// them in the order they were asked for.

/** At most `limit` tasks at once, started in the order they were asked for. */
export class Limiter {
  readonly limit: number;
  #active = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`a limiter needs a limit of at least 1, got ${limit}`);
    this.limit = limit;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#active < this.limit && this.#waiting.length === 0) this.#active++;
    // The slot is handed over by release(), already counted.
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      return await task();
    } finally {
      this.#release();
    }
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
