// When grants came, in virtual time, and how many fall in any window: shared
// by the grant-queue and rate-budget tests.

import type { VirtualTime } from './virtual-time.js';

/** Asks for `n` grants at once and records the virtual time of each. */
export function ask(queue: { acquire(grant: () => void): void }, time: VirtualTime, n: number): number[] {
  const at: number[] = [];
  for (let i = 0; i < n; i++) queue.acquire(() => at.push(time.now()));
  return at;
}

/** Most of `times` inside any window [t, t + ms). */
export function maxInWindow(times: number[], ms: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let max = 0;
  for (let lo = 0, hi = 0; hi < sorted.length; hi++) {
    while (sorted[hi]! - sorted[lo]! >= ms) lo++;
    max = Math.max(max, hi - lo + 1);
  }
  return max;
}
