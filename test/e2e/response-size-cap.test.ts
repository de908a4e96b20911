// Issue 9: max_response_size. An answer larger than the cap fails that request
// with UZP_RESPONSE_TOO_LARGE while its body streams in (never after buffering
// it whole), is not retried, and leaves the section's position where the last
// committed window put it; the next run without the oversized answer ends
// exactly.

import { expect } from 'chai';
import { ApiClient } from '../../src/api/api-client.js';
import { clientOptions } from '../../src/api/client-options.js';
import { ResponseTooLargeError } from '../../src/common/errors.js';
import { loadConfig } from '../../src/config/load-config.js';
import { Coordinator } from '../../src/engine/main/coordinator.js';
import { startMockApi, type MockStreamSpec } from '../../src/mock-api/index.js';
import { readPosition } from '../../src/storage/position-store.js';
import { onCleanup } from '../support/cleanup.js';
import { listWindowStart } from '../support/crash-scenario.js';
import { dayAnchor } from '../support/epochs.js';
import { tempDir } from '../support/harness.js';
import { writeSectionsIni } from '../support/sections-ini.js';

const SPLIT = 120;
const MiB = 2 ** 20;

async function setup() {
  const start = dayAnchor() + 7200;
  const end = start + 5 * SPLIT;
  const stream: MockStreamSpec = { key: 'cap-key-0123456789abcdef', domain: 'cap.test', category: 'authentication', perMinute: 20 };
  const mock = await startMockApi({ seed: 29, from: start - 60, to: end + 60, streams: [stream] });
  onCleanup(() => mock.close());
  const dir = tempDir('uzp-cap-');
  const [cfg] = loadConfig(writeSectionsIni(dir, mock, [{ name: 'cap', stream }], { split_interval: SPLIT, max_response_size: 1, list_sleep_time: 0 })).sections;
  return { mock, stream, cfg: cfg!, start, end };
}

describe('max_response_size', function () {
  this.timeout(60_000);

  for (const chunked of [false, true]) {
    it(`fails a list answer above the cap at once, without a retry (${chunked ? 'chunked, no Content-Length' : 'Content-Length above the cap'})`, async () => {
      const { mock, cfg, start } = await setup();
      mock.setFaults({ oversize: { bytes: 3 * MiB, chunked } });
      const client = new ApiClient(clientOptions(cfg, { env: {} }));
      onCleanup(() => client.destroy());
      const err = await client.list(start, start + SPLIT).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(ResponseTooLargeError);
      const e = err as ResponseTooLargeError;
      expect(e.code).to.equal('UZP_RESPONSE_TOO_LARGE');
      expect(e.message).to.match(/larger than max_response_size = 1 MiB/);
      expect(e.message).to.include('MailLogger:cap');
      expect(e.message).to.include('the position stays');
      expect(e.context.limitBytes).to.equal(MiB);
      if (chunked) expect(e.context.receivedBytes as number).to.be.above(MiB).and.below(3 * MiB);
      else expect(e.context.declaredBytes).to.equal(3 * MiB);
      expect(mock.stats().requests, 'no retry').to.equal(1);
    });
  }

  it('an answer below the cap is read whole, padding and all', async () => {
    const { mock, cfg, stream, start } = await setup();
    mock.setFaults({ oversize: { bytes: MiB - 1024, chunked: true } });
    const client = new ApiClient(clientOptions(cfg, { env: {} }));
    onCleanup(() => client.destroy());
    const records = await client.list(start, start + SPLIT);
    expect(records).to.have.length(mock.count(stream, start, start + SPLIT));
  });

  it('a run meeting an oversized list answer fails the section clearly; its position stays at the last committed window', async () => {
    const { mock, cfg, stream, start, end } = await setup();
    const bad = start + 2 * SPLIT;
    mock.setFaults({ oversize: { bytes: 2 * MiB, match: (r) => listWindowStart(r) === bad } });
    const notes: string[] = [];
    const range = { from: start, to: end };
    const run = await new Coordinator({ sections: [cfg], range, concurrency: 1, notify: (_s, level, msg) => notes.push(`${level}: ${msg}`) }).run();
    // The window is given up (UZP_WINDOW_GIVEN_UP), naming the request's own error as its cause.
    expect(run.map((r) => [r.status, r.error?.code, r.error?.context.cause])).to.deep.equal([['failed', 'UZP_WINDOW_GIVEN_UP', 'UZP_RESPONSE_TOO_LARGE']]);
    expect(run[0]?.error?.message).to.match(/larger than max_response_size = 1 MiB.*the position stays at/);
    expect(notes.join('\n')).to.match(/error: .*larger than max_response_size = 1 MiB/);
    // No cron position yet: the backfill merged into the cron stream, whose position file it moves.
    expect(readPosition(cfg.positionFile, cfg.section), 'position after the two good windows').to.equal(bad);
    expect(run[0]?.metrics.recordsWritten).to.equal(mock.count(stream, start, bad));

    mock.setFaults({ oversize: undefined });
    const rerun = await new Coordinator({ sections: [cfg], range, concurrency: 1, notify: () => undefined }).run();
    expect(rerun.map((r) => r.status)).to.deep.equal(['completed']);
    expect(rerun[0]?.metrics.recordsWritten).to.equal(mock.count(stream, bad, end));
  });
});
