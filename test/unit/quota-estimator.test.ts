// The quota estimator alone, in virtual time and without a queue: the pauses
// it asks for, the estimate it makes from admissions between 429s, how the
// rate climbs back and probes on grants that waited, and rate-limit headers.

import { expect } from 'chai';
import { LONG_RETRY_AFTER_SECONDS, MAX_PAUSE_MS, MIN_RATE, QuotaEstimator, type QuotaEstimatorOptions } from '../../src/engine/main/quota-estimator.js';
import { BURST, RECENT } from '../../src/engine/main/throttle-evidence.js';
import { VirtualTime } from '../support/virtual-time.js';

const WALL_ORIGIN = 1_700_000_000_000;

function estimatorAt(time: VirtualTime, opts: Partial<QuotaEstimatorOptions> = {}): { estimator: QuotaEstimator; cuts: number[] } {
  const cuts: number[] = [];
  const estimator = new QuotaEstimator({ ceiling: 0, now: time.now, wallNow: () => WALL_ORIGIN + time.now(), timers: time.timers, onCut: () => cuts.push(time.now()), ...opts });
  return { estimator, cuts };
}

const ok = { status: 200, headers: {} };
const limited = (retryAfterSeconds?: number) => ({ status: 429, headers: {}, ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }) });

/** BURST 429s at once: the last of them is a quota 429 of the burst kind (throttle-evidence.ts); the others are isolated. */
function burst(estimator: QuotaEstimator, retryAfterSeconds?: number): void {
  for (let i = 0; i < BURST; i++) estimator.observe(limited(retryAfterSeconds));
}

/** 20 admissions over the first second, then a burst of 429s at 1 s: quota 20/s, rate 18/s, paused until 2 s. */
function quotaFoundAtOneSecond(): { time: VirtualTime; estimator: QuotaEstimator } {
  const time = new VirtualTime();
  const { estimator } = estimatorAt(time);
  for (let t = 0; t < 1000; t += 50) {
    time.runUntil(t);
    estimator.admitted(1);
  }
  time.runUntil(1000);
  burst(estimator, 1);
  return { time, estimator };
}

/** 40 admissions in the run's first second, then a burst of 429s at t = 1000 with Retry-After 1 s. */
function fortyThenLimited(time: VirtualTime, estimator: QuotaEstimator): void {
  for (let t = 0; t < 1000; t += 25) {
    time.runUntil(t);
    estimator.observe(ok);
  }
  time.runUntil(1000);
  burst(estimator, 1);
}

describe('QuotaEstimator', () => {
  it('paces nothing until the first 429', () => {
    const time = new VirtualTime();
    const { estimator } = estimatorAt(time);
    estimator.admitted(1000);
    expect(estimator.rateAt(time.now())).to.equal(Infinity);
    expect(estimator.pausedUntil).to.equal(0);
    expect(estimator.unpacedFrom()).to.equal(0);
    expect(estimator.counts).to.deep.equal({ admitted: 1000, rateLimited: 0, episodes: 0, isolated: 0 });
  });

  it('a burst of 429s asks for a pause of its Retry-After, a second without one; a long Retry-After alone pauses too, never longer than MAX_PAUSE_MS', () => {
    const time = new VirtualTime();
    const { estimator } = estimatorAt(time);
    estimator.admitted(1000); // a key that met few 429s while free: a burst is BURST of them
    time.runUntil(1000);
    burst(estimator, 2);
    expect(estimator.pausedUntil).to.equal(3000);
    time.runUntil(5000);
    burst(estimator);
    expect(estimator.pausedUntil).to.equal(6000);
    time.runUntil(10_000);
    estimator.observe(limited(86_400));
    expect(estimator.pausedUntil).to.equal(10_000 + MAX_PAUSE_MS);
  });

  it('an isolated 429 (short Retry-After, no burst, no header saying the quota is spent) pauses nothing and cuts nothing', () => {
    const time = new VirtualTime();
    const { estimator, cuts } = estimatorAt(time);
    for (let t = 0; t < 3000; t += 10) {
      time.runUntil(t);
      estimator.observe(t % 500 === 0 ? limited(1) : ok);
    }
    time.runUntil(5000);
    expect(estimator.pausedUntil).to.equal(0);
    expect(estimator.rateAt(time.now())).to.equal(Infinity);
    expect(cuts).to.deep.equal([]);
    expect(estimator.counts).to.deep.include({ rateLimited: 6, episodes: 0, isolated: 6 });
  });

  it(`a Retry-After of ${LONG_RETRY_AFTER_SECONDS} s or more is a window ending: pause until then, and no cut`, () => {
    const time = new VirtualTime();
    const { estimator, cuts } = estimatorAt(time);
    estimator.admitted(300);
    time.runUntil(2000);
    estimator.observe(limited(LONG_RETRY_AFTER_SECONDS));
    expect(estimator.pausedUntil).to.equal(2000 + LONG_RETRY_AFTER_SECONDS * 1000);
    time.runUntil(60_000);
    expect(cuts).to.deep.equal([]);
    expect(estimator.rateAt(time.now())).to.equal(Infinity);
    expect(estimator.counts).to.deep.include({ episodes: 1, isolated: 0 });
    estimator.observe(limited(LONG_RETRY_AFTER_SECONDS - 1));
    expect(estimator.counts.isolated, 'one second less is not').to.equal(1);
  });

  it('a 429 after X-RateLimit-Remaining: 0 (without a reset, as Laravel answers) is the quota: pause, no cut', () => {
    const time = new VirtualTime();
    const { estimator, cuts } = estimatorAt(time);
    estimator.observe({ status: 200, headers: { 'x-ratelimit-limit': '300', 'x-ratelimit-remaining': '0' } });
    expect(estimator.pausedUntil, 'no reset: nothing to pause until').to.equal(0);
    time.runUntil(1000);
    estimator.observe(limited(2));
    expect(estimator.pausedUntil).to.equal(3000);
    time.runUntil(5000);
    expect(cuts).to.deep.equal([]);
    expect(estimator.counts).to.deep.include({ episodes: 1, isolated: 0 });
  });

  it('cuts to 90 % of the admissions measured before the 429, once the delayed batches are in, and says so', () => {
    const time = new VirtualTime();
    const { estimator, cuts } = estimatorAt(time);
    fortyThenLimited(time, estimator);
    time.runUntil(1149);
    expect(estimator.quota, 'not before the workers’ last batches can have arrived').to.equal(undefined);
    expect(cuts).to.deep.equal([]);
    time.runUntil(1150);
    expect(cuts).to.deep.equal([1150]);
    expect(estimator.quota).to.be.closeTo(40, 1);
    expect(estimator.rateAt(time.now())).to.be.closeTo(36, 1);
    expect(estimator.unpacedFrom(), 'a rate from a 429 does not lapse by itself').to.equal(Infinity);
  });

  it('a later 429 estimates the quota from what was admitted since the previous one', () => {
    const time = new VirtualTime();
    const { estimator } = estimatorAt(time);
    estimator.admitted(100);
    burst(estimator, 1); // first episode at t = 0
    // 250 in 10 s, 25/s on average though only 10/s in the last second.
    for (let i = 1; i <= 10; i++) {
      time.runUntil(i * 1000);
      estimator.admitted(i <= 5 ? 40 : 10);
    }
    burst(estimator, 1);
    estimator.admitted(3); // a batch posted before the 429, arriving after it: still this episode's
    time.runUntil(10_150);
    expect(estimator.quota).to.be.closeTo(25.3, 0.5);
    expect(estimator.rateAt(time.now())).to.be.closeTo(22.5, 0.5);
    expect(estimator.counts.episodes).to.equal(2);
  });

  it('429s answering requests sent before the pause belong to the same episode: one cut, not one per answer', () => {
    const time = new VirtualTime();
    const { estimator, cuts } = estimatorAt(time);
    estimator.admitted(100);
    burst(estimator, 1);
    time.runUntil(150); // the cut, once the batches are in
    const rate = estimator.rateAt(time.now());
    expect(rate).to.be.lessThan(Infinity);
    for (let i = 0; i < 10; i++) {
      time.runUntil(time.now() + 50);
      estimator.observe(limited(1));
    }
    expect(estimator.rateAt(time.now())).to.equal(rate);
    expect(estimator.counts.episodes).to.equal(1);
    expect(estimator.counts.rateLimited).to.equal(BURST + 10);
    expect(cuts).to.have.length(1);
  });

  it('a burst in the run’s first second takes the starting burst for a second of refill: estimate = admitted ÷ (span + 1.1 s)', () => {
    const time = new VirtualTime();
    const { estimator, cuts } = estimatorAt(time);
    // A 40/s bucket of 40: 40 at once, then 40/s, the bucket empty at 500 ms with 60 admitted.
    estimator.admitted(40);
    time.runUntil(500);
    estimator.admitted(20);
    burst(estimator, 1);
    time.runUntil(2000);
    expect(cuts).to.deep.equal([650]);
    // 60 ÷ (0.5 + 1 + 0.1) s: a little under the 40/s refill (the estimate errs low), not 60 ÷ 0.5 s = 120.
    expect(estimator.quota).to.be.closeTo(37.5, 0.01);
    expect(estimator.rateAt(time.now())).to.be.closeTo(0.9 * 37.5, 0.01);
  });

  it('a burst in the run’s first second with fewer than 5 admissions only pauses: it guesses no rate from so little', () => {
    const time = new VirtualTime();
    const { estimator, cuts } = estimatorAt(time);
    estimator.admitted(4);
    time.runUntil(500);
    burst(estimator, 1);
    time.runUntil(2000);
    expect(cuts, 'the cut was considered').to.deep.equal([650]);
    expect(estimator.quota).to.equal(undefined);
    expect(estimator.rateAt(time.now())).to.equal(Infinity);
  });

  it('never falls below the minimum rate', () => {
    const time = new VirtualTime();
    const { estimator } = estimatorAt(time);
    estimator.admitted(10);
    for (let i = 0; i < 30; i++) {
      time.runUntil(time.now() + 1500);
      // Whole bursts: with this many 429s in the background, a burst takes more of them (throttle-evidence.ts).
      for (let j = 0; j < RECENT; j++) estimator.observe(limited(1));
    }
    expect(estimator.counts.episodes).to.equal(30);
    // 30 cuts of 10 % from 6/s would reach 0.28/s.
    expect(estimator.rateAt(time.now())).to.equal(MIN_RATE);
  });

  describe('probing tolerates the background share of 429s (PROBE_SIGMAS, issue 8c)', () => {
    /** Quota 20/s from a burst at 1 s; then 600 answers paced below it, `every`-th a 429; then grants back up to the estimate. */
    function atEstimate(every: number): { time: VirtualTime; estimator: QuotaEstimator } {
      const { time, estimator } = quotaFoundAtOneSecond(); // quota 20/s, rate 18/s, paused until 2000
      let t = 2000;
      for (let i = 0; i < 600; i++) {
        time.runUntil((t += 50));
        estimator.observe(every > 0 && i % every === 0 ? limited(1) : ok);
      }
      for (let end = t + 6000; t < end; t += 50) {
        time.runUntil(t);
        estimator.onGrant(t, 50);
      }
      expect(estimator.rateAt(t), 'at the estimate').to.be.within(0.995 * 20, 20.1);
      expect(estimator.counts).to.deep.include({ episodes: 1 });
      return { time, estimator };
    }

    it('with 3 % of 429s learnt below the estimate, a lone 429 at it cuts nothing; 429s beyond what the share explains do', () => {
      const { time, estimator } = atEstimate(33);
      const at = (): number => time.now();
      for (let i = 0; i < 40; i++) {
        time.runUntil(at() + 50);
        estimator.observe(ok);
      }
      estimator.observe(limited(1));
      time.runUntil(at() + 200);
      expect(estimator.counts, 'isolated: the background explains it').to.deep.include({ episodes: 1 });
      expect(estimator.rateAt(at())).to.be.at.least(0.995 * 20);
      let limitedCount = 1;
      while (estimator.counts.episodes === 1 && limitedCount < 20) {
        for (let i = 0; i < 2; i++) {
          time.runUntil(at() + 50);
          estimator.observe(ok);
        }
        estimator.observe(limited(1));
        limitedCount++;
      }
      // ~2.3 % of ~55 answers is 1.3 expected: the bar is 1.3 + 3 × √1.3 + 1 ≈ 5.7.
      expect(limitedCount, 'the probe is cut once its 429s pass the bar').to.be.within(5, 7);
      expect(estimator.counts.episodes).to.equal(2);
      expect(estimator.rateAt(at())).to.be.at.most(0.9 * 20 + 1e-9);
    });

    it('without a background share, the first 429 at the estimate is the probe’s: it cuts at once', () => {
      const { time, estimator } = atEstimate(0);
      estimator.observe(limited(1));
      expect(estimator.counts.episodes).to.equal(2);
      expect(estimator.rateAt(time.now())).to.be.at.most(0.9 * 20 + 1e-9);
    });
  });

  it('climbs back to the estimate and then beyond it on grants that waited for their slot, and not on others', () => {
    const { time, estimator } = quotaFoundAtOneSecond(); // quota 20/s, rate 18/s; growth counts from the pause's end at 2000
    time.runUntil(2000);
    for (let t = 2000; t <= 5000; t += 50) estimator.onGrant(t, 0);
    expect(estimator.rateAt(5000), 'grants that did not wait: unchanged').to.be.closeTo(18, 0.01);
    // A waited grant after a quiet spell counts two slots of growth, not the spell.
    estimator.onGrant(9000, 50);
    expect(estimator.rateAt(9000)).to.be.within(18.01, 18 + 2 * (1 - Math.exp(-100 / 1500)) + 1e-9);
    for (let t = 9050; t <= 12_000; t += 50) estimator.onGrant(t, 50);
    expect(estimator.rateAt(12_000), 'back near the estimate within 3 s').to.be.within(19.5, 20.5);
    for (let t = 12_050; t <= 29_000; t += 50) estimator.onGrant(t, 50);
    expect(estimator.rateAt(29_000), 'probing beyond it after 20 s').to.be.greaterThan(22);
  });

  it('rate_limit bounds the estimate and the probing', () => {
    const time = new VirtualTime();
    const { estimator } = estimatorAt(time, { ceiling: 20 });
    expect(estimator.rateAt(0)).to.equal(20);
    expect(estimator.unpacedFrom(), 'a ceiling never lapses').to.equal(Infinity);
    fortyThenLimited(time, estimator); // 40/s admitted, though the ceiling says 20
    time.runUntil(2000);
    expect(estimator.quota).to.equal(20);
    for (let t = 2000; t <= 60_000; t += 50) estimator.onGrant(t, 50);
    expect(estimator.rateAt(60_000)).to.equal(20);
  });

  it('rate-limit headers cap the rate at remaining ÷ seconds to reset, until the reset', () => {
    const time = new VirtualTime();
    const { estimator } = estimatorAt(time);
    estimator.observe({ status: 200, headers: { 'x-ratelimit-remaining': '30', 'x-ratelimit-reset': '3' } });
    expect(estimator.rateAt(0)).to.equal(10);
    expect(estimator.unpacedFrom()).to.equal(3000);
    expect(estimator.rateAt(3000)).to.equal(Infinity);
    expect(estimator.counts).to.deep.equal({ admitted: 1, rateLimited: 0, episodes: 0, isolated: 0 });
  });

  it('rate-limit headers with nothing remaining pause until the reset, given as a Unix time too', () => {
    const time = new VirtualTime();
    const { estimator } = estimatorAt(time);
    time.runUntil(1000);
    estimator.observe({ status: 200, headers: { 'ratelimit-remaining': '0', 'ratelimit-reset': String((WALL_ORIGIN + 5000) / 1000) } });
    expect(estimator.pausedUntil).to.equal(5000);
    expect(estimator.rateAt(1000)).to.equal(Infinity);
  });

  it('close() drops a cut still waiting for its batches', () => {
    const time = new VirtualTime();
    const { estimator, cuts } = estimatorAt(time);
    fortyThenLimited(time, estimator);
    estimator.close();
    time.runUntil(5000);
    expect(cuts).to.deep.equal([]);
    expect(estimator.quota).to.equal(undefined);
  });
});
