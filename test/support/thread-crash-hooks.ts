// Test only: commit hooks (loaded by workers/section-worker.ts through
// UZP_TEST_COMMIT_HOOKS, as support/commit-hooks.ts is) that break one
// section after its first commit has written its position.
// UZP_TEST_CRASH_SECTION names the section; UZP_TEST_CRASH_MODE says how:
// - 'throw' (the default): an exception nobody catches, thrown on the
//   thread's event loop from that section's code (a bug). The worker charges
//   it to that section, which fails alone.
// - 'exit': the worker thread itself ends (process.exit in a worker), taking
//   every section running on it along.

import type { CommitHooks } from '../../src/storage/window-commit.js';

export const CRASH_SECTION_ENV = 'UZP_TEST_CRASH_SECTION';
export const CRASH_MODE_ENV = 'UZP_TEST_CRASH_MODE';

export default function threadCrashHooks(target: { section: string }): CommitHooks {
  if (target.section !== process.env[CRASH_SECTION_ENV]) return {};
  const mode = process.env[CRASH_MODE_ENV] ?? 'throw';
  if (mode !== 'throw' && mode !== 'exit') throw new Error(`${CRASH_MODE_ENV} must be throw or exit, got ${mode}`);
  return {
    afterPosition(): void {
      setImmediate(() => {
        if (mode === 'exit') process.exit(70);
        throw new Error(`test: ${target.section} throws an exception nobody catches`);
      });
    },
  };
}
