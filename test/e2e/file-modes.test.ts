// What the collector writes holds personal data (addresses, subjects, IPs), so
// data files, logs, heartbeats and positions are created 0640 and directories
// 0750, less the umask: the real CLI runs in a shell with the umask set, as
// cron and systemd (UMask=) would start it. The metrics file alone is 0644
// whatever the umask: node_exporter, another user, must read it.

import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { startMockApi, type MockApi } from '../../src/mock-api/index.js';
import { BIN, collect, tempDir, type CliRun } from '../support/harness.js';
import { dayAnchor } from '../support/epochs.js';
import { writeIni } from '../support/write-ini.js';

const KEY = 'modes-test-key-0123456789abcdef';
const DOMAIN = 'example.com';

function runWithUmask(umask: string, args: string[], cwd: string): Promise<CliRun> {
  // The umask is per process and cannot be set from a worker thread; a shell sets it and execs node.
  const child = spawn('/bin/sh', ['-c', `umask ${umask} && exec "$0" "$@"`, process.execPath, BIN, ...args], {
    cwd,
    env: { ...process.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return collect(child);
}

interface Entry {
  path: string;
  mode: number;
  dir: boolean;
}

function walk(root: string): Entry[] {
  const out: Entry[] = [];
  for (const name of readdirSync(root)) {
    const path = join(root, name);
    const st = statSync(path);
    out.push({ path: relative(root, path), mode: st.mode & 0o777, dir: st.isDirectory() });
    if (st.isDirectory()) out.push(...walk(path).map((e) => ({ ...e, path: join(relative(root, path), e.path) })));
  }
  return out;
}

const octal = (m: number): string => `0${m.toString(8)}`;

describe('file modes (umask respected)', function () {
  this.timeout(30_000);
  let mock: MockApi;
  // A fixed quarter of an hour at a fixed offset from a UTC midnight (set when
  // this suite starts, not at import), so every run writes the same files.
  let START = 0;
  let END = 0;

  before(async () => {
    START = dayAnchor() + 12 * 3600;
    END = START + 900;
    mock = await startMockApi({
      seed: 11,
      from: START - 600,
      to: END + 600,
      streams: [
        { key: KEY, domain: DOMAIN, category: 'mail', type: 'incominglog', perMinute: 4 },
        { key: KEY, domain: DOMAIN, category: 'quarantine', type: 'quarantine', perMinute: 2 },
        { key: KEY, domain: DOMAIN, category: 'authentication', perMinute: 3 },
      ],
    });
  });
  after(() => mock.close());

  function writeConfig(dir: string): string {
    return writeIni(join(dir, 'uzmanposta.ini'), {
      DEFAULT: {
        api_key: KEY,
        domain: DOMAIN,
        start_time: START,
        list_sleep_time: 0,
        detail_sleep_time: 0,
        metrics_file: 'metrics/uzmanposta.prom',
      },
      'MailLogger:in': { type: 'incominglog', url: mock.urls.mail },
      'MailLogger:q': { category: 'quarantine', url: mock.urls.quarantine },
      'MailLogger:auth': { category: 'authentication', url: mock.urls.authentication },
    });
  }

  for (const { umask, file, dir, metrics } of [
    { umask: '022', file: 0o640, dir: 0o750, metrics: 0o644 },
    // The metrics file is 0644 whatever the umask: node_exporter must read it.
    { umask: '077', file: 0o600, dir: 0o700, metrics: 0o644 },
  ]) {
    it(`creates files ${octal(file)} and directories ${octal(dir)} under umask ${umask}`, async () => {
      const root = tempDir('uzp-modes-');
      const config = writeConfig(root);
      // One failed list request, retried: the run succeeds and writes an error log too.
      mock.failNext(1, 500, 'list');
      const run = await runWithUmask(umask, ['--config', config, '--all', '--start-time', String(START), '--end-time', String(END)], root);
      expect(run.code, run.stderr).to.equal(0);

      const entries = walk(root).filter((e) => e.path !== 'uzmanposta.ini');
      const names = entries.map((e) => e.path);
      const kinds: Record<string, RegExp> = {
        'data file': /example\.com_incominglog_.*\.log$/,
        'message log': /messages_.*\.log$/,
        'error log': /errors_.*\.log$/,
        heartbeat: /_heartbeat\.json$/,
        'position file': /^positions\/in\.pos$/,
        'lock directory': /^locks$/,
        'metrics file': /^metrics\/uzmanposta\.prom$/,
      };
      for (const [kind, re] of Object.entries(kinds)) {
        expect(names.some((n) => re.test(n)), `${kind} in ${names.join(', ')}`).to.equal(true);
      }

      const wrong = entries
        .map((e) => {
          const want = e.dir ? dir : e.path.startsWith('metrics/') ? metrics : file;
          return e.mode === want ? undefined : `${e.path}: ${octal(e.mode)}, expected ${octal(want)}`;
        })
        .filter((x): x is string => x !== undefined);
      expect(wrong).to.deep.equal([]);
    });
  }
});
