import { expect } from 'chai';
import {
  MAX_RETRY_AFTER_SECONDS,
  RATE_LIMIT_RETRIES,
  backoffMs,
  parseRetryAfter,
  rateLimitDecision,
  transientRetryWaitMs,
} from '../../src/api/retry-policy.js';

describe('retry-policy', () => {
  describe('backoffMs', () => {
    it('doubles from the base: 2 s, 4 s, 8 s … capped at 60 s', () => {
      const waits = [1, 2, 3, 4, 5, 6, 7, 8].map((n) => backoffMs(n, 2));
      expect(waits).to.deep.equal([2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000]);
    });

    it('starts at the configured base', () => {
      expect([1, 2, 3].map((n) => backoffMs(n, 5))).to.deep.equal([5000, 10000, 20000]);
    });

    it('stays at the cap for huge retry numbers instead of overflowing', () => {
      expect(backoffMs(5000, 2)).to.equal(60000);
    });

    it('is 0 for a zero base', () => {
      expect(backoffMs(3, 0)).to.equal(0);
    });
  });

  describe('transientRetryWaitMs', () => {
    it('allows exactly `retries` retries', () => {
      expect(transientRetryWaitMs(1, 2, 2)).to.equal(2000);
      expect(transientRetryWaitMs(2, 2, 2)).to.equal(4000);
      expect(transientRetryWaitMs(3, 2, 2)).to.equal(null);
      expect(transientRetryWaitMs(1, 0, 2)).to.equal(null);
    });
  });

  describe('parseRetryAfter', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');

    it('reads delay-seconds', () => {
      expect(parseRetryAfter('7', now)).to.deep.equal({ kind: 'seconds', seconds: 7 });
      expect(parseRetryAfter(' 0 ', now)).to.deep.equal({ kind: 'seconds', seconds: 0 });
    });

    it('reads an HTTP-date as seconds from now, and a past date as 0', () => {
      expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:30 GMT', now)).to.deep.equal({ kind: 'seconds', seconds: 30 });
      expect(parseRetryAfter('Tue, 31 Dec 2024 23:00:00 GMT', now)).to.deep.equal({ kind: 'seconds', seconds: 0 });
    });

    it('is absent when there is no header', () => {
      expect(parseRetryAfter(undefined, now)).to.deep.equal({ kind: 'absent' });
    });

    it('is unparsable for garbage, negatives and empty values', () => {
      for (const v of ['soon', '-5', '', '1e3', 'Mon, 99 Foo']) {
        expect(parseRetryAfter(v, now).kind, v).to.equal('unparsable');
      }
    });

    it('uses the first of repeated headers', () => {
      expect(parseRetryAfter(['3', '9'], now)).to.deep.equal({ kind: 'seconds', seconds: 3 });
    });
  });

  describe('rateLimitDecision', () => {
    it('waits Retry-After seconds when numeric', () => {
      expect(rateLimitDecision(1, { kind: 'seconds', seconds: 7 }, 2)).to.deep.equal({ retry: true, waitMs: 7000, reason: 'retry-after' });
    });

    it('backs off as without Retry-After when it is present but unparsable', () => {
      expect([1, 2, 3].map((n) => rateLimitDecision(n, { kind: 'unparsable', raw: 'soon' }, 2))).to.deep.equal([
        { retry: true, waitMs: 2000, reason: 'retry-after-unparsable' },
        { retry: true, waitMs: 4000, reason: 'retry-after-unparsable' },
        { retry: true, waitMs: 8000, reason: 'retry-after-unparsable' },
      ]);
      expect(rateLimitDecision(1, { kind: 'unparsable', raw: 'soon' }, 0)).to.include({ waitMs: 1000 });
    });

    it('backs off exponentially without Retry-After, at least from 1 s', () => {
      expect([1, 2, 3].map((n) => rateLimitDecision(n, { kind: 'absent' }, 2))).to.deep.equal([
        { retry: true, waitMs: 2000, reason: 'backoff' },
        { retry: true, waitMs: 4000, reason: 'backoff' },
        { retry: true, waitMs: 8000, reason: 'backoff' },
      ]);
      expect(rateLimitDecision(1, { kind: 'absent' }, 0)).to.include({ waitMs: 1000 });
    });

    it('stops after its own budget so a sustained 429 cannot loop forever', () => {
      expect(rateLimitDecision(RATE_LIMIT_RETRIES, { kind: 'seconds', seconds: 1 }, 2).retry).to.equal(true);
      expect(rateLimitDecision(RATE_LIMIT_RETRIES + 1, { kind: 'seconds', seconds: 1 }, 2)).to.deep.equal({
        retry: false,
        reason: 'budget-spent',
      });
    });

    it('does not wait out a Retry-After longer than the maximum', () => {
      expect(rateLimitDecision(1, { kind: 'seconds', seconds: MAX_RETRY_AFTER_SECONDS }, 2).retry).to.equal(true);
      expect(rateLimitDecision(1, { kind: 'seconds', seconds: MAX_RETRY_AFTER_SECONDS + 1 }, 2)).to.include({
        retry: false,
        reason: 'retry-after-too-long',
      });
    });
  });
});
