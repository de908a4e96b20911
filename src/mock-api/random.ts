// Stateless hashing and a small seeded PRNG. Every generated value in the mock
// is a pure function of (seed, stream, index, salt): that is what lets a
// million-record stream exist without being stored, and lets tests compute
// the ground truth independently of what the server was asked.

/** Final avalanche of murmur3: spreads every input bit over the 32-bit output. */
function fmix32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Unsigned 32-bit hash of a few non-negative integers. Values above 2^32 are
 * folded in by their high part too, so indices of huge streams stay distinct.
 */
export function hashInts(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) {
    const lo = p >>> 0;
    const hi = Math.floor(p / 4294967296) >>> 0;
    h = fmix32(h ^ lo) + 0x7f4a7c15;
    if (hi !== 0) h = fmix32(h ^ hi) + 0x27d4eb2f;
  }
  return fmix32(h);
}

/** A hash mapped to [0, 1). */
export function unitOf(...parts: number[]): number {
  return hashInts(...parts) / 4294967296;
}

/** FNV-1a of a string: names a stream by its identity, not its position in the options. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return fmix32(h);
}

export type Rng = () => number;

/** mulberry32: tiny, fast and good enough to pick field values and fault outcomes. */
export function createRng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function pick<T>(rng: Rng, items: readonly T[]): T {
  const item = items[Math.floor(rng() * items.length)];
  if (item === undefined) throw new RangeError('pick() from an empty list');
  return item;
}

export function intBetween(rng: Rng, min: number, max: number): number {
  return min + Math.floor(rng() * (max - min + 1));
}
