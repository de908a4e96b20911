// What the service lets one API key send, as far as its answers show it: the
// pauses it asks for, the caps its rate-limit headers announce, and, from its
// 429s, an estimate of the key's quota that pacing aims just below. It paces
// nothing itself: the grant queue (grant-queue.ts) asks it for the rate and
// the pause. The scheme as a whole: rate-budget.ts and docs/architecture.md,
// "Rate budget"; what the service sends: docs/api.md, "Rate limits".
//
// - A 429 starts an episode: every grant pauses until its Retry-After has
//   passed (1 s when it has none), and the quota is estimated from requests
//   the service admitted. Between two episodes the service's bucket went from
//   empty to empty, so admitted requests / time between them is its refill
//   rate. The first episode has no earlier one: admissions per second since
//   the run began stand in (too high by the bucket's burst, which the next
//   episode corrects), or, in a run's first second, it only pauses. The send
//   rate is cut to `backoff` (0.9) × the estimate, decided CUT_DELAY_MS after
//   the 429, once the workers' batched admission counts have arrived.
// - While requests queue for the budget, the rate climbs back towards the
//   estimate quickly (concave, time constant RECOVER_MS), then probes beyond
//   it, slowly at first and faster the longer no 429 comes (cubic in time,
//   as TCP CUBIC): near a good estimate 429s stay rare, and an estimate far
//   too low is outgrown within half a minute (one from a handful of
//   admissions doubles each second instead). A plain additive increase
//   either wastes the quota after a cut or overshoots it every few seconds.
//   The decrease stays multiplicative: repeated 429s without enough
//   admissions between them shrink the estimate each time.
// - `X-RateLimit-Remaining`/`-Reset` (or `RateLimit-Remaining`/`-Reset`, or
//   the combined `RateLimit` field) cap the rate at remaining ÷ seconds to
//   reset before any 429, and pause until the reset when nothing remains.

import { MAX_RETRY_AFTER_SECONDS } from '../../api/retry-policy.js';
import { rateLimitInfo } from '../shared/rate-headers.js';
import { ADMITTED_FLUSH_MS, type RateOutcome, type ResponseHeaders } from '../shared/rate-outcome.js';
import type { BudgetTimers, Pacer } from './grant-queue.js';

export interface QuotaEstimatorOptions {
  /** Requests per second never to exceed (`rate_limit`); 0 = no ceiling. Neither estimates nor probes go beyond it. */
  ceiling: number;
  /** Monotonic milliseconds. */
  now: () => number;
  /** Wall-clock milliseconds, for reset headers given as a Unix time. */
  wallNow: () => number;
  timers: BudgetTimers;
  /** Called when a cut, decided CUT_DELAY_MS after its 429, has changed the rate. */
  onCut?: (() => void) | undefined;
  /** Share of the quota estimate the rate is cut to after a 429. */
  backoff?: number | undefined;
  /** Probing growth: the rate reaches estimate × (1 + probe × t³) after t seconds beyond it. */
  probe?: number | undefined;
}

/** The rate never falls below this many requests per second (one every 2 s). */
export const MIN_RATE = 0.5;
/** Grants wait when nothing says how long: a 429 without a usable Retry-After. */
export const DEFAULT_PAUSE_MS = 1000;
/** Longest pause honoured: the longest Retry-After the API client waits out. */
export const MAX_PAUSE_MS = MAX_RETRY_AFTER_SECONDS * 1000;
/** How long after a 429 its cut is decided: once every worker's admissions up to it have arrived. */
const CUT_DELAY_MS = ADMITTED_FLUSH_MS + 50;
/** 429s this soon after an episode began answer requests sent before it. */
const EPISODE_MIN_MS = 1000;
const RECOVER_MS = 1500;
/**
 * A first 429 sets a rate only after this long and this many admissions;
 * before, it only pauses. A 429 in a run's first second says little about the
 * quota, and a rate guessed from it would crawl for the rest of the run; the
 * next 429, if any, measures the quota properly (see rateLimited).
 */
const MIN_FIRST_SPAN_MS = 1000;
const MIN_FIRST_EVIDENCE = 5;
/**
 * An estimate from fewer admissions than this is a guess (a small bucket
 * refilled during a pause says little of the refill rate): beyond it the rate
 * then doubles each second instead of probing gently, until the next 429
 * measures better.
 */
const SURE_EVIDENCE = 10;
const SLOT_MS = 100;
const SLOTS = 10; // admissions are counted per 100 ms over the last second

export class QuotaEstimator implements Pacer {
  readonly ceiling: number;
  private readonly now: () => number;
  private readonly wallNow: () => number;
  private readonly timers: BudgetTimers;
  private readonly onCut: (() => void) | undefined;
  private readonly backoff: number;
  private readonly probe: number;

  /** The 429-driven rate; Infinity until the first 429. */
  private aimdRate = Infinity;
  private quotaEstimate: number | undefined;
  private headerCap: { rate: number; until: number } | undefined;
  private pause = 0;
  private lastGrowAt = 0;
  /** Seconds spent probing beyond the estimate since the last cut. */
  private probeSeconds = 0;
  private unsure = false;
  private firstAdmitAt: number | undefined;
  private episodeAt: number | undefined;
  private admittedSinceEpisode = 0;
  private readonly slots = new Float64Array(SLOTS);
  private slotIndex = 0; // absolute slot number of slots[slotIndex % SLOTS]
  private cutTimer: unknown;
  private readonly tally = { admitted: 0, rateLimited: 0, episodes: 0 };

  constructor(opts: QuotaEstimatorOptions) {
    this.ceiling = opts.ceiling > 0 ? opts.ceiling : Infinity;
    this.now = opts.now;
    this.wallNow = opts.wallNow;
    this.timers = opts.timers;
    this.onCut = opts.onCut;
    this.backoff = opts.backoff ?? 0.9;
    this.probe = opts.probe ?? 0.0002;
  }

  /** Latest quota estimate, requests per second; undefined before the first cut. */
  get quota(): number | undefined {
    return this.quotaEstimate;
  }

  get pausedUntil(): number {
    return this.pause;
  }

  /** Answers other than 429, 429s, and the episodes those 429s made. */
  get counts(): { admitted: number; rateLimited: number; episodes: number } {
    return { ...this.tally };
  }

  rateAt(now: number): number {
    const header = this.headerCap && now < this.headerCap.until ? this.headerCap.rate : Infinity;
    return Math.min(this.aimdRate, header, this.ceiling);
  }

  unpacedFrom(): number {
    if (Number.isFinite(this.aimdRate) || Number.isFinite(this.ceiling)) return Infinity;
    return this.headerCap?.until ?? 0;
  }

  onGrant(now: number, slotMs: number): void {
    if (slotMs > 0) this.grow(now, slotMs);
    else this.lastGrowAt = now;
  }

  /** Requests that got an answer other than 429, reported in batches by free workers. */
  admitted(count: number): void {
    if (!(count > 0)) return;
    const now = this.now();
    this.firstAdmitAt ??= now;
    this.tally.admitted += count;
    this.admittedSinceEpisode += count;
    this.addToSlot(now, count);
  }

  /** One attempt's answer, as its worker reported it. */
  observe(outcome: RateOutcome): void {
    const now = this.now();
    if (outcome.status === 429) this.rateLimited(now, outcome.retryAfterSeconds);
    else if (outcome.status !== null) this.admitted(1);
    this.applyHeaders(outcome.headers, now);
  }

  close(): void {
    if (this.cutTimer !== undefined) this.timers.clear(this.cutTimer);
    this.cutTimer = undefined;
  }

  private rateLimited(now: number, retryAfterSeconds: number | undefined): void {
    this.tally.rateLimited++;
    const pauseMs = retryAfterSeconds !== undefined && retryAfterSeconds >= 0 ? retryAfterSeconds * 1000 : DEFAULT_PAUSE_MS;
    const sameEpisode = this.episodeAt !== undefined && now < Math.max(this.episodeAt + EPISODE_MIN_MS, this.pause);
    this.pause = Math.max(this.pause, now + Math.min(pauseMs, MAX_PAUSE_MS));
    if (sameEpisode) return;
    this.tally.episodes++;
    const previous = this.episodeAt;
    this.episodeAt = now;
    // Workers report admissions in batches up to ADMITTED_FLUSH_MS old: decide once they are in.
    if (this.cutTimer !== undefined) this.timers.clear(this.cutTimer);
    this.cutTimer = this.timers.set(() => {
      this.cutTimer = undefined;
      this.cut(now, previous);
      this.onCut?.();
    }, CUT_DELAY_MS);
  }

  /** Estimates the quota for the episode that began at `at` and cuts the rate below it. */
  private cut(at: number, previous: number | undefined): void {
    const now = this.now();
    const admitted = this.admittedSinceEpisode;
    this.admittedSinceEpisode = 0;
    const firstSpan = at - (this.firstAdmitAt ?? at);
    if (previous === undefined && (this.tally.admitted < MIN_FIRST_EVIDENCE || firstSpan < MIN_FIRST_SPAN_MS)) return;
    this.unsure = (previous === undefined ? this.tally.admitted : admitted) < SURE_EVIDENCE;
    let measured: number;
    if (previous !== undefined) {
      // The bucket was empty at both episodes: what it admitted between them is what it refilled.
      measured = (admitted * 1000) / Math.max(1, at - previous);
    } else {
      // It started full: an overestimate, which the next episode corrects at the price of one pause;
      // an underestimate would cost the long climb back.
      measured = (this.tally.admitted * 1000) / firstSpan;
    }
    const current = this.rateAt(now);
    // Admissions cannot tell more than was sent: when pacing, the paced rate bounds the estimate.
    let estimate = Math.max(measured, this.admittedLastSecond(now));
    if (Number.isFinite(current)) estimate = Math.min(estimate, current);
    if (!(estimate > 0)) estimate = Number.isFinite(current) ? current : MIN_RATE;
    this.quotaEstimate = Math.max(MIN_RATE, estimate);
    this.aimdRate = Math.max(MIN_RATE, this.backoff * this.quotaEstimate);
    this.probeSeconds = 0;
    this.lastGrowAt = Math.max(now, this.pause);
  }

  /** Caps the rate from rate-limit headers, or pauses when none remain. */
  private applyHeaders(headers: ResponseHeaders, now: number): void {
    const info = rateLimitInfo(headers, this.wallNow());
    if (!info) return;
    if (info.resetSeconds <= 0) {
      this.headerCap = undefined;
      return;
    }
    const until = now + Math.min(info.resetSeconds * 1000, MAX_PAUSE_MS);
    if (info.remaining <= 0) {
      this.pause = Math.max(this.pause, until);
      this.headerCap = undefined;
      return;
    }
    this.headerCap = { rate: Math.max(MIN_RATE, info.remaining / info.resetSeconds), until };
  }

  private grow(now: number, interval: number): void {
    // Growth is counted only over time spent waiting for slots, a grant or two at a time.
    const dt = Math.min(Math.max(0, now - this.lastGrowAt), 2 * interval);
    this.lastGrowAt = now;
    if (dt === 0 || !Number.isFinite(this.aimdRate) || this.quotaEstimate === undefined) return;
    const target = this.quotaEstimate;
    if (this.aimdRate < target * 0.995) {
      this.aimdRate = target - (target - this.aimdRate) * Math.exp(-dt / RECOVER_MS);
    } else {
      this.probeSeconds += dt / 1000;
      if (this.unsure) this.aimdRate *= 2 ** (dt / 1000);
      else this.aimdRate = Math.max(this.aimdRate, target * (1 + this.probe * this.probeSeconds ** 3));
    }
    if (this.aimdRate >= this.ceiling) this.aimdRate = this.ceiling;
  }

  private addToSlot(now: number, count: number): void {
    this.advanceSlots(now);
    this.slots[this.slotIndex % SLOTS] = (this.slots[this.slotIndex % SLOTS] ?? 0) + count;
  }

  private admittedLastSecond(now: number): number {
    this.advanceSlots(now);
    let sum = 0;
    for (const n of this.slots) sum += n;
    return sum;
  }

  private advanceSlots(now: number): void {
    const current = Math.floor(now / SLOT_MS);
    if (current <= this.slotIndex) return;
    const steps = Math.min(SLOTS, current - this.slotIndex);
    for (let i = 1; i <= steps; i++) this.slots[(this.slotIndex + i) % SLOTS] = 0;
    this.slotIndex = current;
  }
}
