// One request budget per API key, kept in the main thread for all the
// sections (worker threads) that share the key: the service limits requests
// per key across domains (docs/api.md, "Rate limits"), so one section's 429 must slow them all.
//
// The scheme (issue 4) estimates the key's quota and paces just below it:
// - Until the first 429 (and without `rate_limit` or rate-limit headers) the
//   budget is "free": workers are told so and skip the grant round trip.
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
// - `rate_limit` is a hard ceiling: grants are spaced so that no window of
//   1 s + CEILING_JITTER_MS holds more than `rate_limit` of them; the margin
//   absorbs the variable delay between a grant here and the request leaving
//   its worker, so the service also sees at most `rate_limit` in any second.

import type { RateOutcome } from '../shared/worker-protocol.js';

export interface BudgetTimers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

export interface RateBudgetOptions {
  /** Requests per second never to exceed; 0 = no ceiling. */
  ceiling: number;
  /** Monotonic milliseconds. */
  now?: () => number;
  /** Wall-clock milliseconds, for reset headers given as a Unix time. */
  wallNow?: () => number;
  timers?: BudgetTimers;
  /** Called when the budget becomes free (no pacing at all) or stops being free. */
  onFreeChange?: (free: boolean) => void;
  /** Share of the quota estimate the rate is cut to after a 429. */
  backoff?: number;
  /** Probing growth: the rate reaches estimate × (1 + probe × t³) after t seconds beyond it. */
  probe?: number;
}

export interface RateBudgetSnapshot {
  free: boolean;
  /** Requests per second now allowed; Infinity when unpaced. */
  rate: number;
  /** Latest quota estimate, requests per second; undefined before the first 429. */
  quota: number | undefined;
  pausedForMs: number;
  queued: number;
  granted: number;
  admitted: number;
  rateLimited: number;
  episodes: number;
}

/** The rate never falls below this many requests per second (one every 2 s). */
export const MIN_RATE = 0.5;
/** Grants wait when nothing says how long: a 429 without a usable Retry-After. */
export const DEFAULT_PAUSE_MS = 1000;
/** Longest pause honoured; matches the API client's MAX_RETRY_AFTER_SECONDS. */
export const MAX_PAUSE_MS = 600_000;
/** See the header comment: slack for grant-to-send delay under `rate_limit`. */
export const CEILING_JITTER_MS = 25;
/** Timer lateness made up for by the next grant; part of the CEILING_JITTER_MS slack. */
const LATE_GRANT_MS = 5;
/** Workers flush admission counts at least this often (src/engine/worker/rate-gate-port.ts). */
export const ADMITTED_FLUSH_MS = 100;
/** How long after a 429 its cut is decided: once every worker's admissions up to it have arrived. */
const CUT_DELAY_MS = ADMITTED_FLUSH_MS + 50;
/** 429s this soon after an episode began answer requests sent before it. */
const EPISODE_MIN_MS = 1000;
const RECOVER_MS = 1500;
/**
 * A first 429 sets a rate only after this long and this many admissions;
 * before, it only pauses. A 429 in a run's first second says little about the
 * quota, and a rate guessed from it would crawl for the rest of the run; the
 * next 429, if any, measures the quota properly (see on429).
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

export class RateBudget {
  private readonly ceiling: number;
  private readonly now: () => number;
  private readonly wallNow: () => number;
  private readonly timers: BudgetTimers;
  private readonly onFreeChange: ((free: boolean) => void) | undefined;
  private readonly backoff: number;
  private readonly probe: number;

  /** The 429-driven rate; Infinity until the first 429. */
  private aimdRate = Infinity;
  private quota: number | undefined;
  private headerCap: { rate: number; until: number } | undefined;
  private pausedUntil = 0;
  private nextSlot = 0;
  private lastGrowAt = 0;
  /** Seconds spent probing beyond the estimate since the last cut. */
  private probeSeconds = 0;
  private unsure = false;
  private firstAdmitAt: number | undefined;
  private episodeAt: number | undefined;
  private admittedSinceEpisode = 0;
  private readonly slots = new Float64Array(SLOTS);
  private slotIndex = 0; // absolute slot number of slots[slotIndex % SLOTS]
  private readonly queue: { grant: () => void; at: number }[] = [];
  private timer: unknown;
  private cutTimer: unknown;
  private timerAt = Infinity;
  private wasFree: boolean;
  private closed = false;
  private readonly counts = { granted: 0, admitted: 0, rateLimited: 0, episodes: 0 };

  constructor(opts: RateBudgetOptions) {
    this.ceiling = opts.ceiling > 0 ? opts.ceiling : Infinity;
    this.now = opts.now ?? (() => performance.now());
    this.wallNow = opts.wallNow ?? (() => Date.now());
    this.timers = opts.timers ?? { set: (fn, ms) => setTimeout(fn, ms), clear: (h) => clearTimeout(h as NodeJS.Timeout) };
    this.onFreeChange = opts.onFreeChange;
    this.backoff = opts.backoff ?? 0.9;
    this.probe = opts.probe ?? 0.0002;
    this.wasFree = this.computeFree(this.now());
  }

  /** Whether requests may go without asking: no ceiling, no pause, no rate known to respect. */
  get free(): boolean {
    return this.wasFree;
  }

  snapshot(): RateBudgetSnapshot {
    const now = this.now();
    return {
      free: this.wasFree,
      rate: this.rateAt(now),
      quota: this.quota,
      pausedForMs: Math.max(0, this.pausedUntil - now),
      queued: this.queue.length,
      ...this.counts,
    };
  }

  /** Calls `grant` once a request may go (at once when the budget is closed). */
  acquire(grant: () => void): void {
    if (this.closed) return grant();
    this.queue.push({ grant, at: this.now() });
    this.pump();
  }

  /** Requests that got an answer other than 429, reported in batches by free workers. */
  admitted(count: number): void {
    if (!(count > 0)) return;
    const now = this.now();
    this.firstAdmitAt ??= now;
    this.counts.admitted += count;
    this.admittedSinceEpisode += count;
    this.addToSlot(now, count);
  }

  observe(outcome: RateOutcome): void {
    const now = this.now();
    if (outcome.status === 429) this.on429(now, outcome.retryAfterSeconds);
    else if (outcome.status !== null) this.admitted(1);
    this.applyHeaders(outcome.headers, now);
    this.pump();
    this.refreshFree(now);
  }

  close(): void {
    this.closed = true;
    this.clearTimer();
    if (this.cutTimer !== undefined) this.timers.clear(this.cutTimer);
    this.cutTimer = undefined;
    for (const w of this.queue.splice(0)) w.grant();
  }

  private on429(now: number, retryAfterSeconds: number | undefined): void {
    this.counts.rateLimited++;
    const pauseMs = retryAfterSeconds !== undefined && retryAfterSeconds >= 0 ? retryAfterSeconds * 1000 : DEFAULT_PAUSE_MS;
    const sameEpisode = this.episodeAt !== undefined && now < Math.max(this.episodeAt + EPISODE_MIN_MS, this.pausedUntil);
    this.pausedUntil = Math.max(this.pausedUntil, now + Math.min(pauseMs, MAX_PAUSE_MS));
    if (sameEpisode) return;
    this.counts.episodes++;
    const previous = this.episodeAt;
    this.episodeAt = now;
    // Workers report admissions in batches up to ADMITTED_FLUSH_MS old: decide once they are in.
    if (this.cutTimer !== undefined) this.timers.clear(this.cutTimer);
    this.cutTimer = this.timers.set(() => {
      this.cutTimer = undefined;
      this.cut(now, previous);
      this.pump();
      this.refreshFree(this.now());
    }, CUT_DELAY_MS);
  }

  /** Estimates the quota for the episode that began at `at` and cuts the rate below it. */
  private cut(at: number, previous: number | undefined): void {
    const now = this.now();
    const admitted = this.admittedSinceEpisode;
    this.admittedSinceEpisode = 0;
    const firstSpan = at - (this.firstAdmitAt ?? at);
    if (previous === undefined && (this.counts.admitted < MIN_FIRST_EVIDENCE || firstSpan < MIN_FIRST_SPAN_MS)) return;
    this.unsure = (previous === undefined ? this.counts.admitted : admitted) < SURE_EVIDENCE;
    let measured: number;
    if (previous !== undefined) {
      // The bucket was empty at both episodes: what it admitted between them is what it refilled.
      measured = (admitted * 1000) / Math.max(1, at - previous);
    } else {
      // It started full: an overestimate, which the next episode corrects at the price of one pause;
      // an underestimate would cost the long climb back.
      measured = (this.counts.admitted * 1000) / firstSpan;
    }
    const current = this.rateAt(now);
    // Admissions cannot tell more than was sent: when pacing, the paced rate bounds the estimate.
    let estimate = Math.max(measured, this.admittedLastSecond(now));
    if (Number.isFinite(current)) estimate = Math.min(estimate, current);
    if (!(estimate > 0)) estimate = Number.isFinite(current) ? current : MIN_RATE;
    this.quota = Math.max(MIN_RATE, estimate);
    this.aimdRate = Math.max(MIN_RATE, this.backoff * this.quota);
    this.probeSeconds = 0;
    this.lastGrowAt = Math.max(now, this.pausedUntil);
  }

  /** Caps the rate from rate-limit headers, or pauses when none remain. */
  private applyHeaders(headers: RateOutcome['headers'], now: number): void {
    const info = rateLimitInfo(headers, this.wallNow());
    if (!info) return;
    if (info.resetSeconds <= 0) {
      this.headerCap = undefined;
      return;
    }
    const until = now + Math.min(info.resetSeconds * 1000, MAX_PAUSE_MS);
    if (info.remaining <= 0) {
      this.pausedUntil = Math.max(this.pausedUntil, until);
      this.headerCap = undefined;
      return;
    }
    this.headerCap = { rate: Math.max(MIN_RATE, info.remaining / info.resetSeconds), until };
  }

  private rateAt(now: number): number {
    const header = this.headerCap && now < this.headerCap.until ? this.headerCap.rate : Infinity;
    return Math.min(this.aimdRate, header, this.ceiling);
  }

  /** Milliseconds between grants now; 0 = unpaced. */
  private intervalAt(now: number): number {
    const rate = Math.min(this.aimdRate, this.headerCap && now < this.headerCap.until ? this.headerCap.rate : Infinity);
    const paced = Number.isFinite(rate) ? 1000 / rate : 0;
    const ceiling = Number.isFinite(this.ceiling) ? (1000 + CEILING_JITTER_MS) / this.ceiling : 0;
    return Math.max(paced, ceiling);
  }

  private computeFree(now: number): boolean {
    return !this.closed && now >= this.pausedUntil && !Number.isFinite(this.rateAt(now));
  }

  private refreshFree(now: number): void {
    const free = this.computeFree(now);
    if (free !== this.wasFree) {
      this.wasFree = free;
      this.onFreeChange?.(free);
    }
    // A pause or a header cap ends by itself: look again then, so workers hear of it.
    if (!free && this.queue.length === 0 && !this.closed) {
      const lapse = Math.max(this.pausedUntil, this.headerCap?.until ?? 0);
      if (lapse > now && !Number.isFinite(this.aimdRate) && !Number.isFinite(this.ceiling)) this.schedule(lapse);
    }
  }

  private pump(): void {
    if (this.closed) return;
    for (;;) {
      const now = this.now();
      if (this.queue.length === 0) return;
      const interval = this.intervalAt(now);
      const earliest = Math.max(this.pausedUntil, interval > 0 ? this.nextSlot : 0);
      if (earliest > now) {
        this.schedule(earliest);
        return;
      }
      const w = this.queue.shift();
      if (!w) return;
      // A request that had to wait for its slot shows demand above the rate: only then may it grow,
      // or an idle key would come back from a quiet spell with a rate nobody tested.
      if (interval > 0 && w.at < this.nextSlot) this.grow(now, interval);
      else this.lastGrowAt = now;
      // A timer that fired a little late keeps the schedule rather than losing its lateness each
      // time (at 50 req/s, 1 ms late per grant is 5 %); a longer gap means idle, and starts afresh.
      const from = now - this.nextSlot <= LATE_GRANT_MS ? this.nextSlot : now;
      this.nextSlot = interval > 0 ? Math.max(from, this.nextSlot) + this.intervalAt(now) : now;
      this.counts.granted++;
      w.grant();
    }
  }

  private grow(now: number, interval: number): void {
    // Growth is counted only over time spent waiting for slots, a grant or two at a time.
    const dt = Math.min(Math.max(0, now - this.lastGrowAt), 2 * interval);
    this.lastGrowAt = now;
    if (dt === 0 || !Number.isFinite(this.aimdRate) || this.quota === undefined) return;
    const target = this.quota;
    if (this.aimdRate < target * 0.995) {
      this.aimdRate = target - (target - this.aimdRate) * Math.exp(-dt / RECOVER_MS);
    } else {
      this.probeSeconds += dt / 1000;
      if (this.unsure) this.aimdRate *= 2 ** (dt / 1000);
      else this.aimdRate = Math.max(this.aimdRate, target * (1 + this.probe * this.probeSeconds ** 3));
    }
    if (this.aimdRate >= this.ceiling) this.aimdRate = this.ceiling;
  }

  private schedule(at: number): void {
    if (this.timer !== undefined && this.timerAt <= at) return;
    this.clearTimer();
    this.timerAt = at;
    this.timer = this.timers.set(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      this.pump();
      this.refreshFree(this.now());
    }, Math.max(0, Math.ceil(at - this.now())));
  }

  private clearTimer(): void {
    if (this.timer !== undefined) this.timers.clear(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
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

export interface RateLimitInfo {
  remaining: number;
  /** Seconds until the quota resets (or refills). */
  resetSeconds: number;
}

/**
 * Reads `X-RateLimit-Remaining`/`-Reset`, `RateLimit-Remaining`/`-Reset`, or
 * the combined `RateLimit` field (`remaining=5, reset=3` or `"q";r=5;t=3`).
 * A reset above 10^9 is a Unix time; smaller ones are seconds from now.
 */
export function rateLimitInfo(headers: RateOutcome['headers'], wallNowMs: number): RateLimitInfo | undefined {
  let remaining = num(headers['x-ratelimit-remaining'] ?? headers['ratelimit-remaining']);
  let reset = num(headers['x-ratelimit-reset'] ?? headers['ratelimit-reset']);
  const combined = first(headers['ratelimit']);
  if ((remaining === undefined || reset === undefined) && combined !== undefined) {
    remaining ??= num(/(?:^|[\s,;])(?:remaining|r)=(\d+(?:\.\d+)?)/.exec(combined)?.[1]);
    reset ??= num(/(?:^|[\s,;])(?:reset|t)=(\d+(?:\.\d+)?)/.exec(combined)?.[1]);
  }
  if (remaining === undefined || reset === undefined || remaining < 0 || reset < 0) return undefined;
  const resetSeconds = reset > 1e9 ? reset - wallNowMs / 1000 : reset;
  return { remaining, resetSeconds };
}

/** Only the headers the budget reads, so a worker posts little across threads. */
export function rateLimitHeaders(headers: RateOutcome['headers']): RateOutcome['headers'] | undefined {
  let out: RateOutcome['headers'] | undefined;
  for (const [k, v] of Object.entries(headers)) {
    if (k === 'ratelimit' || k.startsWith('x-ratelimit-') || k.startsWith('ratelimit-')) (out ??= {})[k] = v;
  }
  return out;
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function num(v: string | string[] | undefined): number | undefined {
  const s = first(v);
  if (s === undefined || s.trim() === '') return undefined;
  const n = Number(s);
  return Number.isFinite(n) ? n : undefined;
}
