// The collector as cron runs it (bin/uzmanposta, a child process) against the
// mock started as `uzmanposta-mock --random-429 0.02` would be: 2 % of all
// requests answered 429 with Retry-After: 1 whatever the rate, as a gateway
// or another client of the key causes (issue 8). Every record still arrives
// exactly once, and no 429 leaves a section failed.

import { join } from 'node:path';

import { expect } from 'chai';

import { DEFAULT_KEY, main as mockMain } from '../../src/mock-api/cli.js';
import type { MockApi, MockStreamSpec } from '../../src/mock-api/index.js';
import { onCleanup } from '../support/cleanup.js';
import { dayAnchor } from '../support/epochs.js';
import { readStream, runCli, tempDir } from '../support/harness.js';
import { writeSectionsIni, type IniSection } from '../support/sections-ini.js';

describe('random 429s at 2 % (uzmanposta-mock --random-429 0.02) against the CLI', function () {
  this.timeout(120_000);
  // Noon: the same data at any hour of the run (support/epochs.ts).
  const end = dayAnchor() + 12 * 3600;
  const start = end - 20 * 60;

  it('four mail sections on one key complete, with every record exactly once', async () => {
    const api = (await mockMain(
      ['--from', String(start - 60), '--to', String(end + 60), '--streams', 'mail@a.test=30,mail@b.test=30', '--seed', '8', '--random-429', '0.02'],
      { stdout: () => undefined, stderr: (t) => expect.fail(t), onSignal: () => undefined, setExitCode: (c) => expect.fail(`mock exit code ${c}`) },
    )) as MockApi;
    expect(api, 'the mock started').to.not.equal(undefined);
    onCleanup(() => api.close());
    const streams: MockStreamSpec[] = ['a.test', 'b.test'].flatMap((domain) =>
      ['incominglog', 'outgoinglog'].map((type) => ({ key: DEFAULT_KEY, domain, category: 'mail' as const, type, perMinute: 30 })),
    );
    const sections: IniSection[] = streams.map((stream) => ({ name: `${stream.domain}-${stream.type ?? ''}`, stream }));
    const dir = tempDir('uzp-random429-');
    const config = writeSectionsIni(dir, api, sections);

    const run = await runCli(['--config', config, '--all', '--parallel', '--start-time', String(start), '--end-time', String(end)], { cwd: dir });
    expect(run.code, run.stderr + run.stdout).to.equal(0);

    const stats = api.stats();
    // The draws are seeded: the same run meets the same 429s every time.
    expect(stats.byFault['status429'] ?? 0, 'random 429s were answered').to.be.greaterThan(10);
    expect((stats.byFault['status429'] ?? 0) / stats.requests).to.be.within(0.01, 0.03);
    for (const s of sections) {
      const { domain, type } = s.stream;
      const written = readStream(join(dir, 'output', domain, 'mail', type ?? ''), `${domain}_${type ?? ''}_`);
      const truth = api.expected(s.stream, start, end);
      expect(truth.length, `${s.name}: the scenario has records`).to.be.greaterThan(100);
      expect(written, `${s.name}: every record once, in order`).to.deep.equal(truth);
    }
  });
});
