// The grant queue alone, in virtual time, with a pacer the test sets by hand:
// grants spaced at the pacer's rate, held through its pauses, the `rate_limit`
// ceiling in every second, and when the key is free.

import { expect } from 'chai';
import { CEILING_JITTER_MS, GrantQueue, type BudgetTimers, type Pacer } from '../../src/engine/main/grant-queue.js';
import { ask, maxInWindow } from '../support/grant-times.js';
import { VirtualTime } from '../support/virtual-time.js';

/** A pacer whose rate and pause the test sets; it records which grants waited for their slot. */
class FixedPacer implements Pacer {
  ceiling = Infinity;
  pausedUntil = 0;
  rate = Infinity;
  counting = false;
  maySend = true;
  readonly grants: { at: number; slotMs: number }[] = [];

  metered(): boolean {
    return this.counting;
  }

  mayGrant(): boolean {
    return this.maySend;
  }

  rateAt(): number {
    return this.rate;
  }

  unpacedFrom(): number {
    return Number.isFinite(this.rate) ? Infinity : 0;
  }

  onGrant(now: number, slotMs: number): void {
    this.grants.push({ at: now, slotMs });
  }
}

function queueAt(time: VirtualTime, opts: { ceiling?: number; timers?: BudgetTimers } = {}): { queue: GrantQueue; pacer: FixedPacer; modes: boolean[] } {
  const pacer = new FixedPacer();
  if (opts.ceiling !== undefined && opts.ceiling > 0) pacer.ceiling = opts.ceiling;
  const modes: boolean[] = [];
  const queue = new GrantQueue({ pacer, now: time.now, timers: opts.timers ?? time.timers, onFreeChange: (f) => modes.push(f) });
  return { queue, pacer, modes };
}

describe('GrantQueue', () => {
  it('a metered key is not free, and a grant the pacer holds back goes at the next refresh', () => {
    const time = new VirtualTime();
    const { queue, pacer, modes } = queueAt(time);
    pacer.counting = true;
    pacer.maySend = false;
    queue.refresh();
    expect(queue.free).to.equal(false);
    expect(modes).to.deep.equal([false]);
    const at = ask(queue, time, 2);
    time.runUntil(10_000);
    expect(at, 'held back: no timer can help, only an answer').to.deep.equal([]);
    pacer.maySend = true;
    queue.refresh();
    expect(at).to.deep.equal([10_000, 10_000]);
    pacer.counting = false;
    queue.refresh();
    expect(modes).to.deep.equal([false, true]);
  });

  it('unpaced and unpaused: grants at once, is free, and tells no one anything', () => {
    const time = new VirtualTime();
    const { queue, pacer, modes } = queueAt(time);
    expect(queue.free).to.equal(true);
    expect(ask(queue, time, 100)).to.have.length(100);
    expect(queue.granted).to.equal(100);
    expect(pacer.grants.every((g) => g.slotMs === 0), 'nothing waited for a slot').to.equal(true);
    expect(modes).to.deep.equal([]);
  });

  it("spaces grants at the pacer's rate, and tells it which grants queued past their slot", () => {
    const time = new VirtualTime();
    const { queue, pacer, modes } = queueAt(time);
    pacer.rate = 10;
    queue.refresh();
    expect(modes).to.deep.equal([false]);
    const at = ask(queue, time, 5);
    expect(queue.queued).to.equal(4);
    time.runUntil(1000);
    expect(at).to.deep.equal([0, 100, 200, 300, 400]);
    expect(pacer.grants).to.deep.equal([
      { at: 0, slotMs: 0 },
      { at: 100, slotMs: 100 },
      { at: 200, slotMs: 100 },
      { at: 300, slotMs: 100 },
      { at: 400, slotMs: 100 },
    ]);
    // One request now, long after its slot: it waited for nothing.
    ask(queue, time, 1);
    expect(pacer.grants.at(-1)).to.deep.equal({ at: 1000, slotMs: 0 });
  });

  it('holds every grant until the pause ends, then grants them and is free again', () => {
    const time = new VirtualTime();
    const { queue, pacer, modes } = queueAt(time);
    pacer.pausedUntil = 2000;
    queue.refresh();
    expect(queue.free).to.equal(false);
    const at = ask(queue, time, 3);
    time.runUntil(1999);
    expect(at).to.have.length(0);
    time.runUntil(2000);
    expect(at).to.deep.equal([2000, 2000, 2000]);
    expect(modes).to.deep.equal([false, true]);
  });

  it('a pause with nothing queued still ends by itself: the key is free again at its end', () => {
    const time = new VirtualTime();
    const { queue, pacer, modes } = queueAt(time);
    pacer.pausedUntil = 1500;
    queue.refresh();
    time.runUntil(1499);
    expect(queue.free).to.equal(false);
    time.runUntil(1500);
    expect(queue.free).to.equal(true);
    expect(modes).to.deep.equal([false, true]);
  });

  it('rate_limit: never more than the ceiling in any second, even counting the jitter slack, and close to it', () => {
    const time = new VirtualTime();
    const { queue, modes } = queueAt(time, { ceiling: 20 });
    expect(queue.free, 'a ceiling is never free').to.equal(false);
    const at: number[] = [];
    const more = (): void => queue.acquire(() => {
      at.push(time.now());
      if (time.now() < 10_000) more();
    });
    for (let i = 0; i < 8; i++) more();
    time.runUntil(10_000);
    expect(maxInWindow(at, 1000 + CEILING_JITTER_MS)).to.be.at.most(20);
    expect(at.length / 10).to.be.at.least(19);
    expect(modes).to.deep.equal([]);
  });

  it('rate_limit: a grant timer that fires late does not cost the lateness', () => {
    const time = new VirtualTime();
    // Timers that always fire 3 ms late, as a busy event loop does.
    const late = { set: (fn: () => void, ms: number) => time.timers.set(fn, ms + 3), clear: time.timers.clear };
    const { queue } = queueAt(time, { ceiling: 50, timers: late });
    const at: number[] = [];
    const more = (): void => queue.acquire(() => {
      at.push(time.now());
      more();
    });
    more();
    time.runUntil(10_000);
    expect(at.length / 10, 'within 3 % of the ceiling').to.be.at.least(48.5);
    expect(maxInWindow(at, 1000)).to.be.at.most(50);
  });

  it('close() grants every waiter and every later request at once', () => {
    const time = new VirtualTime();
    const { queue } = queueAt(time, { ceiling: 1 });
    const at = ask(queue, time, 5);
    expect(at).to.have.length(1);
    queue.close();
    expect(at).to.have.length(5);
    expect(ask(queue, time, 2)).to.have.length(2);
  });
});
