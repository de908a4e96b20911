// `npm run demo`: the collector end to end with no key and no network. Starts
// the bundled mock API on 127.0.0.1, writes a config from examples/demo.ini
// into ./demo-run, collects every section in parallel and says where the
// files are.

import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { main } from './main.js';
import { loadConfig } from '../config/load-config.js';
import { startMockApi } from '../mock-api/index.js';

const KEY = 'demo-key-0123456789abcdef';
const DOMAIN = 'example.com';

async function demo(): Promise<number> {
  const dir = resolve(process.argv[2] ?? 'demo-run');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const now = Math.floor(Date.now() / 1000);
  const start = now - 2 * 3600;
  const mock = await startMockApi({
    seed: 7,
    from: start - 3600,
    to: now + 3600,
    hostileQueueIds: true,
    streams: [
      { key: KEY, domain: DOMAIN, category: 'mail', type: 'incominglog', perMinute: 20 },
      { key: KEY, domain: DOMAIN, category: 'mail', type: 'outgoinglog', perMinute: 10 },
      { key: KEY, domain: DOMAIN, category: 'quarantine', type: 'quarantine', perMinute: 3 },
      { key: KEY, domain: DOMAIN, category: 'quarantine', type: 'hold', perMinute: 1 },
      { key: KEY, domain: DOMAIN, category: 'authentication', perMinute: 10 },
    ],
  });
  try {
    const template = readFileSync(new URL('../../../examples/demo.ini', import.meta.url), 'utf8');
    const ini = template
      .replaceAll('{{KEY}}', KEY)
      .replaceAll('{{START}}', String(start))
      .replaceAll('{{MAIL_URL}}', mock.urls.mail)
      .replaceAll('{{QUARANTINE_URL}}', mock.urls.quarantine)
      .replaceAll('{{AUTH_URL}}', mock.urls.authentication);
    const configPath = join(dir, 'uzmanposta.ini');
    writeFileSync(configPath, ini, { mode: 0o600 });
    process.stdout.write(`Mock API listening on ${mock.url}; config written to ${relative(process.cwd(), configPath)}\n`);
    process.stdout.write(`Collecting the last two hours of 5 sections: uzmanposta --config ${relative(process.cwd(), configPath)} --all --parallel\n\n`);
    const code = await main(['--config', configPath, '--all', '--parallel'], { handleSignals: true });
    // Each category lays its files out its own way: show each section's, as its config resolves them.
    const shown = (format: string): string => format.replace(/%Y/g, 'YYYY').replace(/%m/g, 'MM').replace(/%d/g, 'DD').replace(/%H/g, 'HH');
    const files = loadConfig(configPath, { env: {} }).sections.map((sec) => `  ${sec.section}: ${relative(process.cwd(), join(sec.outputDirectory, shown(sec.logFileNameFormat)))}\n`);
    process.stdout.write(
      `\nData files:\n${files.join('')}` +
        `Positions: ${relative(process.cwd(), join(dir, 'positions'))}/   Heartbeats: beside the data files\n` +
        `Where each section stands now: bin/uzmanposta --config ${relative(process.cwd(), configPath)} --list\n`,
    );
    return code;
  } finally {
    await mock.close();
  }
}

process.exitCode = await demo();
