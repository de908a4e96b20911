// Pipelining (issue 4): the next window's list is requested while the current
// window's details are still being fetched, and the output is still exactly
// the ground truth in order. Shown with holds: a detail of window k stays
// unanswered until the list of window k+1 has arrived, which only a pipelined
// collector can send while it waits for that detail.

import { expect } from 'chai';
import { join } from 'node:path';
import { startMockApi, type FaultRequestInfo, type MockHold } from '../../src/mock-api/index.js';
import { collect, readStream, spawnCli, tempDir } from '../support/harness.js';
import { writeSectionsIni } from '../support/sections-ini.js';
import { onCleanup } from '../support/cleanup.js';
import { dayAnchor } from '../support/epochs.js';

const KEY = 'pipeline-key-0123456789abcd';

function query(r: FaultRequestInfo, name: string): number {
  return Number(new URLSearchParams(r.rawUrl.split('?')[1] ?? '').get(name));
}

describe('pipelining: lists ahead of details (CLI against the mock)', function () {
  this.timeout(60_000);

  it('requests the list of window i+1 while a detail of window i is unanswered, and still writes the ground truth', async () => {
    const dir = tempDir();
    const end = dayAnchor() + 12 * 3600;
    const split = 60;
    const windows = 5;
    const start = end - windows * split;
    const stream = { key: KEY, domain: 'p.test', category: 'mail' as const, type: 'incominglog', perMinute: 24 };
    const mock = await startMockApi({ seed: 8, from: start - 60, to: end + 60, streams: [stream] });
    onCleanup(() => mock.close());
    const windowStart = (k: number): number => start + k * split;
    for (let k = 0; k < windows; k++) expect(mock.count(stream, windowStart(k), windowStart(k + 1)), `window ${k} has details`).to.be.at.least(2);

    // Lists ask from one second before the window (docs/api.md, "List").
    const listHolds: MockHold[] = [];
    const detailHolds: MockHold[] = [];
    for (let k = 0; k + 1 < windows; k++) {
      const from = windowStart(k);
      detailHolds.push(mock.hold((r) => r.kind === 'detail' && query(r, 'time') >= from && query(r, 'time') < from + split));
      listHolds.push(mock.hold((r) => r.kind === 'list' && query(r, 'starttime') + 1 === from + split));
    }
    onCleanup(() => [...detailHolds, ...listHolds].forEach((h) => h.release()));

    const config = writeSectionsIni(dir, mock, [{ name: 'p', stream }], { split_interval: split, max_parallel_details: 2 });
    const run = collect(spawnCli(['--config', config, '--section', 'p', '--start-time', String(start), '--end-time', String(end)], { cwd: dir }));
    for (let k = 0; k + 1 < windows; k++) {
      const detail = detailHolds[k]!;
      const nextList = listHolds[k]!;
      await Promise.all([detail.arrived, nextList.arrived]);
      expect(detail.waiting, `a detail of window ${k} unanswered, its client still waiting, when the list of window ${k + 1} came`).to.equal(1);
      detail.release();
      nextList.release();
    }
    const result = await run;
    expect(result.code, result.stderr).to.equal(0);

    const lists = mock.stats().log.filter((e) => e.kind === 'list');
    expect(lists.map((e) => e.starttime! + 1)).to.deep.equal(Array.from({ length: windows }, (_, k) => windowStart(k)));
    const written = readStream(join(dir, 'output', 'p.test', 'mail', 'incominglog'), 'p.test_incominglog_');
    expect(written).to.deep.equal(mock.expected(stream, start, end));
  });
});
