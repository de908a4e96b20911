// The per-key rate budget on its own, in virtual time: pauses, the quota
// estimate and how the rate climbs back, the rate_limit ceiling, rate-limit
// headers, and whole simulated runs against a token-bucket service.

import { expect } from 'chai';
import { CEILING_JITTER_MS } from '../src/engine/main/grant-queue.js';
import { MIN_RATE } from '../src/engine/main/quota-estimator.js';
import { RateBudget, type RateBudgetOptions } from '../src/engine/main/rate-budget.js';
import { rateLimitHeaders, rateLimitInfo } from '../src/engine/shared/rate-headers.js';
import { simulate } from './support/rate-simulation.js';
import { VirtualTime } from './support/virtual-time.js';

function budgetAt(time: VirtualTime, opts: Partial<RateBudgetOptions> = {}): { budget: RateBudget; modes: boolean[] } {
  const modes: boolean[] = [];
  const budget = new RateBudget({ ceiling: 0, now: time.now, wallNow: () => 1_700_000_000_000 + time.now(), timers: time.timers, onFreeChange: (f) => modes.push(f), ...opts });
  return { budget, modes };
}

/** Asks for `n` grants at once and records the virtual time of each. */
function ask(budget: RateBudget, time: VirtualTime, n: number): number[] {
  const at: number[] = [];
  for (let i = 0; i < n; i++) budget.acquire(() => at.push(time.now()));
  return at;
}

const ok = { status: 200, headers: {} };
const limited = (retryAfterSeconds?: number) => ({ status: 429, headers: {}, ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }) });

/** Most of `times` inside any window [t, t + ms). */
function maxInWindow(times: number[], ms: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let max = 0;
  for (let lo = 0, hi = 0; hi < sorted.length; hi++) {
    while (sorted[hi]! - sorted[lo]! >= ms) lo++;
    max = Math.max(max, hi - lo + 1);
  }
  return max;
}

describe('RateBudget', () => {
  it('is free until the first 429: grants at once, and tells no one anything', () => {
    const time = new VirtualTime();
    const { budget, modes } = budgetAt(time);
    expect(budget.free).to.equal(true);
    expect(ask(budget, time, 100)).to.have.length(100);
    for (let i = 0; i < 100; i++) budget.observe(ok);
    expect(budget.free).to.equal(true);
    expect(modes).to.deep.equal([]);
  });

  it('a 429 pauses every grant until its Retry-After has passed, and says the budget is no longer free', () => {
    const time = new VirtualTime();
    const { budget, modes } = budgetAt(time);
    budget.admitted(50);
    time.runUntil(1000);
    budget.observe(limited(2));
    expect(modes).to.deep.equal([false]);
    const at = ask(budget, time, 3);
    expect(at, 'nothing during the pause').to.have.length(0);
    time.runUntil(2999);
    expect(at).to.have.length(0);
    time.runUntil(3100);
    expect(at.length).to.be.greaterThan(0);
    expect(at[0]).to.equal(3000);
    expect(budget.snapshot().episodes).to.equal(1);
  });

  it('a 429 without Retry-After still pauses the others for a second', () => {
    const time = new VirtualTime();
    const { budget } = budgetAt(time);
    budget.admitted(50);
    budget.observe(limited());
    const at = ask(budget, time, 1);
    time.runUntil(999);
    expect(at).to.have.length(0);
    time.runUntil(1000);
    expect(at).to.deep.equal([1000]);
  });

  it('cuts the rate to 90 % of the admissions measured before the 429, and paces grants at it', () => {
    const time = new VirtualTime();
    const { budget } = budgetAt(time);
    // 40 admitted in the second before the first 429: the quota estimate is 40/s.
    for (let t = 0; t < 1000; t += 25) {
      time.runUntil(t);
      budget.observe(ok);
    }
    time.runUntil(1000);
    budget.observe(limited(1));
    // The cut waits for the workers' last batches of admissions.
    expect(budget.snapshot().quota).to.equal(undefined);
    time.runUntil(1150);
    const snap = budget.snapshot();
    expect(snap.quota).to.be.closeTo(40, 1);
    expect(snap.rate).to.be.closeTo(36, 1);
    const at = ask(budget, time, 20);
    time.runUntil(2000 + 19 * 1000 / 36 + 1);
    expect(at).to.have.length(20);
    const gaps = at.slice(1).map((t, i) => t - at[i]!);
    // Demand above the rate lets it climb back towards the estimate; never faster than 40/s.
    for (const g of gaps) expect(g).to.be.within(1000 / 40 - 1, 1000 / 36 + 1);
  });

  it('a later 429 estimates the quota from what was admitted since the previous one', () => {
    const time = new VirtualTime();
    const { budget } = budgetAt(time);
    budget.admitted(100);
    budget.observe(limited(1)); // first episode at t = 0
    // 250 in 10 s, 25/s on average though only 10/s in the last second.
    for (let i = 1; i <= 10; i++) {
      time.runUntil(i * 1000);
      budget.admitted(i <= 5 ? 40 : 10);
    }
    budget.observe(limited(1));
    budget.admitted(3); // a batch posted before the 429, arriving after it: still this episode's
    time.runUntil(10_150);
    expect(budget.snapshot().quota).to.be.closeTo(25.3, 0.5);
    expect(budget.snapshot().rate).to.be.closeTo(22.5, 0.5);
    expect(budget.snapshot().episodes).to.equal(2);
  });

  it('429s answering requests sent before the pause belong to the same episode: one cut, not one per answer', () => {
    const time = new VirtualTime();
    const { budget } = budgetAt(time);
    budget.admitted(100);
    budget.observe(limited(1));
    const rate = budget.snapshot().rate;
    for (let i = 0; i < 10; i++) {
      time.runUntil(time.now() + 50);
      budget.observe(limited(1));
    }
    expect(budget.snapshot().rate).to.equal(rate);
    expect(budget.snapshot().episodes).to.equal(1);
    expect(budget.snapshot().rateLimited).to.equal(11);
  });

  it('a 429 on the first requests of a run only pauses: with nothing admitted it guesses no rate', () => {
    const time = new VirtualTime();
    const { budget, modes } = budgetAt(time);
    budget.observe(limited(0));
    expect(budget.snapshot().rate).to.equal(Infinity);
    expect(budget.free).to.equal(true);
    budget.observe(limited(1));
    expect(budget.free).to.equal(false);
    time.runUntil(1000);
    expect(budget.free, 'free again once the pause is over').to.equal(true);
    expect(modes).to.deep.equal([false, true]);
  });

  it('climbs back to the estimate and then beyond it while requests queue, and not while idle', () => {
    const time = new VirtualTime();
    const { budget } = budgetAt(time);
    for (let t = 0; t < 1000; t += 50) {
      time.runUntil(t);
      budget.admitted(1);
    }
    time.runUntil(1000);
    budget.observe(limited(1)); // quota 20/s, rate 18/s
    time.runUntil(5000);
    expect(budget.snapshot().rate, 'idle: unchanged').to.be.closeTo(18, 0.01);
    // Keep 5 requests queued for 20 s.
    let granted = 0;
    const more = (): void => budget.acquire(() => {
      granted++;
      more();
    });
    for (let i = 0; i < 5; i++) more();
    time.runUntil(8000);
    expect(budget.snapshot().rate, 'back near the estimate within 3 s').to.be.within(19.5, 20.5);
    time.runUntil(25_000);
    expect(budget.snapshot().rate, 'probing beyond it after 20 s').to.be.greaterThan(22);
    expect(granted).to.be.greaterThan(300);
  });

  it('rate_limit: never more than the ceiling in any second, even counting the jitter slack, and close to it', () => {
    const time = new VirtualTime();
    const { budget, modes } = budgetAt(time, { ceiling: 20 });
    expect(budget.free, 'a ceiling is never free').to.equal(false);
    const at: number[] = [];
    const more = (): void => budget.acquire(() => {
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
    const { budget } = budgetAt(time, { ceiling: 50, timers: late });
    const at: number[] = [];
    const more = (): void => budget.acquire(() => {
      at.push(time.now());
      more();
    });
    more();
    time.runUntil(10_000);
    expect(at.length / 10, 'within 3 % of the ceiling').to.be.at.least(48.5);
    expect(maxInWindow(at, 1000)).to.be.at.most(50);
  });

  it('rate-limit headers cap the rate at remaining ÷ seconds to reset, before any 429', () => {
    const time = new VirtualTime();
    const { budget, modes } = budgetAt(time);
    budget.observe({ status: 200, headers: { 'x-ratelimit-remaining': '30', 'x-ratelimit-reset': '3' } });
    expect(budget.snapshot().rate).to.equal(10);
    expect(modes).to.deep.equal([false]);
    const at = ask(budget, time, 5);
    time.runUntil(1000);
    expect(at).to.deep.equal([0, 100, 200, 300, 400]);
    time.runUntil(3000);
    expect(budget.free, 'the cap lapses at the reset').to.equal(true);
    expect(budget.snapshot().rateLimited).to.equal(0);
  });

  it('rate-limit headers with nothing remaining pause until the reset (RateLimit-* and Unix-time resets too)', () => {
    const time = new VirtualTime();
    const { budget } = budgetAt(time);
    const resetAt = (1_700_000_000_000 + 4000) / 1000; // a Unix time 4 s ahead
    budget.observe({ status: 200, headers: { 'ratelimit-remaining': '0', 'ratelimit-reset': String(resetAt) } });
    const at = ask(budget, time, 1);
    time.runUntil(3990);
    expect(at).to.have.length(0);
    time.runUntil(4000);
    expect(at).to.deep.equal([4000]);
  });

  it('reads the rate-limit header forms', () => {
    const now = 1_700_000_000_000;
    expect(rateLimitInfo({ 'x-ratelimit-remaining': '7', 'x-ratelimit-reset': '2' }, now)).to.deep.equal({ remaining: 7, resetSeconds: 2 });
    expect(rateLimitInfo({ 'ratelimit-remaining': '7', 'ratelimit-reset': '1700000010' }, now)).to.deep.equal({ remaining: 7, resetSeconds: 10 });
    expect(rateLimitInfo({ ratelimit: 'limit=100, remaining=50, reset=5' }, now)).to.deep.equal({ remaining: 50, resetSeconds: 5 });
    expect(rateLimitInfo({ ratelimit: '"default";r=12;t=30' }, now)).to.deep.equal({ remaining: 12, resetSeconds: 30 });
    expect(rateLimitInfo({ 'x-ratelimit-remaining': 'lots', 'x-ratelimit-reset': '2' }, now)).to.equal(undefined);
    expect(rateLimitInfo({ 'content-type': 'application/json' }, now)).to.equal(undefined);
    expect(rateLimitHeaders({ 'content-type': 'x', 'x-ratelimit-remaining': '1', 'ratelimit-reset': '2', ratelimit: 'r=1' })).to.deep.equal({
      'x-ratelimit-remaining': '1',
      'ratelimit-reset': '2',
      ratelimit: 'r=1',
    });
    expect(rateLimitHeaders({ 'content-type': 'x', 'retry-after': '1' })).to.equal(undefined);
  });

  it('never falls below the minimum rate', () => {
    const time = new VirtualTime();
    const { budget } = budgetAt(time);
    budget.admitted(10);
    for (let i = 0; i < 30; i++) {
      time.runUntil(time.now() + 1500);
      budget.observe(limited(1));
    }
    // 30 cuts of 10 % from 6/s would reach 0.28/s.
    expect(budget.snapshot().rate).to.equal(MIN_RATE);
  });

  it('close() grants every waiter and every later request at once', () => {
    const time = new VirtualTime();
    const { budget } = budgetAt(time, { ceiling: 1 });
    const at = ask(budget, time, 5);
    expect(at).to.have.length(1);
    budget.close();
    expect(at).to.have.length(5);
    expect(ask(budget, time, 2)).to.have.length(2);
  });

  describe('against a simulated token-bucket service (as the mock perKeyRateLimit)', () => {
    it('12 requests in flight, quota 40/s: finds it, ≥ 90 % of it admitted, < 2 % answered 429', () => {
      const r = simulate({ quota: 40, clients: 12, latencyMs: 5, seconds: 60 });
      expect(r.admittedPerSecond / 40).to.be.at.least(0.9);
      expect(r.share429).to.be.below(0.02);
    });

    it('a bucket ten times the quota: the first estimate is too high and the second corrects it', () => {
      const r = simulate({ quota: 40, burst: 400, clients: 12, latencyMs: 5, seconds: 60 });
      expect(r.admittedPerSecond / 40).to.be.at.least(0.9);
      expect(r.share429).to.be.below(0.02);
      expect(r.budget.snapshot().quota).to.be.within(36, 48);
    });

    it('with X-RateLimit headers: no 429 at all, ≥ 90 % of the quota', () => {
      const r = simulate({ quota: 40, clients: 12, latencyMs: 5, seconds: 60, headers: true });
      expect(r.rejected).to.equal(0);
      expect(r.admittedPerSecond / 40).to.be.at.least(0.9);
    });
  });
});
