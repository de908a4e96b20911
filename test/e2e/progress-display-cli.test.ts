// Progress bars (issue 4): a backfill at an interactive terminal shows a bar
// per section; a cron run, or any output that is not a terminal, gets no bar
// and not a single escape code.

import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { startMockApi, type MockApi, type MockStreamSpec } from '../../src/mock-api/index.js';
import { BIN, runCli, tempDir, until } from '../support/harness.js';
import { writeSectionsIni } from '../support/sections-ini.js';
import { onCleanup } from '../support/cleanup.js';
import { dayAnchor } from '../support/epochs.js';

const ESC = '\x1b';

describe('progress display', () => {
  describe('the CLI', function () {
    this.timeout(60_000);
    const split = 120;
    const end = dayAnchor() + 12 * 3600;
    const start = end - 30 * split;
    const stream: MockStreamSpec = { key: 'progress-key-0123456789abcdef', domain: 'p.test', category: 'authentication', perMinute: 30 };

    async function setup(): Promise<{ dir: string; config: string; mock: MockApi }> {
      const dir = tempDir();
      const mock = await startMockApi({ seed: 12, from: start - 60, to: end + 60, streams: [stream] });
      onCleanup(() => mock.close());
      return { dir, mock, config: writeSectionsIni(dir, mock, [{ name: 'p', stream }], { split_interval: split }) };
    }

    it('a backfill whose output is not a terminal writes no escape code at all', async () => {
      const { dir, config } = await setup();
      const run = await runCli(['--config', config, '--section', 'p', '--start-time', String(start), '--end-time', String(end)], { cwd: dir });
      expect(run.code, run.stderr).to.equal(0);
      expect(run.stdout).to.match(/Total: 1 section \(1 completed/);
      expect(run.stdout).to.not.include(ESC);
      expect(run.stderr).to.not.include(ESC);
    });

    it('the same backfill at a terminal (a pseudo-terminal from script(1)) draws bars while it runs', async function () {
      if (!existsSync('/usr/bin/script')) this.skip();
      const { dir, config, mock } = await setup();
      // The run waits on the list of its fourth window until a bar is on the terminal.
      const held = mock.hold((r) => r.kind === 'list' && Number(new URLSearchParams(r.rawUrl.split('?')[1]).get('starttime')) + 1 === start + 3 * split);
      onCleanup(() => held.release());
      const cmd = [process.execPath, BIN, '--config', config, '--section', 'p', '--start-time', String(start), '--end-time', String(end)]
        .map((a) => `'${a.replace(/'/g, `'\\''`)}'`)
        .join(' ');
      const child = spawn('/usr/bin/script', ['-qec', cmd, '/dev/null'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
      const bar = /MailLogger:p\s+\[[#-]+\]\s+\d+\.\d% \d+ rec/;
      await held.arrived;
      await until(() => (bar.test(out) ? true : undefined), 'a progress bar while the run waits');
      expect(held.waiting, 'drawn while the run was still going').to.equal(1);
      held.release();
      const code = await closed;
      expect(code, out).to.equal(0);
      expect(out).to.include(`${ESC}[J`);
    });
  });
});
