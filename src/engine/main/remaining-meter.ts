// Grants counted against what a key has left, for services that say how many
// requests remain but not when they come back: Laravel's throttle sends
// `X-RateLimit-Remaining` on every answer and the reset only with its 429
// (docs/api.md, "Rate limits"). Free workers send without asking, so once the
// remaining count is low (METER_BELOW) the key stops being free and a grant
// goes only while fewer grants are unanswered than the service said remain;
// requests that a free worker still has in flight then are answered long
// before the count comes near them, as long as METER_BELOW is well above the
// requests a run keeps in flight (a few per section). When nothing remains,
// one request at a time goes, to learn from its 429 when the window ends
// (the quota estimator then pauses the key until then and forgets the count).
// Part of the quota estimator (quota-estimator.ts).

/** Below this many remaining requests, grants are counted against them. */
export const METER_BELOW = 100;
/** A count not confirmed for this long is forgotten: the service stopped sending it. */
export const METER_STALE_MS = 60_000;

export class RemainingMeter {
  private remaining: number | undefined;
  private reportedAt = 0;
  private outstanding = 0;

  /** Whether grants are being counted (the key is not free meanwhile). */
  metering(now: number): boolean {
    if (this.remaining !== undefined && now - this.reportedAt > METER_STALE_MS) this.forget();
    return this.remaining !== undefined && this.remaining <= METER_BELOW;
  }

  /** The service said nothing remains (and has not said since that more does). */
  get exhausted(): boolean {
    return this.remaining === 0;
  }

  mayGrant(now: number): boolean {
    if (!this.metering(now) || this.remaining === undefined) return true;
    // Nothing remains: one request alone, to hear when the window ends.
    return this.outstanding < Math.max(1, this.remaining);
  }

  granted(): void {
    this.outstanding++;
  }

  /** Answers arrived (any status, a network error too); `remaining` when one of them said so without a reset. */
  answered(now: number, count: number, remaining?: number): void {
    this.outstanding = Math.max(0, this.outstanding - count);
    if (remaining !== undefined) {
      this.remaining = remaining;
      this.reportedAt = now;
    }
  }

  /** After a pause until the service's reset: what remained before it says nothing now. */
  forget(): void {
    this.remaining = undefined;
  }
}
