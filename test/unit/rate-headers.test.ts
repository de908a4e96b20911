// The rate-limit headers both threads read: the worker keeps only these to
// post, the main thread's budget turns them into a cap or a pause.

import { expect } from 'chai';
import { rateLimitHeaders, rateLimitInfo } from '../../src/engine/shared/rate-headers.js';

describe('rate-limit headers', () => {
  it('reads the rate-limit header forms', () => {
    const now = 1_700_000_000_000;
    expect(rateLimitInfo({ 'x-ratelimit-remaining': '7', 'x-ratelimit-reset': '2' }, now)).to.deep.equal({ remaining: 7, resetSeconds: 2 });
    expect(rateLimitInfo({ 'ratelimit-remaining': '7', 'ratelimit-reset': '1700000010' }, now)).to.deep.equal({ remaining: 7, resetSeconds: 10 });
    expect(rateLimitInfo({ ratelimit: 'limit=100, remaining=50, reset=5' }, now)).to.deep.equal({ remaining: 50, resetSeconds: 5 });
    expect(rateLimitInfo({ ratelimit: '"default";r=12;t=30' }, now)).to.deep.equal({ remaining: 12, resetSeconds: 30 });
    expect(rateLimitInfo({ 'x-ratelimit-remaining': 'lots', 'x-ratelimit-reset': '2' }, now)).to.equal(undefined);
    expect(rateLimitInfo({ 'content-type': 'application/json' }, now)).to.equal(undefined);
  });

  it('a repeated header counts by its first value; a negative one is no information', () => {
    const now = 1_700_000_000_000;
    expect(rateLimitInfo({ 'x-ratelimit-remaining': ['3', '9'], 'x-ratelimit-reset': '2' }, now)).to.deep.equal({ remaining: 3, resetSeconds: 2 });
    expect(rateLimitInfo({ 'x-ratelimit-remaining': '-1', 'x-ratelimit-reset': '2' }, now)).to.equal(undefined);
  });

  it('keeps only the rate-limit headers for the trip across threads', () => {
    expect(rateLimitHeaders({ 'content-type': 'x', 'x-ratelimit-remaining': '1', 'ratelimit-reset': '2', ratelimit: 'r=1' })).to.deep.equal({
      'x-ratelimit-remaining': '1',
      'ratelimit-reset': '2',
      ratelimit: 'r=1',
    });
    expect(rateLimitHeaders({ 'content-type': 'x', 'retry-after': '1' })).to.equal(undefined);
  });
});
