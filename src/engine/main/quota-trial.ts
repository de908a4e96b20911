// The trial cut: on a free key, whether a steady modest share of 429s is a
// quota exceeded by a little or random 429s in the background, found by the
// question issue 8 asks: does cutting the rate make them stop? The quota
// estimator (quota-estimator.ts) feeds it the answers it could not explain
// otherwise (admissions and isolated 429s) and applies its verdicts; the
// scheme as a whole: docs/decisions.md, "Isolated 429s and quota 429s".
//
// Why it is needed: with few requests in flight, each request a token bucket
// refuses waits its Retry-After (1 s), so the bucket's 429s come at a steady
// 5–7 % of the answers: no burst, no high share (throttle-evidence.ts), and
// the key stays free while one request in fifteen or so is refused.
//
// - Answers are judged in blocks of TRIAL_ANSWERS from the first 429 on (a
//   bucket is empty then). A block whose 429 share is at least the bar (TRIAL_SHARE at first) with TRIAL_MIN_REJECTED 429s
//   starts a trial: the key is paced at TRIAL_CUT × the rate the block was
//   admitted at. A bucket refills faster than that, so its 429s stop; random
//   429s do not care.
// - The trial's own answers are counted from TRIAL_SETTLE_MS after it began
//   (answers to requests sent before it, and retries after a 1 s wait, are
//   not its evidence), TRIAL_ANSWERS to TRIAL_MAX_ANSWERS of them. If their 429s are at most
//   TRIAL_STOPPED × and TRIAL_SIGMAS standard deviations below what the free
//   share over the whole run (not the block that started the trial: it was
//   chosen for a high share, and random 429s fall back from it by chance
//   alone) predicts, it was a quota: the estimator keeps the pace and takes
//   the block's admitted rate as its estimate, which its probing then raises.
//   The verdict comes from TRIAL_ANSWERS answers on, "quota" as soon as the
//   429s are few enough, "background" once they are too many ever to be, or
//   at TRIAL_MAX_ANSWERS.
//   Otherwise it was background: the key is free again, the bar rises to 1.5
//   × the larger of the trial's share and the block's that started it (so
//   the same background cannot start another trial by chance), and the
//   next block to be judged is TRIAL_GAP_BLOCKS × 2^(failed trials) blocks
//   later.
// - Why it cannot collapse: a trial cuts once, to TRIAL_CUT × what was
//   admitted, and is judged on a share, which random 429s keep whatever the
//   rate; a failed trial undoes its cut completely, and each failure makes
//   the next one rarer (a higher bar, twice the gap), so random 429s cost at
//   most a few trials of about ten seconds at 90 % speed over a whole run. A
//   trial that wrongly finds a quota (random 429s whose share fell by half
//   and 2.5 deviations by chance: a few in a thousand trials) leaves a key
//   paced at 0.9 × what it was admitted at, never lower: from there probing
//   climbs, and the estimate is lowered only on the estimator's usual
//   evidence (bursts, a share well above the background, which the trial's
//   answers reset to what they showed).

export const TRIAL_ANSWERS = 200;
export const TRIAL_MAX_ANSWERS = 600;
export const TRIAL_MIN_REJECTED = 10;
export const TRIAL_SHARE = 0.04;
export const TRIAL_CUT = 0.9;
export const TRIAL_STOPPED = 0.5;
export const TRIAL_SIGMAS = 2.5;
export const TRIAL_SETTLE_MS = 1500;
export const TRIAL_GAP_BLOCKS = 4;

export type TrialVerdict =
  | { kind: 'start'; rate: number }
  | { kind: 'quota'; admittedRate: number; rate: number; answers: number; rejected: number }
  | { kind: 'background' };

interface Running {
  startedAt: number;
  rate: number;
  admittedRate: number;
  before: number;
  trigger: number;
  answers: number;
  rejected: number;
}

export class QuotaTrial {
  private block = { answers: 0, rejected: 0, since: 0 };
  private bar = TRIAL_SHARE;
  private failures = 0;
  private skip = 0;
  private running: Running | undefined;
  /** Every answer judged while free (not those of trials): the share a trial is compared with. */
  private readonly free = { answers: 0, rejected: 0 };
  /** Trials started, and those that found a quota. */
  readonly tally = { trials: 0, quotas: 0 };

  get active(): boolean {
    return this.running !== undefined;
  }

  /** Drops a running trial: the estimator found the quota another way. */
  abort(): void {
    this.running = undefined;
    this.resetBlock(0);
  }

  /** Answers the estimator could not explain otherwise: `rejected` of `answers` were 429s. */
  answered(now: number, answers: number, rejected: number): TrialVerdict | undefined {
    const run = this.running;
    if (run) {
      if (now < run.startedAt + TRIAL_SETTLE_MS) return undefined;
      run.answers += answers;
      run.rejected += rejected;
      if (run.answers < TRIAL_ANSWERS) return undefined;
      // Compared with the free share over the whole run, not the block that started the trial: that
      // block was chosen for a high share, and random 429s would fall back from it by chance alone.
      // Judged from TRIAL_ANSWERS answers on: "quota" as soon as the 429s are few enough, "background"
      // once they are too many ever to be (the bar only rises with more answers), or at TRIAL_MAX_ANSWERS.
      const stoppedAt = (n: number): number => {
        const expected = run.before * n;
        return Math.min(TRIAL_STOPPED * expected, expected - TRIAL_SIGMAS * Math.sqrt(expected));
      };
      const quota = run.rejected <= stoppedAt(run.answers);
      if (!quota && run.answers < TRIAL_MAX_ANSWERS && run.rejected <= stoppedAt(TRIAL_MAX_ANSWERS)) return undefined;
      this.running = undefined;
      this.resetBlock(now);
      const share = run.rejected / run.answers;
      if (quota) {
        this.tally.quotas++;
        return { kind: 'quota', admittedRate: run.admittedRate, rate: run.rate, answers: run.answers, rejected: run.rejected };
      }
      this.failures++;
      this.bar = Math.max(this.bar, 1.5 * Math.max(run.trigger, share));
      this.skip = TRIAL_GAP_BLOCKS * 2 ** this.failures;
      return { kind: 'background' };
    }
    // Blocks begin at the first 429: a bucket is empty then, so what a block admits is its refill, not
    // its burst (a trial paced from a burst would sit above the quota and drain the bucket only slowly).
    if (this.free.rejected === 0 && rejected === 0) return undefined;
    if (this.block.answers === 0) this.block.since = now;
    this.free.answers += answers;
    this.free.rejected += rejected;
    this.block.answers += answers;
    this.block.rejected += rejected;
    if (this.block.answers < TRIAL_ANSWERS) return undefined;
    const { answers: n, rejected: r, since } = this.block;
    this.resetBlock(now);
    if (this.skip > 0) {
      this.skip--;
      return undefined;
    }
    const share = r / n;
    const seconds = (now - since) / 1000;
    if (r < TRIAL_MIN_REJECTED || share < this.bar || !(seconds > 0)) return undefined;
    const admittedRate = (n - r) / seconds;
    const rate = TRIAL_CUT * admittedRate;
    this.running = { startedAt: now, rate, admittedRate, before: this.free.rejected / this.free.answers, trigger: share, answers: 0, rejected: 0 };
    this.tally.trials++;
    return { kind: 'start', rate };
  }

  private resetBlock(now: number): void {
    this.block = { answers: 0, rejected: 0, since: now };
  }
}
