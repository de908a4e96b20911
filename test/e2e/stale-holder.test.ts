// Issue 10, "A dead holder is dead" (the live half): a section whose lock a
// live process has held for long while the section's heartbeat went quiet is
// still skipped — the process may come back — but the skip is warned about on
// stderr and flagged in the metrics file, so a hung process cannot block a
// section silently behind exit 0. The holder is a real process of the test's;
// the old times are written into its lock and heartbeat, so nothing here
// depends on the clock or on waiting.

import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { hostname } from 'node:os';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { startMockApi } from '../../src/mock-api/index.js';
import { loadConfig } from '../../src/config/load-config.js';
import { runCli, tempDir } from '../support/harness.js';
import { parsePrometheusText, sampleValue } from '../support/prometheus-text.js';
import { writeSectionsIni } from '../support/sections-ini.js';
import { onCleanup } from '../support/cleanup.js';
import { dayAnchor } from '../support/epochs.js';

describe('a live lock holder with a stale heartbeat', function () {
  this.timeout(60_000);

  for (const beatAgeMin of [60, 0]) {
    const stale = beatAgeMin > 0;
    it(stale ? 'held for long, heartbeat an hour old: skipped with a warning on stderr and the metric set' : 'held for long but its heartbeat is fresh: an ordinary skip, no warning, metric 0', async () => {
      const dir = tempDir('uzp-stale-holder-');
      const end = dayAnchor() + 12 * 3600;
      const stream = { key: 'stale-key-0123456789abcdef', domain: 'stuck.test', category: 'authentication' as const, perMinute: 5 };
      const mock = await startMockApi({ seed: 3, from: end - 3600, to: end + 60, streams: [stream] });
      onCleanup(() => mock.close());
      const config = writeSectionsIni(dir, mock, [{ name: 'stuck', stream }], { metrics_file: 'metrics/uzmanposta.prom' });
      const [cfg] = loadConfig(config, { env: {} }).sections;
      if (!cfg) throw new Error('no section');

      // The holder: a live process of the test's, named in the lock since two hours ago.
      const holder = spawn(process.execPath, ['-e', 'process.stdin.resume()'], { stdio: ['pipe', 'ignore', 'ignore'] });
      onCleanup(async () => {
        holder.kill('SIGKILL');
        if (holder.exitCode === null && holder.signalCode === null) await once(holder, 'exit');
      });
      const now = Date.now();
      mkdirSync(dirname(cfg.lockFilePath), { recursive: true });
      writeFileSync(cfg.lockFilePath, JSON.stringify({ pid: holder.pid, hostname: hostname(), startedAt: new Date(now - 2 * 3600_000).toISOString() }));
      mkdirSync(dirname(cfg.heartbeatFile), { recursive: true });
      const lastBeat = new Date(now - beatAgeMin * 60_000).toISOString();
      writeFileSync(cfg.heartbeatFile, JSON.stringify({ section: cfg.section, status: 'running', pid: holder.pid, last_heartbeat: lastBeat }));

      const run = await runCli(['--config', config, '--all'], { cwd: dir });
      expect(run.code, run.stderr).to.equal(0);
      expect(run.stdout).to.match(/1 skipped/);
      expect(run.stdout).to.include(`is locked by process ${String(holder.pid)}`);
      const fams = parsePrometheusText(readFileSync(join(dir, 'metrics', 'uzmanposta.prom'), 'utf8'));
      expect(sampleValue(fams, 'uzmanposta_lock_holder_stale', { section: cfg.section })).to.equal(stale ? 1 : 0);
      if (stale) {
        expect(run.stderr).to.match(new RegExp(`process ${String(holder.pid)} has held its lock for 1[0-9]{2} min`));
        expect(run.stderr).to.include('last heartbeat').and.include('may be hung');
      } else {
        expect(run.stderr).to.not.include('may be hung');
      }
      // Never broken: the holder is alive.
      expect(JSON.parse(readFileSync(cfg.lockFilePath, 'utf8'))).to.include({ pid: holder.pid });
    });
  }
});
