// What the recent answers on one API key say about a new 429: whether it is
// part of a burst or of a high share of 429s, which only a rate above the
// key's quota produces, or could be one of the isolated 429s a gateway, a WAF
// or another client of the same key sends whatever our rate. The quota
// estimator (quota-estimator.ts) asks; the scheme as a whole: rate-budget.ts
// and docs/decisions.md, "Isolated 429s and quota 429s".
//
// Two views of the same answers, because answers reach the main thread in two
// ways: a 429 at once, plain answers counted by each worker and posted in
// batches up to ADMITTED_FLUSH_MS late (a worker posts its batch before its
// own 429, so the order within a worker holds):
// - the last RECENT answers in the order they arrived: BURST of them being
//   429s is a burst. At a 5 % share of random 429s the chance that a 429
//   finds 5 more among the 9 answers before it is about 3 × 10⁻⁵; a free key
//   that has run into its quota gets nothing but 429s, so it takes 6. With
//   a background share of 429s b, 2 × RECENT × b more are asked for (7 at
//   5 %, 8 at 10 %), which keeps the chance near 10⁻⁵.
// - the answers of the last SHARE_MS, from its first 429 on: SHARE_MIN 429s or more that are at
//   least SHARE above the key's background share of 429s (the share it met
//   while free, BACKGROUND_PRIOR) of them. This catches
//   a rate well above the quota, whose 429s come mixed with admissions.
//   Random 429s at 5 % reach it with a chance of about 10⁻⁶ at 20 answers a
//   second (12 or more of 40) and less at more; the count matters as much as
//   the share, because a false positive lowers the estimate, the rate with
//   it, and at a lower rate fewer answers make a share: without the count a
//   key would slide down step by step.

/** Answers looked at for a burst, and how many of them must be 429s. */
export const RECENT = 10;
export const BURST = 6;
/** Time looked at for a high share of 429s, the share, and the fewest 429s that count. */
export const SHARE_MS = 2000;
export const SHARE = 0.15;
export const SHARE_MIN = 12;
/**
 * The background share is learnt only while the key is free (before any
 * quota estimate, when no 429 can be our rate's doing at a share below the
 * tests above), as 429s ÷ (answers + BACKGROUND_PRIOR): on a paced key the
 * 429s are the suspects, and a background learnt from them would raise the
 * bar for the very evidence that should lower a too-high estimate.
 */
export const BACKGROUND_PRIOR = 200;
const SLOT_MS = 100;
const SLOTS = SHARE_MS / SLOT_MS;

export class ThrottleEvidence {
  /** 1 for a 429, 0 for an admission; the last RECENT answers, oldest first. */
  private readonly recent: number[] = [];
  private readonly answers = new Float64Array(SLOTS);
  private readonly rejected = new Float64Array(SLOTS);
  /** Of those 429s, the ones that taught the background share (see unlearnRecent). */
  private readonly learnt = new Float64Array(SLOTS);
  private slotIndex = 0;
  /** Since the last call of sinceMark(): answers and 429s. */
  private markAnswers = 0;
  private markRejected = 0;
  private freeAnswers = 0;
  private freeRejected = 0;
  /** Whether answers now teach the background share (the key is free). */
  learning = true;

  /** Plain answers (not 429) that arrived now. */
  admitted(now: number, count: number): void {
    if (!(count > 0)) return;
    for (let i = 0; i < Math.min(count, RECENT); i++) this.push(0);
    this.add(now, count, 0);
    this.markAnswers += count;
    if (this.learning) this.freeAnswers += count;
  }

  /** A 429 that arrived now. */
  rateLimited(now: number): void {
    this.push(1);
    this.add(now, 1, 1);
    this.markAnswers++;
    this.markRejected++;
    if (this.learning) {
      this.freeAnswers++;
      this.freeRejected++;
      this.learnt[this.slotIndex % SLOTS] = (this.learnt[this.slotIndex % SLOTS] ?? 0) + 1;
    }
  }

  /**
   * The 429s of the last SHARE_MS turned out to be a burst or a high share,
   * the quota's doing (issue 8c): those that taught the background share
   * while they still looked isolated are taken back out of it. Else a free
   * key that ran into its quota (the first burst of a run: a dozen 429s
   * before the burst is plain) would keep a background share of several per
   * cent, which raises every later bar (burst, high share, LOWER_SHARE).
   */
  unlearnRecent(): void {
    let n = 0;
    for (const x of this.learnt) n += x;
    this.freeRejected = Math.max(0, this.freeRejected - n);
    this.freeAnswers = Math.max(0, this.freeAnswers - n);
    this.learnt.fill(0);
  }

  /** A 429 inside a running episode: counted for sinceMark() only, not as evidence of a burst or share. */
  inEpisode(): void {
    this.markAnswers++;
    this.markRejected++;
  }

  /** The share of 429s a free key met (see BACKGROUND_PRIOR). */
  get backgroundShare(): number {
    return this.freeRejected / (this.freeAnswers + BACKGROUND_PRIOR);
  }

  /**
   * Replaces the background share by what a trial cut's answers showed
   * (quota-trial.ts): a free key whose 429s were a slightly exceeded quota
   * learnt that quota's 429s as background.
   */
  relearn(answers: number, rejected: number): void {
    this.freeAnswers = answers;
    this.freeRejected = rejected;
  }

  /** Whether the latest answers make a burst of 429s (see the header comment). */
  burst(): boolean {
    let n = 0;
    for (const r of this.recent) n += r;
    // More random 429s in the background make a chance burst likelier: ask for more (see above).
    return n >= Math.min(RECENT, BURST + Math.floor(2 * RECENT * this.backgroundShare));
  }

  /** Whether 429s were a high share of the answers of the last SHARE_MS (see the header comment). */
  highShare(now: number): boolean {
    this.advance(now);
    let answers = 0;
    let rejected = 0;
    // From the oldest slot with a 429 on: admissions before the 429s began would dilute a share that just rose.
    let started = false;
    for (let k = SLOTS - 1; k >= 0; k--) {
      const i = (this.slotIndex - k + SLOTS * 2) % SLOTS;
      started ||= (this.rejected[i] ?? 0) > 0;
      if (!started) continue;
      answers += this.answers[i] ?? 0;
      rejected += this.rejected[i] ?? 0;
    }
    return rejected >= SHARE_MIN && rejected >= (SHARE + this.backgroundShare) * answers;
  }

  /** Forgets the recent answers (not the background share): a new episode judges the 429s after it. */
  clearRecent(): void {
    this.recent.length = 0;
    this.answers.fill(0);
    this.rejected.fill(0);
    this.learnt.fill(0);
  }

  /** Share of 429s among the answers since the previous call; starts counting afresh. */
  sinceMark(): { answers: number; rejected: number; share: number } {
    const out = { answers: this.markAnswers, rejected: this.markRejected, share: this.markAnswers > 0 ? this.markRejected / this.markAnswers : 0 };
    this.markAnswers = 0;
    this.markRejected = 0;
    return out;
  }

  private push(bit: number): void {
    this.recent.push(bit);
    if (this.recent.length > RECENT) this.recent.shift();
  }

  private add(now: number, answers: number, rejected: number): void {
    this.advance(now);
    const i = this.slotIndex % SLOTS;
    this.answers[i] = (this.answers[i] ?? 0) + answers;
    this.rejected[i] = (this.rejected[i] ?? 0) + rejected;
  }

  private advance(now: number): void {
    const current = Math.floor(now / SLOT_MS);
    if (current <= this.slotIndex) return;
    const steps = Math.min(SLOTS, current - this.slotIndex);
    for (let i = 1; i <= steps; i++) {
      this.answers[(this.slotIndex + i) % SLOTS] = 0;
      this.rejected[(this.slotIndex + i) % SLOTS] = 0;
      this.learnt[(this.slotIndex + i) % SLOTS] = 0;
    }
    this.slotIndex = current;
  }
}
