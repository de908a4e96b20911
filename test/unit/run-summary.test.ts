// The end-of-run summary people read in a terminal or a cron mail: one line
// per section and a total, counted in words that agree with their numbers.

import { expect } from 'chai';
import { formatSummary } from '../../src/reporting/run-summary.js';
import { emptyMetrics } from '../../src/engine/shared/section-metrics.js';
import type { SectionResult } from '../../src/engine/shared/worker-protocol.js';

function result(section: string, over: Partial<SectionResult['metrics']>): SectionResult {
  return { section, status: 'completed', metrics: { ...emptyMetrics(), ...over } };
}

describe('run summary', () => {
  it('says 1 record, 1 API call, 1 retry and 1 section in the singular', () => {
    const text = formatSummary([result('MailLogger:a', { recordsWritten: 1, apiCalls: 1, retries: 1, gaps: 1, gapSeconds: 60 })], 2);
    const [, line, total] = text.split('\n');
    expect(line).to.include('MailLogger:a: completed | 1 record | 1 API call (100.0% ok, 0 rate-limited, 1 retry)');
    expect(line).to.include('1 gap (60 s not fetched)');
    expect(total).to.match(/^Total: 1 section \(1 completed, 0 failed, 0 stopped, 0 skipped\), 1 record, 1 API call \(100\.0% ok\), 2\.0 s, 1 records\/s$/);
  });

  it('and in the plural for none or several', () => {
    const text = formatSummary([result('MailLogger:a', { recordsWritten: 0, apiCalls: 0 }), result('MailLogger:b', { recordsWritten: 2, apiCalls: 3, retries: 2 })], 1);
    expect(text).to.include('MailLogger:a: completed | 0 records | 0 API calls (100.0% ok, 0 rate-limited, 0 retries)');
    expect(text).to.include('MailLogger:b: completed | 2 records | 3 API calls (100.0% ok, 0 rate-limited, 2 retries)');
    expect(text).to.include('Total: 2 sections (2 completed, 0 failed, 0 stopped, 0 skipped), 2 records, 3 API calls (100.0% ok)');
  });

  it("names a backfill's range, and says when a section fetched nothing because the range was complete", () => {
    const text = formatSummary([result('MailLogger:a', { apiCalls: 0 }), result('MailLogger:b', { apiCalls: 4, recordsWritten: 9 })], 1, {
      startTime: 1_767_225_600,
      endTime: 1_767_229_200,
    });
    const [head, a, b] = text.split('\n');
    expect(head).to.equal('Summary of the backfill from 1767225600 (2026-01-01T00:00:00.000Z) to 1767229200 (2026-01-01T01:00:00.000Z):');
    expect(a).to.match(/MailLogger:a: completed .* \| nothing fetched: this range was already complete$/);
    expect(b).to.not.include('nothing fetched');
    // A cron run with nothing new is no such news.
    expect(formatSummary([result('MailLogger:a', { apiCalls: 0 })], 1)).to.not.include('nothing fetched');
  });
});
