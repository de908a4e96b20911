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
});
