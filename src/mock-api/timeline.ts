// When each record of a stream happens. A stream's records are numbered
// 0..total-1 with non-decreasing event times, so "records whose time is in
// [S, E)" is the index range [firstIndexAt(S), firstIndexAt(E)), found by
// arithmetic and one binary search, never by materialising records.
//
// The span is cut into one-minute buckets. Only the per-bucket cumulative
// counts are stored (8 bytes a minute); how a bucket's records spread over its
// seconds is recomputed from hashes on demand. Seconds get uneven weights, and
// some none at all, so records bunch up and several often share one second,
// which is what boundary-second bugs need in order to show.

import { hashInts, unitOf } from './random.js';

const BUCKET_SECONDS = 60;
const SALT_COUNT = 1;
const SALT_COUNT_ROUND = 2;
const SALT_SECOND = 3;

export class Timeline {
  readonly from: number;
  readonly to: number;
  readonly total: number;
  readonly #seed: number;
  readonly #tag: number;
  /** cum[b] = number of records in buckets before b; cum[bucketCount] = total. */
  readonly #cum: Float64Array;
  /** One recently used bucket layout: consecutive lookups mostly hit the same minute. */
  #cachedBucket = -1;
  #cachedLayout: Int32Array = new Int32Array(1);

  constructor(seed: number, tag: number, from: number, to: number, perMinute: number) {
    this.from = from;
    this.to = to;
    this.#seed = seed;
    this.#tag = tag;
    const buckets = Math.max(0, Math.ceil((to - from) / BUCKET_SECONDS));
    const cum = new Float64Array(buckets + 1);
    let sum = 0;
    for (let b = 0; b < buckets; b++) {
      cum[b] = sum;
      sum += this.#bucketCount(b, perMinute);
    }
    cum[buckets] = sum;
    this.#cum = cum;
    this.total = sum;
  }

  /** Records per bucket: a daily wave times per-minute noise, averaging `perMinute`. */
  #bucketCount(b: number, perMinute: number): number {
    if (perMinute <= 0) return 0;
    const start = this.from + b * BUCKET_SECONDS;
    const width = Math.min(BUCKET_SECONDS, this.to - start);
    const phase = (this.#tag % 1000) / 1000;
    const wave = 1 + 0.35 * Math.sin(2 * Math.PI * (start / 86400 + phase));
    const noise = 0.7 + 0.6 * unitOf(this.#seed, this.#tag, b, SALT_COUNT);
    const mean = (perMinute * width * wave * noise) / BUCKET_SECONDS;
    return Math.floor(mean + unitOf(this.#seed, this.#tag, b, SALT_COUNT_ROUND));
  }

  /** layout[s] = records of the bucket whose second offset is < s; layout[width] = bucket count. */
  #layout(b: number): Int32Array {
    if (b === this.#cachedBucket) return this.#cachedLayout;
    const start = this.from + b * BUCKET_SECONDS;
    const width = Math.min(BUCKET_SECONDS, this.to - start);
    const count = (this.#cum[b + 1] as number) - (this.#cum[b] as number);
    const weights = new Float64Array(width);
    let total = 0;
    for (let s = 0; s < width; s++) {
      const u = hashInts(this.#seed, this.#tag, b, s, SALT_SECOND) / 4294967296;
      // A third of the seconds stay empty; the rest get skewed weights, so busy seconds exist.
      const w = u < 0.33 ? 0 : (u - 0.33) * (u - 0.33) * 10 + 0.05;
      weights[s] = w;
      total += w;
    }
    if (total === 0) {
      weights[0] = 1;
      total = 1;
    }
    const layout = new Int32Array(width + 1);
    let acc = 0;
    for (let s = 0; s < width; s++) {
      layout[s] = Math.floor((count * acc) / total);
      acc += weights[s] as number;
    }
    layout[width] = count;
    this.#cachedBucket = b;
    this.#cachedLayout = layout;
    return layout;
  }

  /** Index of the first record whose event time is >= t (total when none). */
  firstIndexAt(time: number): number {
    const t = Math.ceil(time);
    if (t <= this.from) return 0;
    if (t >= this.to) return this.total;
    const b = Math.floor((t - this.from) / BUCKET_SECONDS);
    const offset = t - (this.from + b * BUCKET_SECONDS);
    return (this.#cum[b] as number) + (this.#layout(b)[offset] as number);
  }

  /** Number of records with event time in [from, to). */
  countIn(from: number, to: number): number {
    return Math.max(0, this.firstIndexAt(to) - this.firstIndexAt(from));
  }

  #bucketOf(index: number): number {
    // Largest b with cum[b] <= index; empty buckets share cum values, so search the last.
    let lo = 0;
    let hi = this.#cum.length - 1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >>> 1;
      if ((this.#cum[mid] as number) <= index) lo = mid;
      else hi = mid;
    }
    return lo;
  }

  timeOf(index: number): number {
    if (!(index >= 0 && index < this.total)) throw new RangeError(`index ${index} outside 0..${this.total - 1}`);
    const b = this.#bucketOf(index);
    const layout = this.#layout(b);
    const j = index - (this.#cum[b] as number);
    // Largest s with layout[s] <= j.
    let lo = 0;
    let hi = layout.length - 1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >>> 1;
      if ((layout[mid] as number) <= j) lo = mid;
      else hi = mid;
    }
    return this.from + b * BUCKET_SECONDS + lo;
  }

  /** Event times of indices [lo, hi), walking bucket by bucket instead of searching each. */
  timesOf(lo: number, hi: number): Float64Array {
    const out = new Float64Array(Math.max(0, hi - lo));
    let k = 0;
    for (const t of this.walk(lo, hi)) out[k++] = t;
    return out;
  }

  /** Yields the event time of each index in [lo, hi), in order. */
  *walk(lo: number, hi: number): Generator<number, void, void> {
    if (hi <= lo) return;
    let index = lo;
    let b = this.#bucketOf(index);
    while (index < hi) {
      const bucketEnd = this.#cum[b + 1] as number;
      if (index >= bucketEnd) {
        b++;
        continue;
      }
      const layout = this.#layout(b);
      const base = this.#cum[b] as number;
      const start = this.from + b * BUCKET_SECONDS;
      let s = 0;
      while ((layout[s + 1] as number) <= index - base) s++;
      const stop = Math.min(hi, bucketEnd);
      while (index < stop) {
        while ((layout[s + 1] as number) <= index - base) s++;
        yield start + s;
        index++;
      }
      b++;
    }
  }
}
