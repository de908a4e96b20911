// max_run_time end to end (issue 13): with the API down, a cron run must end
// by its deadline with exit 1 instead of retrying for minutes and making the
// next ticks skip on the lock. The real bin/uzmanposta runs against the mock
// answering every request 503, with the normal retry schedule (list_retries
// 10, first backoff 2 s) and max_run_time = 1: the first backoff already ends
// past the deadline, so each section makes exactly one attempt, whatever the
// machine's speed. What is asserted is what the deadline did (attempts the
// mock saw, the message, the untouched position), never how long it took.

import { expect } from 'chai';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { startMockApi, type MockStreamSpec } from '../../src/mock-api/index.js';
import { onCleanup } from '../support/cleanup.js';
import { dayAnchor } from '../support/epochs.js';
import { runCli, tempDir } from '../support/harness.js';
import { writeSectionsIni } from '../support/sections-ini.js';
import { writeIni } from '../support/write-ini.js';

/** A port nothing listens on: bound, then closed again. */
async function closedPort(): Promise<number> {
  const s = createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

function errorLogEntries(dir: string): { code?: string; attempt?: number; willRetry?: boolean; kind?: string }[] {
  return readdirSync(join(dir, 'output'), { recursive: true })
    .map(String)
    .filter((f) => /errors_.*\.log$/.test(f))
    .flatMap((f) => readFileSync(join(dir, 'output', f), 'utf8').split('\n').filter(Boolean))
    .map((l) => JSON.parse(l) as { code?: string; attempt?: number; willRetry?: boolean; kind?: string });
}

describe('max_run_time: a run with the API down', function () {
  this.timeout(120_000);

  it('ends with exit 1 after one attempt per section once the deadline is past, saying since when the API failed, the position unmoved', async () => {
    const dir = tempDir();
    const position = dayAnchor() + 3600;
    const streams: MockStreamSpec[] = [
      { key: 'deadline-key-0123456789abcdef', domain: 'a.test', category: 'authentication', perMinute: 5 },
      { key: 'deadline-key-0123456789abcdef', domain: 'b.test', category: 'authentication', perMinute: 5 },
    ];
    const mock = await startMockApi({ seed: 13, from: position - 60, to: position + 3600, streams, faults: { failPaths: () => 503 } });
    onCleanup(() => mock.close());
    const config = writeSectionsIni(
      dir,
      mock,
      streams.map((stream, i) => ({ name: `s${i}`, stream })),
      // The defaults' schedule (2 s doubling over 10 retries), not the tests' quick one.
      { list_sleep_time: 2, list_retries: 10, max_run_time: 1 },
    );
    mkdirSync(join(dir, 'positions'));
    for (const name of ['s0', 's1']) writeFileSync(join(dir, 'positions', `${name}.pos`), `${position}\n`);

    const run = await runCli(['--config', config, '--all'], { cwd: dir });

    expect(run.code, run.stderr).to.equal(1);
    // One attempt each: without the deadline the first window alone would get 11.
    expect(mock.stats().byKindAndStatus.list).to.deep.equal({ '503': 2 });
    for (const name of ['s0', 's1']) {
      const message = run.stderr.split('\n').find((l) => l.includes(`section MailLogger:${name}: the API was unreachable since `));
      expect(message, run.stderr).to.be.a('string');
      expect(message).to.match(/unreachable since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \(1 failed attempt\); max_run_time \(1 s\) ends the run at /);
      expect(message).to.include(`the position stays at ${position}`);
      expect(readFileSync(join(dir, 'positions', `${name}.pos`), 'utf8')).to.equal(`${position}\n`);
      expect(existsSync(join(dir, 'positions', `${name}.pos.pending`))).to.equal(false);
    }
    // Nothing half-written: no data file exists for either section.
    const outputs = readdirSync(join(dir, 'output'), { recursive: true }).map(String);
    expect(outputs.filter((f) => /_auth_\d{4}-\d\d-\d\d_\d\d\.log$/.test(f))).to.deep.equal([]);
    const errorLines = outputs
      .filter((f) => /errors_.*\.log$/.test(f))
      .flatMap((f) => readFileSync(join(dir, 'output', f), 'utf8').split('\n').filter(Boolean))
      .map((l) => JSON.parse(l) as { code?: string; maxRunTime?: number });
    expect(errorLines.filter((e) => e.code === 'UZP_RUN_DEADLINE').map((e) => e.maxRunTime)).to.deep.equal([1, 1]);
  });

  it('ends with exit 1 after one attempt when nothing listens at the url (connection refused)', async () => {
    const dir = tempDir();
    const port = await closedPort();
    const position = dayAnchor() + 3600;
    const config = writeIni(join(dir, 'uzmanposta.ini'), {
      DEFAULT: { log_directory: './output', list_sleep_time: 2, list_retries: 10, max_run_time: 1 },
      'MailLogger:down': {
        api_key: 'deadline-key-0123456789abcdef',
        domain: 'a.test',
        category: 'authentication',
        url: `http://127.0.0.1:${port}/api/v2/logs/authentication`,
      },
    });
    mkdirSync(join(dir, 'positions'));
    writeFileSync(join(dir, 'positions', 'down.pos'), `${position}\n`);

    const run = await runCli(['--config', config, '--all'], { cwd: dir });

    expect(run.code, run.stderr).to.equal(1);
    expect(run.stderr).to.match(/section MailLogger:down: the API was unreachable since \S+ \(1 failed attempt\); max_run_time \(1 s\)/);
    expect(run.stderr).to.include(`last error: section MailLogger:down: connection refused by 127.0.0.1:${port}`);
    const attempts = errorLogEntries(dir).filter((e) => e.code === 'UZP_NETWORK');
    expect(attempts.map((e) => [e.kind, e.attempt, e.willRetry])).to.deep.equal([['refused', 1, false]]);
    expect(readFileSync(join(dir, 'positions', 'down.pos'), 'utf8')).to.equal(`${position}\n`);
  });
});
