// Test only: commit hooks (loaded by workers/section-worker.ts through
// UZP_TEST_COMMIT_HOOKS, as support/commit-hooks.ts is) that crash the worker
// thread of one section: after that section's first commit has written its
// position, an exception nobody catches is thrown on the thread's event loop,
// which ends the thread and every section running on it. UZP_TEST_CRASH_SECTION
// names the section.

import type { CommitHooks } from '../../src/storage/window-commit.js';

export const CRASH_SECTION_ENV = 'UZP_TEST_CRASH_SECTION';

export default function threadCrashHooks(target: { section: string }): CommitHooks {
  if (target.section !== process.env[CRASH_SECTION_ENV]) return {};
  return {
    afterPosition(): void {
      setImmediate(() => {
        throw new Error(`test: ${target.section} crashes its worker thread`);
      });
    },
  };
}
