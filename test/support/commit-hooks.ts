// Test only: commit hooks that stop a real CLI run inside a commit, so a crash
// test lands "during a commit" every time instead of racing one with fs.watch.
// The section worker loads this module when UZP_TEST_COMMIT_HOOKS names its
// compiled file (workers/section-worker.ts); what to do, and at which commit,
// comes in UZP_TEST_COMMIT_PLAN. Tests build both with commitHooksEnv().
//
// Only commits that append data count: a window without records has nothing
// to cut back, and a test of "killed during a commit" wants data at stake.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CommitHooks } from '../../src/storage/window-commit.js';

export interface CommitPlan {
  /** Right after the pending record is written, or right after the first data file of the commit is appended. */
  at: 'pending' | 'append';
  /** Strike in this section's Nth commit with data (1 = the first). */
  commit: number;
  /**
   * 'kill': SIGKILL the whole process. 'block': stop the worker thread there
   * for good (the process ends only by a signal or process.exit), after
   * writing `<marker>/<section>.blocked` so the test knows.
   */
  action: 'kill' | 'block';
  marker?: string;
}

/** What the section worker hands the module's default export. */
export interface CommitHookTarget {
  section: string;
  positionFile: string;
}

const MODULE_ENV = 'UZP_TEST_COMMIT_HOOKS';
const PLAN_ENV = 'UZP_TEST_COMMIT_PLAN';

/** The environment of a CLI run whose section workers follow `plan`. */
export function commitHooksEnv(plan: CommitPlan): Record<string, string> {
  return { [MODULE_ENV]: fileURLToPath(import.meta.url), [PLAN_ENV]: JSON.stringify(plan) };
}

/** The marker file a blocked section writes under `dir`. */
export function blockedMarker(dir: string, section: string): string {
  return join(dir, `${encodeURIComponent(section)}.blocked`);
}

function readPlan(): CommitPlan {
  const plan = JSON.parse(process.env[PLAN_ENV] ?? 'null') as CommitPlan | null;
  if (!plan || !['pending', 'append'].includes(plan.at) || !['kill', 'block'].includes(plan.action) || !(plan.commit >= 1)) {
    throw new Error(`${PLAN_ENV} must be a commit plan, got ${JSON.stringify(process.env[PLAN_ENV])}`);
  }
  if (plan.action === 'block' && !plan.marker) throw new Error(`${PLAN_ENV}: 'block' needs a marker directory`);
  return plan;
}

export default function commitHooks(target: CommitHookTarget): CommitHooks {
  const plan = readPlan();
  let commits = 0;
  let counted = false;
  const strike = (): never => {
    if (plan.action === 'kill') process.kill(process.pid, 'SIGKILL');
    else writeFileSync(blockedMarker(plan.marker as string, target.section), `${process.pid}\n`);
    // SIGKILL ends the process before this matters; a block waits here for good.
    // Short waits, so a process.exit() from the main thread can still end the thread.
    const cell = new Int32Array(new SharedArrayBuffer(4));
    for (;;) Atomics.wait(cell, 0, 0, 20);
  };
  return {
    afterPending(): void {
      // Cron runs only: a backfill segment keeps its own position file, whose commits are not counted.
      let files: unknown[] = [];
      try {
        files = (JSON.parse(readFileSync(`${target.positionFile}.pending`, 'utf8')) as { files: unknown[] }).files;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      counted = files.length > 0;
      if (counted) commits++;
      if (counted && plan.at === 'pending' && commits >= plan.commit) strike();
    },
    afterAppend(): void {
      if (counted && plan.at === 'append' && commits >= plan.commit) strike();
    },
  };
}
