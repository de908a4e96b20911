// What the service lets one API key send, as far as its answers show it: the
// pauses it asks for, the caps its rate-limit headers announce, and, from its
// 429s, an estimate of the key's quota that pacing aims just below. It paces
// nothing itself: the grant queue (grant-queue.ts) asks it for the rate and
// the pause. The scheme as a whole: rate-budget.ts and docs/architecture.md,
// "Rate budget"; what the service sends: docs/api.md, "Rate limits".
//
// - Not every 429 is about the key's quota (issue 8; docs/decisions.md,
//   "Isolated 429s and quota 429s"). A 429 counts as the quota's when
//   (a) the service says so: `X-RateLimit-Remaining: 0` on it or on the
//   answer before, or a Retry-After of LONG_RETRY_AFTER_SECONDS or more (a
//   window that ends later, not a bucket that refills within a second);
//   (b) the answers say so: a burst of 429s or a high share of them
//   (throttle-evidence.ts), which random 429s do not make but a rate above
//   the quota does; or (c) it came while the rate was probing at or beyond
//   the quota estimate, where the last quota 429 was, and the 429s since the
//   rate got there are more than the key's background share of 429s
//   explains (PROBE_SIGMAS; without a background, the first of them). Any other 429 is
//   isolated: only its own request waits (its Retry-After, in the API
//   client); the key stays free or keeps its pace. (d) On a free key, a
//   steady share of isolated 429s above a bar starts a trial cut
//   (quota-trial.ts, where it is argued): pace a little below the admitted
//   rate; if the 429s stop, it was a quota and the key stays paced, with
//   the rate admitted before the trial as its estimate; if not, the key is free again and the bar
//   rises. A paced key asks the same of a steady share of isolated 429s
//   (tryPacedTrial): an estimate a little above the quota makes 429s below
//   AT_ESTIMATE × it, which are isolated and never lower it; a trial that
//   finds them stop lowers the estimate to what was admitted, one that does
//   not restores estimate and rate.
// - A quota 429 starts an episode. (a) pauses every grant until the reset
//   (Retry-After, or X-RateLimit-Reset) and cuts nothing: a window that
//   refills at its reset is best used in full. (b) pauses every grant until
//   its Retry-After has passed (1 s when it has none), and the quota is
//   estimated from requests the service admitted, as below. (c) pauses
//   nothing; it cuts the rate at once to `backoff` × the estimate (the
//   answers in flight would otherwise find the bucket still empty), refines
//   the cut as below, but lowers the estimate only when
//   429s were at least LOWER_SHARE of the answers since the episode before:
//   a 429 where the estimate stood is what probing looks for, and a random
//   one there must not drag the estimate down (see "cannot collapse" below). Between two episodes the service's bucket went from
//   empty to empty, so admitted requests / time between them is its refill
//   rate (the last second's admissions, when higher, stand in for a bucket
//   that idled full between episodes far apart: MEASURED_ALONE_MS). The
//   first episode has no earlier one: admissions per second since the run
//   began stand in (too high by the bucket's burst, which the next episode
//   corrects), counting in a run's first second START_BURST_MS of refill for
//   that burst; with fewer than MIN_FIRST_EVIDENCE admissions it only
//   pauses. The send
//   rate is cut to `backoff` (0.9) × the estimate, decided CUT_DELAY_MS after
//   the 429, once the workers' batched admission counts have arrived.
// - While requests queue for the budget, the rate climbs back towards the
//   estimate quickly (concave, time constant RECOVER_MS), then probes beyond
//   it, slowly at first and faster the longer no 429 comes (cubic in time,
//   as TCP CUBIC): near a good estimate 429s stay rare, and an estimate far
//   too low is outgrown within half a minute (one from a handful of
//   admissions doubles each second instead). A plain additive increase
//   either wastes the quota after a cut or overshoots it every few seconds.
//   The decrease stays multiplicative: repeated quota 429s without enough
//   admissions between them shrink the estimate each time.
// - Why it cannot collapse under 429s our rate does not cause: such 429s
//   come at a share that does not depend on our rate. Below SHARE (15 %)
//   they are isolated whatever the rate, so they neither pause nor cut; the
//   only ones that cut are those that come while probing at the estimate
//   in excess of the background share (PROBE_SIGMAS), and those cannot
//   lower it (below LOWER_SHARE). The estimate then only falls on evidence
//   that grows with our rate (bursts, a high share, the service's own
//   headers), which stops once the rate is below the quota. The background
//   share raises every bar; it is learnt while the key is free or paced
//   below its estimate (learnsBackground), and a burst's own 429s are taken
//   back out of it (ThrottleEvidence.unlearnRecent), so a run that starts by
//   emptying a bucket does not keep the bars it would need for random 429s.
//   Since probing goes on through the background share, an estimate that
//   started low rises through random 429s instead of staying where it
//   started (issue 8c). A share of random 429s above 15 % is treated as a
//   quota: the key then runs paced near the rate it was admitted at, never
//   below MIN_RATE, as before.
// - `X-RateLimit-Remaining`/`-Reset` (or `RateLimit-Remaining`/`-Reset`, or
//   the combined `RateLimit` field) cap the rate at remaining ÷ seconds to
//   reset before any 429, and pause until the reset when nothing remains.

import { MAX_RETRY_AFTER_SECONDS } from '../../api/retry-policy.js';
import { rateLimitInfo, rateLimitRemaining, type RateLimitInfo } from '../shared/rate-headers.js';
import { ADMITTED_FLUSH_MS, type RateOutcome } from '../shared/rate-outcome.js';
import type { BudgetTimers, Pacer } from './grant-queue.js';
import { RemainingMeter } from './remaining-meter.js';
import { ThrottleEvidence } from './throttle-evidence.js';
import { QuotaTrial, type TrialVerdict } from './quota-trial.js';

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
 * A first 429 sets a rate only after this many admissions; before, it only
 * pauses: the next 429, if any, measures the quota properly (see
 * rateLimited).
 */
const MIN_FIRST_EVIDENCE = 5;
/**
 * The first episode of a run estimates the quota from all it admitted since
 * the run began, which includes the bucket's starting burst. Within the run's
 * first START_BURST_MS (issue 8c) that burst is most of it and cannot be told
 * from the refill: it is taken to be START_BURST_MS of refill (a bucket whose
 * burst is its per-second rate, the usual setting and the mock's), so the
 * estimate is admitted ÷ (time since the first admission + START_BURST_MS).
 * Before issue 8c such an episode only paused; the key then ran free again
 * after the pause and emptied the refilled bucket in a second burst of 429s
 * (24 of the 62 the quota-429 bench met). Later, admitted ÷ time: the burst is
 * diluted, and an overestimate is corrected by the next episode.
 */
const START_BURST_MS = 1000;
/**
 * The time since the first admission is counted from when the main thread
 * heard of it, which can be late by a busy start (the workers' startup); the
 * span is taken this much longer, so that the estimate errs low. An
 * estimate below the quota costs a few seconds of probing; one above it, a
 * 429 at every probe until a trial lowers it (quota-trial.ts): 2 429s every
 * 5 s in the quota-429 bench at an estimate of 52 for a 50/s bucket.
 */
const START_LATE_MS = ADMITTED_FLUSH_MS;
/** Episodes this close measure the refill between them alone (see cut). */
const MEASURED_ALONE_MS = 3000;
/**
 * An estimate from fewer admissions than this is a guess (a small bucket
 * refilled during a pause says little of the refill rate): beyond it the rate
 * then doubles each second instead of probing gently, until the next 429
 * measures better.
 */
const SURE_EVIDENCE = 10;
/** A Retry-After this long (seconds) is a window ending, not a bucket refilling or a passing hiccup. */
export const LONG_RETRY_AFTER_SECONDS = 5;
/**
 * A probe 429 may lower the estimate only when 429s were this share of the
 * answers since the last episode above the background share, and at least
 * LOWER_MIN of them (the counts and the reasons as in throttle-evidence.ts).
 */
export const LOWER_SHARE = 0.1;
export const LOWER_MIN = 10;
/** A 429 while the rate is at least this share of the estimate is a probe's 429. */
const AT_ESTIMATE = 0.995;
/**
 * Probing tolerates the background share b of 429s (issue 8c): while the
 * rate stands at or beyond the estimate, a 429 is the probe's only once the
 * 429s since the rate got there number at least b × answers + PROBE_SIGMAS ×
 * √(b × answers) + 1. Without background (b = 0) that is the first 429, as
 * before; with random 429s it is the share that rises with the probe's rate
 * above what they explain. Before, every random 429 at the estimate cut the
 * probe, so an estimate that started low never rose: a 40/s bucket with 5 %
 * random 429s ran at 78 % of it.
 */
export const PROBE_SIGMAS = 3;
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
  private readonly evidence = new ThrottleEvidence();
  private readonly meter = new RemainingMeter();
  /** Whether the running episode pauses the key (kinds a and b), rather than only cutting (c). */
  private episodePauses = false;
  /** Answers and 429s since the rate reached the estimate (see PROBE_SIGMAS). */
  private probeAnswers = 0;
  private probeRejected = 0;
  private readonly tally = { admitted: 0, rateLimited: 0, episodes: 0, isolated: 0 };
  /** Kind (d): a free key's steady share of isolated 429s put to the test of a cut (quota-trial.ts). */
  private readonly trial = new QuotaTrial();
  /** The same question on a paced key whose estimate may stand a little above the quota; what it replaced. */
  private readonly pacedTrial = new QuotaTrial();
  private beforePacedTrial: { estimate: number; rate: number } | undefined;

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

  /** Trial cuts started (on a free key or a paced one), and those that found a quota (quota-trial.ts). */
  get trials(): { trials: number; quotas: number } {
    return { trials: this.trial.tally.trials + this.pacedTrial.tally.trials, quotas: this.trial.tally.quotas + this.pacedTrial.tally.quotas };
  }

  /** Answers other than 429, 429s, the episodes those 429s made, and the 429s found isolated. */
  get counts(): { admitted: number; rateLimited: number; episodes: number; isolated: number } {
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
    this.meter.granted();
    if (slotMs > 0) this.grow(now, slotMs);
    else this.lastGrowAt = now;
  }

  metered(now: number): boolean {
    return this.meter.metering(now);
  }

  mayGrant(now: number): boolean {
    return this.meter.mayGrant(now);
  }

  /** Requests that got an answer other than 429, reported in batches by free workers. */
  admitted(count: number): void {
    if (!(count > 0)) return;
    const now = this.now();
    this.meter.answered(now, count);
    this.countAdmitted(now, count);
  }

  /** One attempt's answer, as its worker reported it. */
  observe(outcome: RateOutcome): void {
    const now = this.now();
    const info = rateLimitInfo(outcome.headers, this.wallNow());
    const remaining = rateLimitRemaining(outcome.headers);
    this.meter.answered(now, 1, info === undefined ? remaining : undefined);
    if (outcome.status === 429) this.rateLimited(now, outcome.retryAfterSeconds, remaining === 0);
    else if (outcome.status !== null) this.countAdmitted(now, 1);
    this.applyHeaders(info, now);
  }

  close(): void {
    if (this.cutTimer !== undefined) this.timers.clear(this.cutTimer);
    this.cutTimer = undefined;
  }

  private countAdmitted(now: number, count: number): void {
    this.evidence.learning = this.learnsBackground();
    this.countProbe(count, 0);
    this.firstAdmitAt ??= now;
    this.tally.admitted += count;
    this.admittedSinceEpisode += count;
    this.addToSlot(now, count);
    this.evidence.admitted(now, count);
    this.tryTrial(now, count, 0);
  }

  /** Feeds the trial cut answers a free key (or one under trial) could not explain, and applies its verdict. */
  private tryTrial(now: number, answers: number, rejected: number): void {
    if (this.quotaEstimate !== undefined) {
      this.tryPacedTrial(now, answers, rejected);
      return;
    }
    if (Number.isFinite(this.aimdRate) && !this.trial.active) return;
    const verdict: TrialVerdict | undefined = this.trial.answered(now, answers, rejected);
    if (!verdict) return;
    if (verdict.kind === 'start') {
      this.aimdRate = Math.max(MIN_RATE, verdict.rate);
    } else if (verdict.kind === 'background') {
      this.aimdRate = Infinity;
    } else {
      // A quota: keep the pace, estimate it at what was admitted before, and let probing raise it.
      this.quotaEstimate = Math.max(MIN_RATE, verdict.admittedRate);
      this.aimdRate = Math.max(MIN_RATE, verdict.rate);
      this.evidence.relearn(verdict.answers, verdict.rejected);
      this.probeSeconds = 0;
      this.unsure = false;
      this.lastGrowAt = now;
      this.admittedSinceEpisode = 0;
    }
  }

  /**
   * A paced key whose isolated 429s come at a steady share: its estimate may stand a little above
   * the quota, where 429s below AT_ESTIMATE × it are isolated and never lower it. The same trial:
   * pace below what was admitted; if the 429s stop, the estimate becomes what was admitted (never
   * higher than before); if not, estimate and rate are restored.
   */
  private tryPacedTrial(now: number, answers: number, rejected: number): void {
    if (this.quotaEstimate === undefined) return;
    const verdict = this.pacedTrial.answered(now, answers, rejected);
    if (!verdict) return;
    if (verdict.kind === 'start') {
      this.beforePacedTrial = { estimate: this.quotaEstimate, rate: this.aimdRate };
      this.aimdRate = Math.max(MIN_RATE, Math.min(this.aimdRate, verdict.rate));
      return;
    }
    const saved = this.beforePacedTrial;
    this.beforePacedTrial = undefined;
    if (!saved) return;
    if (verdict.kind === 'background') {
      this.quotaEstimate = saved.estimate;
      this.aimdRate = saved.rate;
    } else {
      this.quotaEstimate = Math.max(MIN_RATE, Math.min(saved.estimate, verdict.admittedRate));
      this.aimdRate = Math.max(MIN_RATE, Math.min(this.aimdRate, this.backoff * this.quotaEstimate));
      this.episodeAt = undefined;
      this.admittedSinceEpisode = 0;
    }
    this.probeSeconds = 0;
    this.lastGrowAt = now;
  }

  /**
   * Whether answers now teach the background share of 429s (throttle-evidence.ts): while the key is
   * free, and (issue 8c) while it is paced below its estimate, where a bucket refilling at the
   * estimate refuses nothing. Since the first episode of a run now sets an estimate within its first
   * second, a key learnt only while free learnt almost nothing: random 429s at 5 % on a 40/s bucket
   * then met the bars for a key without them and ratcheted the estimate down to 17/s within the
   * hour. A 429 at or beyond the estimate is the probe's and teaches nothing; one below it, from an
   * estimate a little too high, does, and raises the bars: the paced trial (quota-trial.ts) is what
   * lowers such an estimate, and it does not depend on this share.
   */
  private learnsBackground(): boolean {
    return this.quotaEstimate === undefined || this.aimdRate < AT_ESTIMATE * this.quotaEstimate;
  }

  /** Counts answers while the rate is at or beyond the estimate (see PROBE_SIGMAS); whether it is. */
  private countProbe(answers: number, rejected: number): boolean {
    const at = this.quotaEstimate !== undefined && Number.isFinite(this.aimdRate) && this.aimdRate >= AT_ESTIMATE * this.quotaEstimate;
    if (!at) {
      this.probeAnswers = 0;
      this.probeRejected = 0;
      return false;
    }
    this.probeAnswers += answers;
    this.probeRejected += rejected;
    return true;
  }

  /** Whether the 429s while probing are more than the background share explains (PROBE_SIGMAS). */
  private probeBeyondBackground(): boolean {
    const expected = this.evidence.backgroundShare * this.probeAnswers;
    return this.probeRejected >= expected + PROBE_SIGMAS * Math.sqrt(expected) + 1;
  }

  /** Sorts a 429 into the kinds of the header comment and acts on it. */
  private rateLimited(now: number, retryAfterSeconds: number | undefined, saysNoneRemain: boolean): void {
    this.tally.rateLimited++;
    const hasRetryAfter = retryAfterSeconds !== undefined && retryAfterSeconds >= 0;
    const pauseMs = Math.min(hasRetryAfter ? retryAfterSeconds * 1000 : DEFAULT_PAUSE_MS, MAX_PAUSE_MS);
    const window = saysNoneRemain || this.meter.exhausted || (hasRetryAfter && retryAfterSeconds >= LONG_RETRY_AFTER_SECONDS);
    const sameEpisode = this.episodeAt !== undefined && now < Math.max(this.episodeAt + EPISODE_MIN_MS, this.pause);
    if (sameEpisode) {
      this.evidence.inEpisode();
      // Answers to requests sent before the episode began: counted in it, not as evidence for the
      // next one (which would then find a burst that was this one). The service's word still pauses.
      if (window || this.episodePauses) {
        this.pause = Math.max(this.pause, now + pauseMs);
        this.episodePauses = true;
      }
      if (window) this.meter.forget();
      return;
    }
    this.evidence.learning = this.learnsBackground();
    this.evidence.rateLimited(now);
    const crowded = !window && (this.evidence.burst() || this.evidence.highShare(now));
    const probing = !window && !crowded && this.countProbe(1, 1) && this.probeBeyondBackground();
    if (!window && !crowded && !probing) {
      this.tally.isolated++;
      this.tryTrial(now, 1, 1);
      return;
    }
    if (this.trial.active) {
      // The trial's question is answered another way: the episode below sets the rate.
      this.trial.abort();
      this.aimdRate = Infinity;
    }
    if (this.pacedTrial.active) {
      this.pacedTrial.abort();
      if (this.beforePacedTrial) this.aimdRate = this.beforePacedTrial.rate;
      this.beforePacedTrial = undefined;
    }
    this.tally.episodes++;
    const previous = this.episodeAt;
    this.episodeAt = now;
    const between = this.evidence.sinceMark();
    if (crowded) this.evidence.unlearnRecent();
    this.evidence.clearRecent();
    this.episodePauses = window || crowded;
    if (this.episodePauses) this.pause = Math.max(this.pause, now + pauseMs);
    if (window) {
      // Kind (a): the window refills at its reset; pausing until then is all it takes.
      this.meter.forget();
      this.admittedSinceEpisode = 0;
      return;
    }
    const mayLower = crowded || (between.rejected >= LOWER_MIN && between.share >= LOWER_SHARE + this.evidence.backgroundShare);
    const rateAtEpisode = this.rateAt(now);
    // A probe pauses nothing: its cut goes at once, to backoff × the estimate, and is refined below.
    if (probing && this.quotaEstimate !== undefined) this.aimdRate = Math.max(MIN_RATE, Math.min(this.aimdRate, this.backoff * this.quotaEstimate));
    // Workers report admissions in batches up to ADMITTED_FLUSH_MS old: decide once they are in.
    if (this.cutTimer !== undefined) this.timers.clear(this.cutTimer);
    this.cutTimer = this.timers.set(() => {
      this.cutTimer = undefined;
      this.cut(now, previous, mayLower, rateAtEpisode);
      this.onCut?.();
    }, CUT_DELAY_MS);
  }

  /** Estimates the quota for the episode that began at `at` (when the rate was `rateAtEpisode`) and cuts the rate below it. */
  private cut(at: number, previous: number | undefined, mayLower: boolean, rateAtEpisode: number): void {
    const now = this.now();
    const admitted = this.admittedSinceEpisode;
    this.admittedSinceEpisode = 0;
    const firstSpan = at - (this.firstAdmitAt ?? at);
    if (previous === undefined && this.tally.admitted < MIN_FIRST_EVIDENCE) return;
    if (previous === undefined && this.quotaEstimate !== undefined) {
      // The first episode after a trial cut found the quota (quota-trial.ts): the bucket was not empty
      // when the trial ended, so what it admitted since says nothing of its refill. This episode only
      // marks the bucket empty; the next one measures from it. The rate was cut at the 429 already.
      this.probeSeconds = 0;
      this.lastGrowAt = Math.max(now, this.pause);
      return;
    }
    this.unsure = (previous === undefined ? this.tally.admitted : admitted) < SURE_EVIDENCE;
    let measured: number;
    if (previous !== undefined) {
      // The bucket was empty at both episodes: what it admitted between them is what it refilled.
      measured = (admitted * 1000) / Math.max(1, at - previous);
    } else {
      // It started full: an overestimate, which the next episode corrects at the price of one pause;
      // an underestimate would cost the long climb back.
      // In the run's first second the starting burst is most of it: taken as a second of refill (START_BURST_MS).
      measured = (this.tally.admitted * 1000) / (firstSpan < START_BURST_MS ? firstSpan + START_BURST_MS + START_LATE_MS : firstSpan);
    }
    const current = rateAtEpisode;
    // Admissions cannot tell more than was sent: when pacing, the paced rate bounds the estimate.
    // (Not in the run's first second, where the last second holds the starting burst.)
    // Nor soon after the previous episode (issue 8c): the bucket was empty at both and had no time to
    // idle full between them, so what it admitted between them is its refill, while the last second
    // holds what it refilled during that episode's pause (a 40/s bucket came out at 48/s).
    const guessed = previous === undefined ? firstSpan < START_BURST_MS : at - previous < MEASURED_ALONE_MS;
    let estimate = guessed ? measured : Math.max(measured, this.admittedLastSecond(now));
    if (Number.isFinite(current)) estimate = Math.min(estimate, current);
    if (!(estimate > 0)) estimate = Number.isFinite(current) ? current : MIN_RATE;
    // A probe's 429 among few others says the estimate was about right, not that it was too high:
    // it keeps the estimate, or raises it to what was admitted between the episodes (for a bucket,
    // empty at both, its refill rate), not to the last second, which may have drained its burst.
    if (!mayLower && this.quotaEstimate !== undefined && previous !== undefined) {
      estimate = Math.max(this.quotaEstimate, Math.min(measured, Number.isFinite(current) ? current : measured));
    }
    this.quotaEstimate = Math.max(MIN_RATE, estimate);
    this.aimdRate = Math.max(MIN_RATE, this.backoff * this.quotaEstimate);
    this.probeSeconds = 0;
    this.lastGrowAt = Math.max(now, this.pause);
  }

  /** Caps the rate from rate-limit headers, or pauses when none remain. */
  private applyHeaders(info: RateLimitInfo | undefined, now: number): void {
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
    if (dt === 0 || !Number.isFinite(this.aimdRate) || this.quotaEstimate === undefined || this.pacedTrial.active) return;
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
