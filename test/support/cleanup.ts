// Undo what a test set up, right after that test. Mocha's `after` called
// inside an `it` registers a hook on the root suite, which runs at the end of
// the whole run: servers, temp directories and child processes of every test
// would pile up until then. `onCleanup` is the per-test form; this file is
// also a root hook plugin (.mocharc `require`) that runs the registrations.
//
// Outside a test (a suite's `before`), registrations run at the end of the
// run; suites that share a resource close it with their own `after`.

type Undo = () => unknown;

const perTest: Undo[] = [];
const perRun: Undo[] = [];
let inTest = false;

/** Runs `undo` when the current test ends (last registered, first run). */
export function onCleanup(undo: Undo): void {
  (inTest ? perTest : perRun).push(undo);
}

async function drain(list: Undo[]): Promise<void> {
  const errors: unknown[] = [];
  while (list.length > 0) {
    try {
      await list.pop()!();
    } catch (err) {
      errors.push(err);
    }
  }
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) throw new AggregateError(errors, `${errors.length} cleanups failed`);
}

export const mochaHooks = {
  beforeEach(): void {
    inTest = true;
  },
  async afterEach(): Promise<void> {
    inTest = false;
    await drain(perTest);
  },
  async afterAll(): Promise<void> {
    await drain(perRun);
  },
};
