// Pipelining (issue 4): the next window's list is requested while the current
// window's details are still being fetched, and the output is still exactly
// the ground truth in order. Read from the order of the mock's request log,
// with latency so that overlap is observable.

import { expect } from 'chai';
import { join } from 'node:path';
import { startMockApi, type MockRequestLogEntry } from '../src/mock-api/index.js';
import { readStream, runCli, tempDir } from './support/harness.js';
import { writeSectionsIni } from './support/sections-ini.js';
import { onCleanup } from './support/cleanup.js';

const KEY = 'pipeline-key-0123456789abcd';

describe('pipelining: lists ahead of details (CLI against the mock)', function () {
  this.timeout(60_000);

  it('requests the list of window i+1 before the last detail of window i, and still writes the ground truth', async () => {
    const dir = tempDir();
    const end = Math.floor(Date.now() / 1000) - 600;
    const split = 60;
    const start = end - 5 * split;
    const stream = { key: KEY, domain: 'p.test', category: 'mail' as const, type: 'incominglog', perMinute: 24 };
    const mock = await startMockApi({ seed: 8, from: start - 60, to: end + 60, streams: [stream], faults: { latencyMs: 25 } });
    onCleanup(() => mock.close());
    const config = writeSectionsIni(dir, mock, [{ name: 'p', stream }], { split_interval: split, max_parallel_details: 2 });
    const run = await runCli(['--config', config, '--section', 'p', '--start-time', String(start), '--end-time', String(end)], { cwd: dir });
    expect(run.code, run.stderr).to.equal(0);

    const log = mock.stats().log;
    // Lists ask from one second before the window (docs/api.md, "Range ends"): window = [starttime + 1, endtime).
    const lists = log.map((e, i) => ({ e, i })).filter(({ e }) => e.kind === 'list');
    expect(lists.map(({ e }) => e.starttime! + 1)).to.deep.equal([0, 1, 2, 3, 4].map((k) => start + k * split));
    const lastDetailOf = (w: MockRequestLogEntry): number => {
      let last = -1;
      log.forEach((e, i) => {
        if (e.kind === 'detail' && e.time! > w.starttime! && e.time! < w.endtime!) last = i;
      });
      return last;
    };
    for (let k = 0; k + 1 < lists.length; k++) {
      const current = lists[k]!;
      const nextList = lists[k + 1]!;
      const details = log.filter((e) => e.kind === 'detail' && e.time! > current.e.starttime! && e.time! < current.e.endtime!).length;
      expect(details, `window ${k} has details to overlap with`).to.be.at.least(6);
      expect(nextList.i, `list of window ${k + 1} before the last detail of window ${k}`).to.be.lessThan(lastDetailOf(current.e));
    }
    const written = readStream(join(dir, 'output', 'p.test', 'mail', 'incominglog'), 'p.test_incominglog_');
    expect(written).to.deep.equal(mock.expected(stream, start, end));
  });
});
