// The metrics file a real run writes, checked by promtool (the Prometheus
// project's own linter: names, base units, HELP and TYPE lines) where it is
// installed. A failed section is in the run so that every family has samples.

import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startMockApi } from '../../src/mock-api/index.js';
import { onCleanup } from '../support/cleanup.js';
import { dayAnchor } from '../support/epochs.js';
import { runCli, tempDir } from '../support/harness.js';
import { requireTool, run } from '../support/installed-tool.js';
import { writeSectionsIni } from '../support/sections-ini.js';

describe('Prometheus metrics_file and promtool', () => {
  it('promtool check metrics finds nothing to complain about in the file of a real run', async function () {
    this.timeout(60_000);
    const promtool = requireTool(this, 'promtool', 'apt-get install prometheus');
    const dir = tempDir();
    const end = dayAnchor() + 12 * 3600;
    const start = end - 900;
    const mail = { key: 'promtool-key-0123456789abcdef', domain: 'good.test', category: 'mail' as const, type: 'incominglog', perMinute: 10 };
    const mock = await startMockApi({ seed: 21, from: start - 60, to: end + 60, streams: [mail] });
    onCleanup(() => mock.close());
    const config = writeSectionsIni(
      dir,
      mock,
      [
        { name: 'good', stream: mail },
        { name: 'refused', stream: { ...mail, domain: 'refused.test', key: 'promtool-key-the-mock-does-not-know' } },
      ],
      { metrics_file: 'metrics/uzmanposta.prom' },
    );
    const cli = await runCli(['--config', config, '--all', '--start-time', String(start), '--end-time', String(end)], { cwd: dir });
    expect(cli.code, cli.stderr).to.equal(1);
    const text = readFileSync(join(dir, 'metrics', 'uzmanposta.prom'), 'utf8');
    expect(text).to.match(/^uzmanposta_records_written\{section="MailLogger:good",/m);
    const r = run(promtool, ['check', 'metrics'], text);
    expect(r.status, r.stdout + r.stderr).to.equal(0);
    expect((r.stdout + r.stderr).trim()).to.equal('');
  });
});
