// What the recent answers on a key say about a 429 (throttle-evidence.ts):
// here only the background share of 429s and what a burst takes back out of
// it (issue 8c); bursts and high shares are exercised through the quota
// estimator (quota-estimator.test.ts, rate-budget.test.ts).

import { expect } from 'chai';
import { BACKGROUND_PRIOR, BURST, SHARE_MS, ThrottleEvidence } from '../../src/engine/main/throttle-evidence.js';

describe('ThrottleEvidence', () => {
  it('learns the background share from the answers while learning, as 429s ÷ (answers + BACKGROUND_PRIOR)', () => {
    const e = new ThrottleEvidence();
    e.admitted(0, 95);
    for (let i = 0; i < 5; i++) e.rateLimited(10 * i);
    expect(e.backgroundShare).to.be.closeTo(5 / (100 + BACKGROUND_PRIOR), 1e-9);
    e.learning = false;
    e.admitted(100, 100);
    e.rateLimited(100);
    expect(e.backgroundShare, 'not while not learning').to.be.closeTo(5 / (100 + BACKGROUND_PRIOR), 1e-9);
  });

  it('a burst’s 429s are taken back out of the background share; isolated 429s from before its SHARE_MS stay in it', () => {
    const e = new ThrottleEvidence();
    e.admitted(0, 199);
    e.rateLimited(0); // an isolated 429, long before the burst
    e.admitted(SHARE_MS + 500, 50);
    for (let i = 0; i < BURST; i++) e.rateLimited(SHARE_MS + 600);
    expect(e.burst()).to.equal(true);
    expect(e.backgroundShare).to.be.closeTo((1 + BURST) / (250 + BURST + BACKGROUND_PRIOR), 1e-9);
    e.unlearnRecent();
    // The quota's 429s leave; the lone one before them and every admission stay.
    expect(e.backgroundShare).to.be.closeTo(1 / (250 + BACKGROUND_PRIOR), 1e-9);
    e.unlearnRecent();
    expect(e.backgroundShare, 'taken out once').to.be.closeTo(1 / (250 + BACKGROUND_PRIOR), 1e-9);
  });

  it('429s that came while not learning are not taken out of what was learnt', () => {
    const e = new ThrottleEvidence();
    e.admitted(0, 100);
    e.rateLimited(10);
    e.learning = false;
    for (let i = 0; i < BURST; i++) e.rateLimited(SHARE_MS + 500);
    e.unlearnRecent();
    expect(e.backgroundShare).to.be.closeTo(1 / (101 + BACKGROUND_PRIOR), 1e-9);
  });
});
