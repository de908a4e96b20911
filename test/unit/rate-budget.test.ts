// The per-key rate budget as the coordinator uses it, in virtual time: the
// quota estimator and the grant queue together (each alone:
// quota-estimator.test.ts, grant-queue.test.ts), and whole simulated runs
// against a token-bucket service.

import { expect } from 'chai';
import { CEILING_JITTER_MS } from '../../src/engine/main/grant-queue.js';
import { RateBudget, type RateBudgetOptions } from '../../src/engine/main/rate-budget.js';
import { BURST } from '../../src/engine/main/throttle-evidence.js';
import { METER_BELOW } from '../../src/engine/main/remaining-meter.js';
import { parseRetryAfter } from '../../src/api/retry-policy.js';
import { ask, maxInWindow } from '../support/grant-times.js';
import { simulate } from '../support/rate-simulation.js';
import { VirtualTime } from '../support/virtual-time.js';

function budgetAt(time: VirtualTime, opts: Partial<RateBudgetOptions> = {}): { budget: RateBudget; modes: boolean[] } {
  const modes: boolean[] = [];
  const budget = new RateBudget({ ceiling: 0, now: time.now, wallNow: () => 1_700_000_000_000 + time.now(), timers: time.timers, onFreeChange: (f) => modes.push(f), ...opts });
  return { budget, modes };
}

const ok = { status: 200, headers: {} };
const limited = (retryAfterSeconds?: number) => ({ status: 429, headers: {}, ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }) });

/** BURST 429s at once: a burst, which only a rate above the quota makes (throttle-evidence.ts). */
function burst(budget: RateBudget, retryAfterSeconds?: number): void {
  for (let i = 0; i < BURST; i++) budget.observe(limited(retryAfterSeconds));
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

  it('a burst of 429s pauses every grant until its Retry-After has passed, and says the budget is no longer free', () => {
    const time = new VirtualTime();
    const { budget, modes } = budgetAt(time);
    budget.admitted(50);
    time.runUntil(1000);
    burst(budget, 2);
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

  it('a burst of 429s without Retry-After still pauses the others for a second', () => {
    const time = new VirtualTime();
    const { budget } = budgetAt(time);
    budget.admitted(50);
    burst(budget);
    const at = ask(budget, time, 1);
    time.runUntil(999);
    expect(at).to.have.length(0);
    time.runUntil(1000);
    expect(at).to.deep.equal([1000]);
  });

  it('cuts the rate to 90 % of the admissions measured before a burst of 429s, and paces grants at it', () => {
    const time = new VirtualTime();
    const { budget } = budgetAt(time);
    // 40 admitted in the second before the first 429: the quota estimate is 40/s.
    for (let t = 0; t < 1000; t += 25) {
      time.runUntil(t);
      budget.observe(ok);
    }
    time.runUntil(1000);
    burst(budget, 1);
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

  it('a burst of 429s on the first requests of a run only pauses: with nothing admitted it guesses no rate', () => {
    const time = new VirtualTime();
    const { budget, modes } = budgetAt(time);
    burst(budget, 0);
    expect(budget.snapshot().rate).to.equal(Infinity);
    expect(budget.free).to.equal(true);
    budget.observe(limited(1));
    expect(budget.free).to.equal(false);
    time.runUntil(1000);
    expect(budget.free, 'free again once the pause is over').to.equal(true);
    expect(modes).to.deep.equal([false, true]);
  });

  it('a cut decided after a short pause has ended makes the key paced again, and says so', () => {
    const time = new VirtualTime();
    const { budget, modes } = budgetAt(time);
    budget.admitted(50);
    time.runUntil(1000);
    burst(budget, 0.1);
    time.runUntil(1100);
    expect(modes, 'free again once the pause is over').to.deep.equal([false, true]);
    time.runUntil(1150);
    expect(modes, 'the cut paces the key').to.deep.equal([false, true, false]);
    expect(budget.snapshot().rate).to.be.closeTo(45, 1);
  });

  it('climbs back to the estimate and then beyond it while requests queue, and not while idle', () => {
    const time = new VirtualTime();
    const { budget } = budgetAt(time);
    for (let t = 0; t < 1000; t += 50) {
      time.runUntil(t);
      budget.admitted(1);
    }
    time.runUntil(1000);
    burst(budget, 1); // quota 20/s, rate 18/s
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

  it('rate_limit reaches both halves: grants stay under it in every second, and so does the estimate', () => {
    const time = new VirtualTime();
    const { budget, modes } = budgetAt(time, { ceiling: 20 });
    expect(budget.free, 'a ceiling is never free').to.equal(false);
    const at: number[] = [];
    const more = (): void => budget.acquire(() => {
      at.push(time.now());
      if (time.now() < 5000) more();
    });
    // Admissions at 100/s, more than the ceiling lets through: the estimate still stays under it.
    budget.admitted(100);
    for (let i = 0; i < 8; i++) more();
    time.runUntil(1000);
    burst(budget, 1);
    time.runUntil(5000);
    expect(maxInWindow(at, 1000 + CEILING_JITTER_MS)).to.be.at.most(20);
    expect(budget.snapshot().quota).to.equal(20);
    expect(modes).to.deep.equal([]);
  });

  it('close() grants every waiter and every later request at once, and drops a pending cut', () => {
    const time = new VirtualTime();
    const { budget } = budgetAt(time, { ceiling: 1 });
    budget.admitted(100);
    time.runUntil(1000);
    burst(budget, 0);
    const at = ask(budget, time, 5);
    expect(at).to.have.length(1);
    budget.close();
    expect(at).to.have.length(5);
    expect(ask(budget, time, 2)).to.have.length(2);
    time.runUntil(5000);
    expect(budget.snapshot().quota, 'no cut after close').to.equal(undefined);
  });

  describe('isolated 429s and quota 429s (issue 8)', () => {
    it('one isolated 429 to section A delays neither section B nor A’s other requests: the key stays free', () => {
      const time = new VirtualTime();
      const { budget, modes } = budgetAt(time);
      for (let t = 0; t <= 2000; t += 10) {
        time.runUntil(t);
        budget.observe(ok);
      }
      budget.observe(limited(1)); // A's request: it waits its Retry-After in the API client, alone
      expect(budget.free).to.equal(true);
      expect(modes, 'no worker is told to ask for grants').to.deep.equal([]);
      const a = ask(budget, time, 5);
      const b = ask(budget, time, 5);
      expect([...a, ...b], 'every grant at once').to.deep.equal(Array(10).fill(2000));
      expect(budget.snapshot()).to.deep.include({ pausedForMs: 0, episodes: 0, isolated: 1, rateLimited: 1 });
    });

    it('an isolated 429 on a paced key does not pause it nor change its pace', () => {
      const time = new VirtualTime();
      const { budget } = budgetAt(time);
      budget.admitted(40);
      time.runUntil(1000);
      burst(budget, 1); // quota 40/s, rate 36/s, paused until 2000
      time.runUntil(2000);
      const rate = budget.snapshot().rate;
      const at: number[] = [];
      const more = (): void => budget.acquire(() => {
        at.push(time.now());
        if (at.length < 40) more();
      });
      more();
      time.runUntil(2300);
      for (let i = 0; i < 10; i++) budget.observe(ok); // the answers to the grants so far
      budget.observe(limited(1));
      time.runUntil(4000);
      expect(budget.snapshot()).to.deep.include({ episodes: 1, pausedForMs: 0 });
      const gaps = at.slice(1).map((t, i) => t - at[i]!);
      expect(Math.max(...gaps), 'no gap beyond the pace').to.be.at.most(Math.ceil(1000 / rate));
      expect(at).to.have.length(40);
    });

    it('a burst of 429s slows every section on the key: all wait for the pause, then go at the cut rate', () => {
      const time = new VirtualTime();
      const { budget, modes } = budgetAt(time);
      for (let t = 0; t <= 2000; t += 10) {
        time.runUntil(t);
        budget.admitted(1);
      }
      burst(budget, 1);
      expect(modes).to.deep.equal([false]);
      const a = ask(budget, time, 10);
      const b = ask(budget, time, 10);
      time.runUntil(2999);
      expect([...a, ...b], 'nothing for either section during the pause').to.deep.equal([]);
      time.runUntil(5000);
      expect(a.length + b.length).to.equal(20);
      const all = [...a, ...b].sort((x, y) => x - y);
      expect(all[0]).to.equal(3000);
      // 100/s were admitted before the burst: the quota estimate; both sections together paced below it.
      expect(budget.snapshot().quota).to.be.closeTo(100, 1);
      expect(all[19]! - all[0]!).to.be.at.least(19 * (1000 / 100) - 1);
    });

    it('a fixed-window 429 with Retry-After: 37 sends nothing on the key for 37 s, then resumes at full speed', () => {
      const time = new VirtualTime();
      const { budget, modes } = budgetAt(time);
      budget.admitted(300);
      time.runUntil(1000);
      budget.observe({ status: 429, headers: {}, retryAfterSeconds: 37 });
      const at = ask(budget, time, 20);
      time.runUntil(37_999);
      expect(at, 'nothing during the 37 s').to.deep.equal([]);
      time.runUntil(38_000);
      expect(at, 'all at the reset: a new window').to.deep.equal(Array(20).fill(38_000));
      time.runUntil(40_000);
      expect(budget.free).to.equal(true);
      expect(modes).to.deep.equal([false, true]);
      expect(budget.snapshot().quota, 'a window is not a rate: nothing cut').to.equal(undefined);
    });

    it('X-RateLimit-Remaining: 0 with X-RateLimit-Reset (Laravel) pauses until the reset, before any 429', () => {
      const time = new VirtualTime();
      const { budget } = budgetAt(time);
      time.runUntil(1000);
      const reset = Math.ceil((1_700_000_000_000 + 30_000) / 1000); // a Unix second 29 s ahead
      budget.observe({ status: 200, headers: { 'x-ratelimit-limit': '300', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(reset) } });
      const at = ask(budget, time, 3);
      time.runUntil(29_999);
      expect(at).to.deep.equal([]);
      time.runUntil(30_000);
      expect(at).to.deep.equal([30_000, 30_000, 30_000]);
      expect(budget.snapshot().rateLimited).to.equal(0);
    });

    it('an HTTP-date Retry-After is honoured: the API client reads it as seconds, the key waits that long', () => {
      const time = new VirtualTime();
      const wall = (): number => 1_700_000_000_000 + time.now();
      const { budget } = budgetAt(time);
      budget.admitted(100);
      time.runUntil(2000);
      const retryAfter = parseRetryAfter(new Date(wall() + 45_000).toUTCString(), wall());
      expect(retryAfter).to.deep.equal({ kind: 'seconds', seconds: 45 });
      budget.observe({ status: 429, headers: {}, retryAfterSeconds: retryAfter.kind === 'seconds' ? retryAfter.seconds : -1 });
      const at = ask(budget, time, 1);
      time.runUntil(46_999);
      expect(at).to.deep.equal([]);
      time.runUntil(47_000);
      expect(at).to.deep.equal([47_000]);
    });

    it('X-RateLimit-Remaining without a reset: below METER_BELOW, grants are counted against it; at 0 one request goes alone', () => {
      const time = new VirtualTime();
      const { budget, modes } = budgetAt(time);
      const remaining = (n: number) => ({ status: 200, headers: { 'x-ratelimit-limit': '300', 'x-ratelimit-remaining': String(n) } });
      budget.observe(remaining(METER_BELOW + 1));
      expect(budget.free).to.equal(true);
      budget.observe(remaining(3));
      expect(modes, 'the key asks for grants from now on').to.deep.equal([false]);
      const at = ask(budget, time, 5);
      expect(at, 'three remain: three go').to.have.length(3);
      budget.observe(remaining(2)); // one of them answered: 2 remain, 2 unanswered
      expect(at).to.have.length(3);
      budget.observe(remaining(1));
      budget.observe(remaining(0));
      expect(at, 'none remains and none is unanswered: one goes, to learn when the window ends').to.have.length(4);
      budget.observe({ status: 429, headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(1_700_000_000 + 20) }, retryAfterSeconds: 20 });
      time.runUntil(19_999);
      expect(at).to.have.length(4);
      time.runUntil(20_000);
      expect(at, 'after the reset, the count is forgotten').to.have.length(5);
      expect(budget.free).to.equal(true);
      expect(budget.snapshot().rateLimited).to.equal(1);
    });
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

    it('random 429s at 5 % and no quota, for an hour: never a pause nor a cut, every 429 isolated', () => {
      const r = simulate({ quota: 0, clients: 12, latencyMs: 20, seconds: 3600, random429: 0.05 });
      const s = r.budget.snapshot();
      expect(r.rejected).to.be.greaterThan(1000);
      expect(s).to.deep.include({ episodes: 0, quota: undefined, rate: Infinity, free: true });
      expect(s.isolated).to.equal(s.rateLimited);
    });

    for (const random429 of [0.02, 0.05]) {
      it(`random 429s at ${random429 * 100} % on top of a 40/s bucket, for an hour: the estimate does not collapse, ≥ 90 % of the quota admitted`, () => {
        const r = simulate({ quota: 40, clients: 12, latencyMs: 5, seconds: 3600, random429 });
        // Issue 8: ≥ 85 %. Issue 8c: probing goes on through the background share of 429s (PROBE_SIGMAS),
        // learnt while paced below the estimate too: 93 % at 5 %, 97 % at 2 %.
        expect(r.admittedPerSecond / 40).to.be.at.least(0.9);
        expect(r.budget.snapshot().quota).to.be.within(36, 48);
      });
    }

    it('a Laravel fixed window of 300 per 60 s: ≥ 90 % of it used, < 3 % of requests answered 429, nothing sent while paused before the reset', () => {
      const r = simulate({ quota: 0, fixedWindow: { requests: 300, seconds: 60 }, clients: 12, latencyMs: 5, seconds: 600 });
      expect(r.admitted / (300 * 10)).to.be.at.least(0.9);
      expect(r.share429).to.be.below(0.03);
      // Windows open at the first request after the last one ended; each holds at most 300 and one 429, which says when it ends.
      let start = -Infinity;
      let inWindow = 0;
      for (const at of r.arrivals) {
        if (at >= start + 60_000) {
          start = at;
          inWindow = 0;
        }
        inWindow++;
        expect(inWindow, `requests in the window from ${start} ms`).to.be.at.most(301);
      }
    });

    describe('the trial cut: a steady modest share of 429s on a free key (quota-trial.ts)', () => {
      it('a token bucket with 4 requests in flight (each refused one waits 1 s): one trial finds the quota, < 1 % answered 429', () => {
        // Without the trial the key stayed free at about 7 % 429s: no burst, no high share.
        const r = simulate({ quota: 50, clients: 4, latencyMs: 5, seconds: 600 });
        const s = r.budget.snapshot();
        expect(r.budget.trials).to.deep.equal({ trials: 1, quotas: 1 });
        expect(s.free).to.equal(false);
        expect(s.quota).to.be.within(45, 52.5);
        expect(r.share429).to.be.below(0.01);
        expect(r.admittedPerSecond / 50).to.be.at.least(0.97);
      });

      for (const clients of [2, 4]) {
        it(`random 429s at 5 % and no quota, ${clients} in flight, for an hour: at most three trials, none finds a quota, the key ends free and runs at ≥ 97 % of its speed without trials`, () => {
          const r = simulate({ quota: 0, clients, latencyMs: 20, seconds: 3600, random429: 0.05 });
          const s = r.budget.snapshot();
          expect(r.budget.trials.trials).to.be.within(1, 3);
          expect(r.budget.trials.quotas).to.equal(0);
          expect(s).to.deep.include({ episodes: 0, quota: undefined, rate: Infinity, free: true });
          // Free, a client spends L per answer plus 1 s per 429: the admitted rate it reaches without any trial.
          const untried = (clients * 0.95) / (0.02 + 0.05 * 1);
          expect(r.admittedPerSecond / untried).to.be.at.least(0.97);
        });
      }

      it('random 429s at 2 % and no quota, for an hour: at most one trial, no quota found, free at ≥ 97 % of its speed without trials', () => {
        const r = simulate({ quota: 0, clients: 4, latencyMs: 20, seconds: 3600, random429: 0.02 });
        expect(r.budget.trials.trials).to.be.at.most(1);
        expect(r.budget.trials.quotas).to.equal(0);
        expect(r.budget.snapshot()).to.deep.include({ episodes: 0, free: true });
        expect(r.admittedPerSecond / ((4 * 0.98) / (0.02 + 0.02 * 1))).to.be.at.least(0.97);
      });

      it('20 in flight at 30 ms on a 50/s bucket: the estimate no longer stands above it, < 1 % answered 429', () => {
        // Issue 8b: about 4.4 % of 429s without the paced trial (an estimate of about 54 from the
        // last second after the first pause). Issue 8c: the first estimate errs low and the second
        // is measured between the episodes alone, so no trial is needed.
        const r = simulate({ quota: 50, clients: 20, latencyMs: 30, seconds: 600 });
        expect(r.budget.snapshot().quota).to.be.within(45, 51);
        expect(r.share429).to.be.below(0.01);
        expect(r.admittedPerSecond / 50).to.be.at.least(0.97);
      });

      it('a paced key whose quota shrinks from 55/s to 50/s (another client took a share): a paced trial lowers the estimate, < 1 % answered 429', () => {
        // The estimate of 55 then stands above the quota, where the 429s come below AT_ESTIMATE × it:
        // isolated, never lowering it. The paced trial asks whether cutting makes them stop.
        const r = simulate({ quota: 55, quotaAfter: { ms: 60_000, quota: 50 }, clients: 12, latencyMs: 5, seconds: 600 });
        expect(r.budget.trials.quotas).to.be.at.least(1);
        expect(r.budget.snapshot().quota).to.be.within(45, 51);
        expect(r.share429).to.be.below(0.01);
        expect(r.admittedPerSecond / ((55 * 60 + 50 * 540) / 600)).to.be.at.least(0.97);
      });

      it('a 50/s bucket plus 2 % random 429s, 4 in flight: the trial finds the quota, the key stays paced, probing rises through the random 429s', () => {
        const r = simulate({ quota: 50, clients: 4, latencyMs: 5, seconds: 1800, random429: 0.02 });
        const s = r.budget.snapshot();
        expect(r.budget.trials.quotas).to.be.at.least(1);
        expect(s.free).to.equal(false);
        expect(s.quota).to.be.within(45, 52.5);
        // 2 % random plus the probes' own, which now go on until their 429s pass the background's (PROBE_SIGMAS).
        expect(r.share429).to.be.within(0.015, 0.035);
        // Issue 8b: 82 %: the trial's estimate was what 4 clients got admitted while a twelfth of their
        // requests waited, and every random 429 at the estimate cut the probe that should raise it.
        expect(r.admittedPerSecond / 50).to.be.at.least(0.95);
      });
    });

    it('the quota-429 bench’s pattern (4 workers, 12 in flight, a refused request waits apart while its slot goes on, the main thread 50 ms late): the hold keeps 429s < 1 %', () => {
      // Issue 8c. In the real bench the main thread read a run's first 429s in one batch ~50 ms late,
      // and free workers, whose refused details gave their slots to the next ones, sent some thirty more
      // into the empty bucket. With the hold each worker stops at its first 429 until the budget heard it.
      const pattern = { quota: 50, clients: 12, workers: 4, latencyMs: 5, seconds: 60, observeLagMs: 50, freesSlot: true };
      const held = simulate({ ...pattern, hold: true });
      expect(held.share429).to.be.below(0.01);
      expect(held.admittedPerSecond / 50).to.be.at.least(0.97);
      const unheld = simulate(pattern);
      expect(unheld.share429, 'without the hold').to.be.above(0.03);
    });

    it('with X-RateLimit headers: no 429 at all, ≥ 90 % of the quota', () => {
      const r = simulate({ quota: 40, clients: 12, latencyMs: 5, seconds: 60, headers: true });
      expect(r.rejected).to.equal(0);
      expect(r.admittedPerSecond / 40).to.be.at.least(0.9);
    });
  });
});
