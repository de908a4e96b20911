// The window lister alone (issue 11), against an in-memory API: full pages
// are bisected until every record is in, and a record without an event time
// that two overlapping requests both return is written once.

import { expect } from 'chai';
import type { SectionConfig } from '../../src/config/section-config.js';
import { MetricsRecorder } from '../../src/engine/shared/section-metrics.js';
import { WindowLister } from '../../src/engine/worker/window-lister.js';
import { ApiHttpError, WindowGivenUpError } from '../../src/common/errors.js';
import type { ErrorLogEntry, SectionLog } from '../../src/storage/section-log.js';

/** A record the API holds at `at`; `record` may lack a time field (timeless). */
interface Stored {
  at: number;
  record: Record<string, unknown>;
}

/** Answers like the service with both range ends included: newest first, at most `pageSize` records. */
function memoryApi(data: Stored[], pageSize: number): { list(from: number, to: number): Promise<unknown[]>; requests: [number, number][] } {
  const requests: [number, number][] = [];
  return {
    requests,
    list: async (from, to) => {
      requests.push([from, to]);
      return data
        .filter((d) => d.at >= from && d.at <= to)
        .sort((a, b) => b.at - a.at)
        .slice(0, pageSize)
        .map((d) => d.record);
    },
  };
}

function fixture(maxRecordsPerPage: number): { config: SectionConfig; metrics: MetricsRecorder; log: SectionLog; errors: ErrorLogEntry[] } {
  const config = { section: 'MailLogger:lister', category: 'authentication', maxRecordsPerPage, listRetries: 0 } as SectionConfig;
  const errors: ErrorLogEntry[] = [];
  const log = { info: () => undefined, warn: () => undefined, error: (e: ErrorLogEntry) => errors.push(e) } as unknown as SectionLog;
  return { config, metrics: new MetricsRecorder(), log, errors };
}

describe('WindowLister', () => {
  it('bisects full pages until every record of the window is listed, in event-time order', async () => {
    const data: Stored[] = Array.from({ length: 10 }, (_, i) => ({ at: 100 + i, record: { id: i, time: 100 + i } }));
    const api = memoryApi(data, 4);
    const { config, metrics, log, errors } = fixture(4);
    const lister = new WindowLister({ config, client: api, metrics, log });
    const listed = await lister.list({ start: 100, end: 110 });
    expect(listed.window).to.deep.equal({ start: 100, end: 110 });
    expect(listed.records.map((r) => (r as { id: number }).id)).to.deep.equal([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(api.requests[0], 'one second early at the start').to.deep.equal([99, 110]);
    expect(api.requests.length, 'bisected').to.be.greaterThan(1);
    expect(metrics.counts.truncatedWindows).to.equal(0);
    expect(errors).to.deep.equal([]);
  });

  it('writes a timeless record once when the overlap of two windows returns it twice', async () => {
    const timeless = { id: 'no-time' };
    const data: Stored[] = [
      { at: 101, record: { id: 'a', time: 101 } },
      { at: 104, record: timeless },
      { at: 107, record: { id: 'b', time: 107 } },
    ];
    const api = memoryApi(data, 100);
    const { config, metrics, log } = fixture(100);
    const lister = new WindowLister({ config, client: api, metrics, log });
    const first = await lister.list({ start: 100, end: 105 });
    const second = await lister.list({ start: 105, end: 110 });
    expect(api.requests, 'both requests hold the second 104').to.deep.equal([
      [99, 105],
      [104, 110],
    ]);
    // A timeless record sorts at its window's start.
    expect(first.records).to.deep.equal([timeless, { id: 'a', time: 101 }]);
    expect(second.records).to.deep.equal([{ id: 'b', time: 107 }]);
    expect(metrics.counts.recordsWithoutTime).to.equal(1);
  });

  it('a listed record outside the range asked for is not written: counted and named by its id; the overlap seconds are not', async () => {
    const warnings: string[] = [];
    const { config, metrics, errors } = fixture(100);
    const log = { info: () => undefined, warn: (m: string) => warnings.push(m), error: (e: ErrorLogEntry) => errors.push(e) } as unknown as SectionLog;
    const answer = [{ id: 'late', time: 500 }, { id: 'edge-end', time: 110 }, { id: 'in', time: 105 }, { id: 'edge-start', time: 99 }, { id: 'early', time: 10 }];
    const lister = new WindowLister({ config, client: { list: async () => answer }, metrics, log });
    const listed = await lister.list({ start: 100, end: 110 });
    expect(listed.records.map((r) => (r as { id: string }).id)).to.deep.equal(['in']);
    expect(metrics.counts.recordsOutOfRange).to.equal(2);
    expect(warnings.join('\n')).to.include('id "late"').and.include('id "early"').and.not.include('edge');
  });

  it('a window given up says how many attempts it had, or that it was not retried', async () => {
    const { config, metrics, log } = fixture(100);
    const fatal = new ApiHttpError('the API answered with a redirect (HTTP 302, to https://x.example)', { status: 302 });
    const retried = new ApiHttpError('server error HTTP 503', { status: 503, attempts: 3 });
    for (const [err, says] of [
      [fatal, '(not retried: asking again cannot change this answer)'],
      [retried, 'after 3 attempts'],
    ] as const) {
      const lister = new WindowLister({ config, client: { list: () => Promise.reject(err) }, metrics, log });
      const got = await lister.list({ start: 100, end: 110 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(got).to.be.instanceOf(WindowGivenUpError);
      expect((got as Error).message).to.include(`window 100–110 could not be fetched ${says}`);
      if (err === fatal) expect((got as Error).message).to.not.match(/retries|attempts/);
    }
  });
});
