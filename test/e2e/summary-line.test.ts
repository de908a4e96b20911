// The `summary:` line each run leaves in a section's message log: written by
// the section's worker with the log it has open, so that a cron tick's main
// thread never loads the logger; written by the main thread instead when no
// worker could (the thread died). Either way exactly one line per section and
// run, saying what the run's summary on stdout says.

import { expect } from 'chai';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/load-config.js';
import { startMockApi } from '../../src/mock-api/index.js';
import { onCleanup } from '../support/cleanup.js';
import { dayAnchor } from '../support/epochs.js';
import { runCli, tempDir } from '../support/harness.js';
import { messageLog } from '../support/hostile-fixtures.js';
import { writeSectionsIni } from '../support/sections-ini.js';
import { CRASH_MODE_ENV, CRASH_SECTION_ENV } from '../support/thread-crash-hooks.js';

const KEY = 'summary-line-key-0123456789ab';

function summaryLines(outDir: string): string[] {
  return messageLog(outDir)
    .split('\n')
    .map((line) => /summary: (.*)$/.exec(line)?.[1])
    .filter((s): s is string => s !== undefined);
}

/** The section's line of the run summary on stdout, without its indent. */
function stdoutLine(stdout: string, section: string): string {
  const line = stdout.split('\n').find((l) => l.trimStart().startsWith(`${section}: `));
  expect(line, `${section} in the summary on stdout`).to.be.a('string');
  return line!.trim();
}

describe('the summary line in each message log', function () {
  this.timeout(120_000);

  it('one per section and run, the same as on stdout, for a completed and a failed section', async () => {
    const dir = tempDir();
    const start = dayAnchor();
    const end = start + 1200;
    const ok = { key: KEY, domain: 'ok.test', category: 'authentication' as const, perMinute: 6 };
    const mock = await startMockApi({ seed: 7, from: start - 60, to: end + 60, streams: [ok] });
    onCleanup(() => mock.close());
    // A key the mock does not know: 401, that section fails.
    const refused = { ...ok, domain: 'refused.test', key: 'summary-line-key-nobody-knows' };
    const config = writeSectionsIni(dir, mock, [
      { name: 'ok', stream: ok },
      { name: 'refused', stream: refused },
    ]);
    const [okCfg, refusedCfg] = loadConfig(config).sections;
    const args = ['--config', config, '--all', '--parallel', '--start-time', String(start), '--end-time', String(end)];

    const first = await runCli(args, { cwd: dir });
    expect(first.code, first.stderr).to.equal(1);
    const records = mock.count(ok, start, end);
    expect(records).to.be.greaterThan(0);
    expect(summaryLines(okCfg!.outputDirectory)).to.deep.equal([stdoutLine(first.stdout, 'MailLogger:ok')]);
    expect(summaryLines(okCfg!.outputDirectory)[0]).to.match(new RegExp(`^MailLogger:ok: completed \\| ${records} records \\|`));
    expect(summaryLines(refusedCfg!.outputDirectory)).to.deep.equal([stdoutLine(first.stdout, 'MailLogger:refused')]);
    expect(summaryLines(refusedCfg!.outputDirectory)[0]).to.match(/^MailLogger:refused: failed \|/);

    // The same backfill again: the finished part fetches nothing, one more line each.
    const second = await runCli(args, { cwd: dir });
    expect(second.code, second.stderr).to.equal(1);
    expect(summaryLines(okCfg!.outputDirectory)).to.have.length(2);
    // (stdout adds why nothing was fetched)
    expect(stdoutLine(second.stdout, 'MailLogger:ok').startsWith(summaryLines(okCfg!.outputDirectory)[1]!)).to.equal(true);
    expect(summaryLines(refusedCfg!.outputDirectory)).to.have.length(2);
  });

  it('written by the main thread when the worker thread died before it could', async () => {
    // (An exception nobody caught in the section's own code fails the section
    // inside the worker, which then writes the line itself; see shared-threads.test.ts.)
    const dir = tempDir();
    const start = dayAnchor();
    const end = start + 1200;
    const stream = { key: KEY, domain: 'crash.test', category: 'authentication' as const, perMinute: 6 };
    const mock = await startMockApi({ seed: 8, from: start - 60, to: end + 60, streams: [stream] });
    onCleanup(() => mock.close());
    const config = writeSectionsIni(dir, mock, [{ name: 'crash', stream }], { split_interval: 300 });
    const [cfg] = loadConfig(config).sections;
    const run = await runCli(['--config', config, '--all', '--parallel', '--start-time', String(start), '--end-time', String(end)], {
      cwd: dir,
      env: {
        UZP_TEST_COMMIT_HOOKS: fileURLToPath(new URL('../support/thread-crash-hooks.js', import.meta.url)),
        [CRASH_SECTION_ENV]: 'MailLogger:crash',
        [CRASH_MODE_ENV]: 'exit',
      },
    });
    expect(run.code, run.stderr).to.equal(1);
    expect(run.stderr).to.contain('section MailLogger:crash: its worker thread died');
    const lines = summaryLines(cfg!.outputDirectory);
    expect(lines).to.deep.equal([stdoutLine(run.stdout, 'MailLogger:crash')]);
    expect(lines[0]).to.match(/^MailLogger:crash: failed \|/);
  });
});
