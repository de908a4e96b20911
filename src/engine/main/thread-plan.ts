// How many worker threads a run starts and how many sections each runs at
// once (docs/decisions.md, "Threads sized to the machine"). Sections are I/O:
// a thread runs several of them concurrently on its event loop. Threads are
// CPU: never more than the machine's cores, nor than there are sections, and
// one more only for every SECTIONS_PER_THREAD sections at once.

import os from 'node:os';

export interface ThreadPlan {
  /** Worker threads at most (Piscina maxThreads). */
  threads: number;
  /** Sections one thread runs at once (Piscina concurrentTasksPerWorker). */
  sectionsPerThread: number;
  /** Old-generation heap limit of each thread, MiB (Worker resourceLimits). */
  heapMiB: number;
  /** Young-generation size of each thread, MiB (Worker resourceLimits). */
  youngMiB: number;
}

/**
 * V8's default young generation (three 16 MiB semi-spaces) is sized for
 * throughput; a section's objects are short-lived and small. 8 MiB took the
 * 1,000-section tick from 240 to 196 MiB peak RSS and 29 to 24 CPU s, the
 * 7-section tick from 139 to 131 MiB, and left the million-record backfill's
 * CPU per record unchanged (bench/RESULTS.md, "Cron tick"). 4 MiB, side by
 * side with 8: the 7-section data tick 117 → 113 MiB (3.25 → 3.34 CPU s,
 * medians of 8, within their spread), 1,000 sections 194 → 182 MiB, the
 * million-record backfill 108 → 104 MiB at the same CPU per record.
 */
const YOUNG_MIB = 4;

/**
 * Sections one thread is given before another thread starts. A section
 * waits on the API nearly all the time: at the latency bench's L = 20 ms and
 * max_parallel_details = 2, one costs ≈ 6 % of a core, so eight keep a
 * thread about half busy. Each extra thread costs its own module load, JIT
 * warm-up and heap (bench/RESULTS.md, "Cron tick": one thread instead of two
 * took the 7-section tick from ≈ 7 to ≈ 4.5 CPU s).
 */
const SECTIONS_PER_THREAD = 8;

/** Heap a thread needs besides its sections' answers: modules, pools, one window's records. */
const BASE_HEAP_MIB = 128;
/**
 * A parsed JSON answer takes a few times its size as objects, next to its
 * text: room for that many copies of the largest allowed answer per section.
 */
const ANSWER_HEAP_FACTOR = 4;

/**
 * `sections` to run, `concurrency` of them at once (--max-workers, or 1),
 * on a machine with `cores` (os.availableParallelism()) CPUs.
 * `maxResponseMiB` is the largest max_response_size among them.
 */
export function threadPlan(sections: number, concurrency: number, maxResponseMiB: number, cores: number = os.availableParallelism()): ThreadPlan {
  const atOnce = Math.max(1, Math.min(sections, concurrency));
  const threads = Math.max(1, Math.min(cores, Math.ceil(atOnce / SECTIONS_PER_THREAD)));
  const sectionsPerThread = Math.ceil(atOnce / threads);
  // One runaway section can only take its own thread down (failing the
  // sections it shares it with), never the host.
  const heapMiB = BASE_HEAP_MIB + ANSWER_HEAP_FACTOR * maxResponseMiB * Math.min(sectionsPerThread, 4);
  return { threads, sectionsPerThread, heapMiB, youngMiB: YOUNG_MIB };
}
