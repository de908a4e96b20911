// The detail-fetch Limiter (issue 11): never more tasks at once than its
// limit, started in the order they were asked for, even when a caller arrives
// in the same microtask as a release.

import { expect } from 'chai';
import { Limiter } from '../../src/engine/worker/limiter.js';

interface Held {
  /** Settles the task: it ends, and its slot is released. */
  release: () => void;
  fail: (err: Error) => void;
}

/** Runs tasks that hold their slot until the test releases them, recording what ran when. */
class Probe {
  readonly started: string[] = [];
  readonly held = new Map<string, Held>();
  active = 0;
  peak = 0;

  constructor(readonly limiter: Limiter) {}

  run(name: string): Promise<string> {
    return this.limiter.run(async () => {
      this.started.push(name);
      this.active++;
      this.peak = Math.max(this.peak, this.active);
      try {
        await new Promise<void>((resolve, reject) => this.held.set(name, { release: resolve, fail: reject }));
        return name;
      } finally {
        this.active--;
      }
    });
  }

  release(name: string): void {
    const h = this.held.get(name);
    if (!h) throw new Error(`${name} is not running`);
    this.held.delete(name);
    h.release();
  }
}

/** Calls fn after `hops` further microtasks, without any timer. */
function afterMicrotasks(hops: number, fn: () => void): void {
  if (hops === 0) fn();
  else queueMicrotask(() => afterMicrotasks(hops - 1, fn));
}

/** Lets every microtask queued so far (and those they queue) run. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('Limiter', () => {
  it('a task waiting outside its slot lets the next one run, and takes a slot back ahead of tasks not yet started', async () => {
    const limiter = new Limiter(1);
    const started: string[] = [];
    let endWait: () => void = () => undefined;
    let resumed = false;
    const a = limiter.run(async (outside) => {
      started.push('A');
      await outside(() => new Promise<void>((resolve) => (endWait = resolve)));
      resumed = true;
      started.push('A again');
    });
    let releaseB: () => void = () => undefined;
    const b = limiter.run(async () => {
      started.push('B');
      await new Promise<void>((resolve) => (releaseB = resolve));
    });
    const c = limiter.run(async () => {
      started.push('C');
    });
    await settle();
    expect(started, 'B runs while A waits outside').to.deep.equal(['A', 'B']);
    endWait();
    await settle();
    expect(resumed, 'A waits for its slot again: B holds it').to.equal(false);
    releaseB();
    await Promise.all([a, b, c]);
    expect(started, 'A ahead of C, which had not started').to.deep.equal(['A', 'B', 'A again', 'C']);
  });

  it('never runs more than its limit nor lets a late caller overtake a waiter, when the caller arrives as a slot is released', async () => {
    // A release resolves the waiter's promise, but the waiter resumes only a
    // microtask later; a caller arriving in between must not take the slot.
    // Which microtask that is depends on how many hops the release takes, so
    // the caller is tried at every hop from 0 (the same microtask) on.
    const HOPS = 8;
    const outcomes: { hops: number; peak: number; started: string[]; results: string[] }[] = [];
    for (let hops = 0; hops <= HOPS; hops++) {
      const probe = new Probe(new Limiter(1));
      const a = probe.run('A');
      const b = probe.run('B');
      await settle();
      expect(probe.started, 'B waits while A holds the only slot').to.deep.equal(['A']);
      let c: Promise<string> | undefined;
      probe.release('A');
      afterMicrotasks(hops, () => {
        c = probe.run('C');
      });
      await settle();
      expect(probe.started, `C (arriving ${hops} microtasks after the release) waits behind B`).to.deep.equal(['A', 'B']);
      probe.release('B');
      await settle();
      probe.release('C');
      const results = await Promise.all([a, b, c ?? Promise.reject(new Error('C never called'))]);
      outcomes.push({ hops, peak: probe.peak, started: probe.started, results });
    }
    expect(outcomes).to.have.length(HOPS + 1);
    for (const o of outcomes) {
      expect(o.peak, `peak with C ${o.hops} microtasks after the release`).to.equal(1);
      expect(o.started).to.deep.equal(['A', 'B', 'C']);
      expect(o.results).to.deep.equal(['A', 'B', 'C']);
    }
  });

  it('with a limit of 3, keeps at most 3 running and starts all in call order while they end out of order', async () => {
    const probe = new Probe(new Limiter(3));
    const names = Array.from({ length: 12 }, (_, i) => `t${i}`);
    const done = names.slice(0, 8).map((n) => probe.run(n));
    await settle();
    expect(probe.started).to.deep.equal(['t0', 't1', 't2']);
    // End the running tasks in a scrambled order, each time with a new caller
    // arriving a different number of microtasks after the release.
    const late = names.slice(8);
    let released = 0;
    while (probe.held.size > 0) {
      const running = [...probe.held.keys()];
      const victim = running[(released * 7) % running.length];
      if (victim === undefined) throw new Error('no running task');
      probe.release(victim);
      released++;
      const next = late.shift();
      if (next !== undefined) afterMicrotasks(released % 5, () => done.push(probe.run(next)));
      await settle();
      expect(probe.active, `after ${released} releases`).to.be.at.most(3);
    }
    expect(released).to.equal(12);
    expect(probe.peak).to.equal(3);
    expect(probe.started).to.deep.equal(names);
    expect((await Promise.all(done)).sort()).to.deep.equal([...names].sort());
  });

  it('frees the slot of a task that fails, and passes its error to the caller', async () => {
    const probe = new Probe(new Limiter(1));
    const a = probe.run('A');
    const b = probe.run('B');
    await settle();
    probe.held.get('A')?.fail(new Error('detail failed'));
    let error: unknown;
    await a.catch((err: unknown) => {
      error = err;
    });
    expect((error as Error | undefined)?.message).to.equal('detail failed');
    await settle();
    expect(probe.started).to.deep.equal(['A', 'B']);
    probe.release('B');
    expect(await b).to.equal('B');
  });

  it('frees the slot of a task that throws before returning a promise', async () => {
    const limiter = new Limiter(1);
    let error: unknown;
    await limiter
      .run(() => {
        throw new Error('thrown at once');
      })
      .catch((err: unknown) => {
        error = err;
      });
    expect((error as Error | undefined)?.message).to.equal('thrown at once');
    expect(await limiter.run(async () => 'next')).to.equal('next');
  });

  it('refuses a limit below 1, which would never start anything', () => {
    for (const limit of [0, -1, 1.5, Number.NaN]) expect(() => new Limiter(limit), String(limit)).to.throw(RangeError);
  });
});
