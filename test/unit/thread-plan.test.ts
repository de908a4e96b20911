// Issue 9: how many worker threads a run starts (src/engine/main/thread-plan.ts).

import { expect } from 'chai';
import { threadPlan } from '../../src/engine/main/thread-plan.js';

describe('threadPlan', () => {
  it('never starts more threads than CPUs, nor than sections at once', () => {
    for (const cores of [1, 2, 4, 16]) {
      for (const [sections, concurrency] of [[1, 5], [7, 5], [7, 1], [200, 5], [1000, 32], [500, 256], [3, 256]] as const) {
        const p = threadPlan(sections, concurrency, 64, cores);
        const atOnce = Math.min(sections, concurrency);
        expect(p.threads, `${sections} sections, ${concurrency} at once, ${cores} CPUs`).to.be.at.least(1).and.at.most(Math.min(cores, atOnce));
        // --max-workers keeps its meaning: the threads hold every section that may run at once.
        expect(p.threads * p.sectionsPerThread).to.be.at.least(atOnce);
      }
    }
  });

  it('runs the 7-section cron tick in one thread, and many sections on every CPU', () => {
    expect(threadPlan(7, 5, 64, 2)).to.include({ threads: 1, sectionsPerThread: 5 });
    expect(threadPlan(1000, 32, 64, 2)).to.include({ threads: 2, sectionsPerThread: 16 });
    expect(threadPlan(500, 256, 64, 16)).to.include({ threads: 16, sectionsPerThread: 16 });
  });

  it('limits each thread heap by the largest answer its sections may hold', () => {
    expect(threadPlan(1, 1, 64, 2).heapMiB).to.equal(128 + 4 * 64);
    expect(threadPlan(1, 1, 1, 2).heapMiB).to.equal(128 + 4);
    // Room for four sections' answers at most, however many share the thread.
    expect(threadPlan(100, 100, 64, 1).heapMiB).to.equal(128 + 4 * 64 * 4);
  });
});
