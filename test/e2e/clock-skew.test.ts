// Issue 10, "Time guards": this host's clock is checked against the API's
// Date header. A fast local clock would have a cron run reach past what the
// service has indexed and skip late records for good; so a skew of more than
// a few seconds is warned about, and a run ends at the earlier "now" of the
// two, less end_delay. The mock's clock is set off by a known amount
// (clockOffsetSeconds); the data covers the present, and the positions are
// compared with this host's clock read before and after each run — values,
// not durations.

import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import { startMockApi } from '../../src/mock-api/index.js';
import { loadConfig } from '../../src/config/load-config.js';
import { readStream, runCli, tempDir } from '../support/harness.js';
import { writeSectionsIni } from '../support/sections-ini.js';
import { onCleanup } from '../support/cleanup.js';
import { messageLog } from '../support/hostile-fixtures.js';

const END_DELAY = 60;

async function runWithApiClockOffset(offset: number): Promise<{ stderr: string; position: number; before: number; after: number }> {
  const dir = tempDir('uzp-skew-');
  const nowS = Math.floor(Date.now() / 1000);
  const stream = { key: 'skew-key-0123456789abcdef', domain: 'skew.test', category: 'authentication' as const, perMinute: 30 };
  const mock = await startMockApi({ seed: 12, from: nowS - 3600, to: nowS + 3600, streams: [stream], clockOffsetSeconds: offset });
  onCleanup(() => mock.close());
  const config = writeSectionsIni(dir, mock, [{ name: 'skew', stream }], { start_time: nowS - 1800, end_delay: END_DELAY, split_interval: 300 });
  const [cfg] = loadConfig(config, { env: {} }).sections;
  if (!cfg) throw new Error('no section');
  const before = Math.floor(Date.now() / 1000);
  const run = await runCli(['--config', config, '--all'], { cwd: dir });
  const after = Math.ceil(Date.now() / 1000);
  expect(run.code, run.stderr).to.equal(0);
  const position = Number(readFileSync(cfg.positionFile, 'utf8').trim());
  // What was written is exactly the mock's records up to the position: none from past it.
  expect(readStream(cfg.outputDirectory, `${stream.domain}_`)).to.have.length(mock.count(stream, nowS - 1800, position));
  return { stderr: run.stderr, position, before, after };
}

describe('clock check against the API Date header', function () {
  this.timeout(60_000);

  it('local clock 120 s ahead of the API: warned about, and the run ends at the API\'s now − end_delay', async () => {
    const r = await runWithApiClockOffset(-120);
    expect(r.stderr).to.match(/this host's clock is 1[12][0-9] s ahead of the API's/);
    // The API's now was at most `after - 120` (±1 s for the header's whole seconds).
    expect(r.position).to.be.at.most(r.after - 120 - END_DELAY + 1);
    expect(r.position).to.be.at.least(r.before - 120 - END_DELAY - 2);
  });

  it('local clock 120 s behind the API: warned about; the local now, the earlier one, stands', async () => {
    const r = await runWithApiClockOffset(120);
    expect(r.stderr).to.match(/this host's clock is 1[12][0-9] s behind the API's/);
    expect(r.position).to.be.at.least(r.before - END_DELAY);
    expect(r.position).to.be.at.most(r.after - END_DELAY);
  });

  it('a run of two segments (a backfill that goes on into the cron stream) warns once', async () => {
    const dir = tempDir('uzp-skew-');
    const nowS = Math.floor(Date.now() / 1000);
    const stream = { key: 'skew-key-0123456789abcdef', domain: 'skew.test', category: 'authentication' as const, perMinute: 30 };
    const mock = await startMockApi({ seed: 12, from: nowS - 7200, to: nowS + 3600, streams: [stream], clockOffsetSeconds: 120 });
    onCleanup(() => mock.close());
    const config = writeSectionsIni(dir, mock, [{ name: 'skew', stream }], { start_time: nowS - 1800, end_delay: END_DELAY, split_interval: 300 });
    const cron = await runCli(['--config', config, '--all'], { cwd: dir });
    expect(cron.code, cron.stderr).to.equal(0);
    expect(cron.stderr.match(/this host's clock is/g)).to.have.length(1);
    // The cron stream's segment must have something to ask whatever second the
    // next run starts in (the first may end in that very second): its position goes back two minutes.
    const [cfg] = loadConfig(config, { env: {} }).sections;
    writeFileSync(cfg!.positionFile, `${Number(readFileSync(cfg!.positionFile, 'utf8').trim()) - 120}\n`);
    // From before the cron position on, with no end: the backfill's segment, then the cron stream's.
    const backfill = await runCli(['--config', config, '--all', '--start-time', String(nowS - 3600)], { cwd: dir });
    expect(backfill.code, backfill.stderr).to.equal(0);
    const segments = messageLog(cfg!.outputDirectory).match(/ run: \d+ → \d+ in windows of/g) ?? [];
    expect(segments, 'segments of the cron run and of the backfill run').to.have.length(3);
    expect(backfill.stderr.match(/this host's clock is 1[12][0-9] s behind the API's/g)).to.have.length(1);
  });

  it('clocks that agree: no warning, the run ends at now − end_delay', async () => {
    const r = await runWithApiClockOffset(0);
    expect(r.stderr).to.not.include("clock is");
    expect(r.position).to.be.at.least(r.before - END_DELAY - 1);
    expect(r.position).to.be.at.most(r.after - END_DELAY);
  });
});
