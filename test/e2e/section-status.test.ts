// One status vocabulary (issue 11): a failed section is `failed` in its
// result, the summary and the Prometheus file; only the heartbeat file says
// `error`, the word the Python tool's monitoring checks match.

import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { loadConfig } from '../../src/config/load-config.js';
import { Coordinator } from '../../src/engine/main/coordinator.js';
import { SECTION_STATUSES } from '../../src/engine/shared/section-status.js';
import { startMockApi } from '../../src/mock-api/index.js';
import type { Heartbeat } from '../../src/reporting/heartbeat.js';
import { renderPrometheus } from '../../src/reporting/prometheus.js';
import { formatSummary } from '../../src/reporting/run-summary.js';
import { onCleanup } from '../support/cleanup.js';
import { dayAnchor } from '../support/epochs.js';
import { tempDir } from '../support/harness.js';
import { parsePrometheusText, sampleValue } from '../support/prometheus-text.js';
import { writeSectionsIni } from '../support/sections-ini.js';

describe('section status vocabulary', () => {
  it('a section refused by the API is failed everywhere, and error in its heartbeat file only', async () => {
    const dir = tempDir();
    const start = dayAnchor();
    const end = start + 600;
    const known = { key: 'status-key-0123456789abcdef', domain: 'ok.test', category: 'authentication' as const, perMinute: 5 };
    const mock = await startMockApi({ seed: 11, from: start - 60, to: end + 60, streams: [known] });
    onCleanup(() => mock.close());
    // The mock does not know this key: 401, the section fails.
    const refusedStream = { ...known, domain: 'refused.test', key: 'status-key-the-mock-does-not-know' };
    const sections = loadConfig(
      writeSectionsIni(dir, mock, [
        { name: 'ok', stream: known },
        { name: 'refused', stream: refusedStream },
      ]),
    ).sections;
    const coordinator = new Coordinator({ sections, range: { from: start, to: end }, concurrency: 1, notify: () => undefined });
    const results = await coordinator.run();

    expect(results.map((r) => [r.section, r.status])).to.deep.equal([
      ['MailLogger:ok', 'completed'],
      ['MailLogger:refused', 'failed'],
    ]);
    expect(results[1]?.error?.code).to.equal('UZP_API_AUTH');
    expect([...coordinator.sectionStates.values()].map((s) => s.status)).to.deep.equal(['completed', 'failed']);

    const heartbeats = sections.map((s) => JSON.parse(readFileSync(s.heartbeatFile, 'utf8')) as Heartbeat);
    expect(heartbeats.map((h) => h.status)).to.deep.equal(['completed', 'error']);
    expect(heartbeats[1]?.error?.code).to.equal('UZP_API_AUTH');

    const summary = formatSummary(results, 1);
    expect(summary).to.include('MailLogger:refused: failed |');
    expect(summary).to.include('(1 completed, 1 failed, 0 stopped, 0 skipped)');

    const fams = parsePrometheusText(renderPrometheus([...coordinator.sectionStates.values()], end));
    const refused = { section: 'MailLogger:refused' };
    expect(sampleValue(fams, 'uzmanposta_section_failed', refused)).to.equal(1);
    const series = SECTION_STATUSES.map((status) => [status, sampleValue(fams, 'uzmanposta_section_status', { ...refused, status })]);
    expect(series).to.deep.equal(SECTION_STATUSES.map((status) => [status, status === 'failed' ? 1 : 0]));
  });
});
