// The optional metrics_file (issue 4): Prometheus text exposition format,
// written atomically, so a lagging or failing section can raise an alert.
// Asserted through a strict parser of the format, never by comparing strings.

import { expect } from 'chai';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startMockApi } from '../../src/mock-api/index.js';
import { collect, runCli, spawnCli, tempDir, until } from '../support/harness.js';
import { parsePrometheusText, sampleValue } from '../support/prometheus-text.js';
import { writeSectionsIni } from '../support/sections-ini.js';
import { onCleanup } from '../support/cleanup.js';
import { dayAnchor } from '../support/epochs.js';

describe('Prometheus metrics_file', () => {
  it('a CLI run writes a file that parses, with the records written and a failed section marked', async function () {
    this.timeout(60_000);
    const dir = tempDir();
    const end = dayAnchor() + 12 * 3600;
    const start = end - 1800;
    const good = { key: 'prom-key-0123456789abcdef', domain: 'good.test', category: 'authentication' as const, perMinute: 20 };
    const mock = await startMockApi({ seed: 6, from: start - 60, to: end + 60, streams: [good] });
    onCleanup(() => mock.close());
    const config = writeSectionsIni(
      dir,
      mock,
      [
        { name: 'good', stream: good },
        // The mock does not know this key: 401, the section fails.
        { name: 'refused', stream: { ...good, domain: 'refused.test', key: 'prom-key-the-mock-does-not-know' } },
      ],
      { metrics_file: 'metrics/uzmanposta.prom' },
    );
    const before = Math.floor(Date.now() / 1000);
    const run = await runCli(['--config', config, '--all', '--start-time', String(start), '--end-time', String(end)], { cwd: dir });
    const after = Math.ceil(Date.now() / 1000);
    expect(run.code, 'a failed section: exit 1').to.equal(1);
    const fams = parsePrometheusText(readFileSync(join(dir, 'metrics', 'uzmanposta.prom'), 'utf8'));
    const ok = { section: 'MailLogger:good' };
    const refused = { section: 'MailLogger:refused' };
    expect(sampleValue(fams, 'uzmanposta_records_written', ok)).to.equal(mock.count(good, start, end));
    expect(sampleValue(fams, 'uzmanposta_section_failed', ok)).to.equal(0);
    expect(sampleValue(fams, 'uzmanposta_position_seconds', ok)).to.equal(end);
    // Taken when the file was written, which was during the CLI run.
    expect(sampleValue(fams, 'uzmanposta_lag_seconds', ok)).to.be.within(before - end, after - end);
    expect(sampleValue(fams, 'uzmanposta_section_failed', refused)).to.equal(1);
    expect(sampleValue(fams, 'uzmanposta_section_status', { ...refused, status: 'failed' })).to.equal(1);
    expect(sampleValue(fams, 'uzmanposta_last_run_timestamp_seconds')).to.be.within(before, after);
  });
  it('keeps the file current while a long run is still going, so a lag can alert before it ends', async function () {
    this.timeout(60_000);
    const dir = tempDir();
    const split = 60;
    const end = dayAnchor() + 12 * 3600;
    const start = end - 10 * split;
    const slow = { key: 'prom-key-0123456789abcdef', domain: 'slow.test', category: 'authentication' as const, perMinute: 5 };
    const mock = await startMockApi({ seed: 8, from: start - 60, to: end + 60, streams: [slow] });
    onCleanup(() => mock.close());
    // The run waits on the list of its fourth window until the test has read the file.
    const held = mock.hold((r) => r.kind === 'list' && Number(new URLSearchParams(r.rawUrl.split('?')[1]).get('starttime')) + 1 === start + 3 * split);
    onCleanup(() => held.release());
    const config = writeSectionsIni(dir, mock, [{ name: 'slow', stream: slow }], { metrics_file: 'metrics/uzmanposta.prom', split_interval: split });
    const child = spawnCli(['--config', config, '--all', '--start-time', String(start), '--end-time', String(end)], { cwd: dir });
    const exited = collect(child);
    const file = join(dir, 'metrics', 'uzmanposta.prom');
    await held.arrived;
    // The file is rewritten every 2 s; wait for a version written after the first commit (a loaded machine may write one before).
    const positionIn = (text: string): number | undefined =>
      parsePrometheusText(text).get('uzmanposta_position_seconds')?.samples.find((x) => x.labels.section === 'MailLogger:slow')?.value;
    const during = await until(() => {
      const text = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
      return text !== undefined && positionIn(text) !== undefined ? text : undefined;
    }, 'a metrics file with a position during the run');
    expect(held.waiting, 'the run still waits on the held list').to.equal(1);
    const fams = parsePrometheusText(during);
    expect(sampleValue(fams, 'uzmanposta_section_status', { section: 'MailLogger:slow', status: 'running' })).to.equal(1);
    expect(sampleValue(fams, 'uzmanposta_position_seconds', { section: 'MailLogger:slow' })).to.be.below(start + 3 * split + 1);
    held.release();
    const run = await exited;
    expect(run.code, run.stderr).to.equal(0);
    const last = parsePrometheusText(readFileSync(file, 'utf8'));
    expect(sampleValue(last, 'uzmanposta_section_status', { section: 'MailLogger:slow', status: 'completed' })).to.equal(1);
    expect(sampleValue(last, 'uzmanposta_position_seconds', { section: 'MailLogger:slow' })).to.equal(end);
  });
});
