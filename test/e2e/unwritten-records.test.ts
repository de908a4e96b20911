// Issue 10, "Records the run does not write": nothing the service sends is
// dropped without a word. A listed record outside the range asked for is
// counted and logged with its id; a list answer that every attempt gets the
// same and cannot be read (JSON nested 100,000 deep: it parses, but cannot be
// written back) is kept in a rejects file beside the error log, its window
// is a gap entry, and the run goes on; a detail that cannot be read falls
// back to the summary, naming the queue id. Hostile answers come from the
// mock (failPaths with a body), the rest is its exact ground truth.

import { expect } from 'chai';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startMockApi } from '../../src/mock-api/index.js';
import { loadConfig } from '../../src/config/load-config.js';
import { readStream, runCli, tempDir } from '../support/harness.js';
import { listWindowStart } from '../support/crash-scenario.js';
import { writeSectionsIni } from '../support/sections-ini.js';
import { onCleanup } from '../support/cleanup.js';
import { dayAnchor } from '../support/epochs.js';

const DEEP_ARRAY = `[${'['.repeat(100_000)}${']'.repeat(100_000)}]`;
const DEEP_OBJECT = `{"queue_id":"x","deep":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;

describe('records the run does not write are named', function () {
  this.timeout(60_000);

  it('out-of-range records counted and logged by id, an unreadable answer kept as a reject with a gap, an unreadable detail written as its summary', async () => {
    const dir = tempDir('uzp-unwritten-');
    const split = 60;
    const end = dayAnchor() + 12 * 3600;
    const start = end - 10 * split;
    const stream = { key: 'unwritten-key-0123456789abcdef', domain: 'unwritten.test', category: 'mail' as const, type: 'incominglog', perMinute: 20 };
    const rejected = { start: start + 2 * split, end: start + 3 * split };
    const strayWindow = { start: start + 5 * split, end: start + 6 * split };
    const stray = { queue_id: 'stray-queue-id-1', time: start - 86_400, recipients: [{ time: start - 86_400 }] };
    // A detail of a window the run writes normally.
    const mockForTruth = await startMockApi({ seed: 21, from: start - 60, to: end + 60, streams: [stream] });
    const victim = mockForTruth.expected(stream, start + 7 * split, start + 8 * split)[0] as { queue_id: string } | undefined;
    await mockForTruth.close();
    if (!victim) throw new Error('no record to spoil the detail of');
    const mock = await startMockApi({
      seed: 21,
      from: start - 60,
      to: end + 60,
      streams: [stream],
      faults: {
        failPaths: (r) => {
          if (listWindowStart(r) === rejected.start) return { body: DEEP_ARRAY };
          if (listWindowStart(r) === strayWindow.start) return { body: JSON.stringify([stray]) };
          if (r.kind === 'detail' && r.queueId === victim.queue_id) return { body: DEEP_OBJECT };
          return undefined;
        },
      },
    });
    onCleanup(() => mock.close());
    const config = writeSectionsIni(dir, mock, [{ name: 'in', stream }], { split_interval: split, list_retries: 2, detail_retries: 1 });
    const [cfg] = loadConfig(config, { env: {} }).sections;
    if (!cfg) throw new Error('no section');

    const run = await runCli(['--config', config, '--all', '--start-time', String(start), '--end-time', String(end)], { cwd: dir });
    expect(run.code, run.stderr).to.equal(0);
    expect(readFileSync(cfg.positionFile, 'utf8').trim(), 'the run went on to the end').to.equal(String(end));

    // Everything but the two spoiled windows, exactly once; the victim as its summary.
    const written = readStream(cfg.outputDirectory, `${stream.domain}_`) as { queue_id: string }[];
    const truth = mock.count(stream, start, end) - mock.count(stream, rejected.start, rejected.end) - mock.count(stream, strayWindow.start, strayWindow.end);
    expect(written).to.have.length(truth);
    expect(written.map((r) => r.queue_id)).to.include(victim.queue_id).and.not.include(stray.queue_id);

    const files = readdirSync(cfg.outputDirectory);
    const errorLines = files
      .filter((f) => f.startsWith('errors_'))
      .flatMap((f) => readFileSync(join(cfg.outputDirectory, f), 'utf8').split('\n').filter(Boolean))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const gap = errorLines.find((e) => e.code === 'UZP_GAP');
    expect(gap, JSON.stringify(errorLines.map((e) => e.code))).to.include({ from: rejected.start, to: rejected.end, gap: true });
    const rejectsFile = gap?.rejectsFile as string;
    expect(rejectsFile.startsWith(cfg.outputDirectory), 'beside the error log').to.equal(true);
    expect(existsSync(rejectsFile)).to.equal(true);
    expect(readFileSync(rejectsFile, 'utf8') === DEEP_ARRAY, 'the rejected answer kept byte for byte').to.equal(true);

    const messages = files
      .filter((f) => f.startsWith('messages_'))
      .map((f) => readFileSync(join(cfg.outputDirectory, f), 'utf8'))
      .join('');
    expect(messages).to.include(`queue_id "${stray.queue_id}"`).and.include('outside the range');
    expect(messages).to.include(`the detail of queue_id "${victim.queue_id}" could not be read`).and.include('summary record is written instead');
    expect(run.stdout).to.include('1 outside the requested range, not written');
  });
});
