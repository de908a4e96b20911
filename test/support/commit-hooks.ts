// Test only: commit hooks that stop a real CLI run inside a commit, so a crash
// test lands "during a commit" every time instead of racing one with fs.watch.
// The section worker loads this module when UZP_TEST_COMMIT_HOOKS names its
// compiled file (workers/section-worker.ts); what to do, and at which commit,
// comes in UZP_TEST_COMMIT_PLAN. Tests build both with commitHooksEnv().
//
// Only commits that append data count: a window without records has no
// journal, and a test of "killed during a commit" wants data at stake.
//
// 'enospc' runs the disk out of space instead: from the Nth commit with data
// on, the data files take only `bytes` more bytes in this process (0 with
// `commit: 0`: full from the start, recovery included), as a full disk does.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CommitHooks } from '../../src/storage/window-commit.js';

export interface CommitPlan {
  /** Right after the journal is written, or right after the first data file of the commit is appended. */
  at: 'pending' | 'append';
  /** Strike in this section's Nth commit with data (1 = the first; 0 with 'enospc': from the start). */
  commit: number;
  /**
   * 'kill': SIGKILL the whole process. 'block': stop the section's commit
   * there for good (the process ends only by a signal or process.exit), after
   * writing `<marker>/<section>.blocked` so the test knows; other sections on
   * the same worker thread go on.
   */
  action: 'kill' | 'block' | 'enospc';
  marker?: string;
  /** 'enospc': bytes the data files take in all once the disk fills. */
  bytes?: number;
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
  if (!plan || !['pending', 'append'].includes(plan.at) || !['kill', 'block', 'enospc'].includes(plan.action) || !(plan.commit >= (plan.action === 'enospc' ? 0 : 1))) {
    throw new Error(`${PLAN_ENV} must be a commit plan, got ${JSON.stringify(process.env[PLAN_ENV])}`);
  }
  if (plan.action === 'block' && !plan.marker) throw new Error(`${PLAN_ENV}: 'block' needs a marker directory`);
  return plan;
}

export default function commitHooks(target: CommitHookTarget): CommitHooks {
  const plan = readPlan();
  let commits = 0;
  let counted = false;
  const strike = (): Promise<never> => {
    if (plan.action === 'kill') process.kill(process.pid, 'SIGKILL');
    writeFileSync(blockedMarker(plan.marker as string, target.section), `${process.pid}\n`);
    // A block stops this section's commit for good, without blocking its
    // thread: other sections sharing the thread go on to their own commits.
    return new Promise<never>(() => undefined);
  };
  // 'enospc': bytes the disk still takes, once full (undefined: not yet).
  let space: number | undefined = plan.action === 'enospc' && plan.commit === 0 ? (plan.bytes ?? 0) : undefined;
  return {
    async afterJournal(files): Promise<void> {
      counted = files.length > 0;
      if (counted) commits++;
      if (plan.action === 'enospc') {
        if (counted && commits === plan.commit) space = plan.bytes ?? 0;
        return;
      }
      if (counted && plan.at === 'pending' && commits >= plan.commit) await strike();
    },
    async afterAppend(): Promise<void> {
      if (plan.action !== 'enospc' && counted && plan.at === 'append' && commits >= plan.commit) await strike();
    },
    spaceFor(): number | undefined {
      // The first write after the disk fills takes what is left; every later one finds it full.
      const left = space;
      if (space !== undefined) space = 0;
      return left;
    },
  };
}
