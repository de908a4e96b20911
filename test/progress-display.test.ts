// Progress bars (issue 4): a backfill at an interactive terminal shows a bar
// per section; a cron run, or any output that is not a terminal, gets no bar
// and not a single escape code.

import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { SectionState } from '../src/engine/main/coordinator.js';
import { startMockApi, type MockApi, type MockStreamSpec } from '../src/mock-api/index.js';
import { ProgressDisplay, progressLine, type ProgressStream } from '../src/reporting/progress-display.js';
import type { SectionConfig } from '../src/config/section-config.js';
import { emptyMetrics } from '../src/engine/shared/section-metrics.js';
import { BIN, runCli, tempDir, until } from './support/harness.js';
import { writeSectionsIni } from './support/sections-ini.js';
import { onCleanup } from './support/cleanup.js';
import { dayAnchor } from './support/epochs.js';

const ESC = '\x1b';

class FakeTerminal implements ProgressStream {
  text = '';
  constructor(
    readonly isTTY: boolean,
    readonly columns = 100,
    readonly rows = 24,
  ) {}
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
}

function running(section: string, done: number, records: number, elapsedSeconds: number): SectionState {
  return {
    config: { section } as SectionConfig,
    status: 'running',
    metrics: { ...emptyMetrics(), recordsWritten: records, recordsPerSecond: Math.round(records / elapsedSeconds), elapsedSeconds },
    progress: { rangeStart: 1000, rangeEnd: 2000, position: 1000 + done * 1000 },
  };
}

function states(...list: SectionState[]): Map<string, SectionState> {
  return new Map(list.map((s) => [s.config.section, s]));
}

describe('progress display', () => {
  it('a terminal gets a bar per running section with range done, records, rate and ETA', () => {
    const tty = new FakeTerminal(true);
    const display = ProgressDisplay.forStream(tty, true, { now: () => 0 });
    expect(display).to.not.equal(undefined);
    display?.render(states(running('MailLogger:a', 0.5, 500, 10), running('MailLogger:b', 0.25, 100, 10)));
    const lines = tty.text.split('\n').filter(Boolean);
    expect(lines[0]).to.match(/^MailLogger:a\s+\[#+-+\]\s+50\.0% 500 rec 50\/s ETA 10s$/);
    expect(lines[1]).to.match(/^MailLogger:b\s+\[#+-+\]\s+25\.0% 100 rec 10\/s ETA 30s$/);
    expect(lines[2]).to.equal('0 of 2 sections done, 0 queued');
  });

  it('redraws in place (cursor up, erase) at most every 250 ms, and clear() removes the bars', () => {
    const tty = new FakeTerminal(true);
    let now = 0;
    const display = ProgressDisplay.forStream(tty, true, { now: () => now });
    const one = states(running('MailLogger:a', 0.1, 10, 1));
    display?.render(one);
    const first = tty.text;
    now = 100;
    display?.render(one);
    expect(tty.text, 'too soon: nothing drawn').to.equal(first);
    now = 300;
    display?.render(states(running('MailLogger:a', 0.2, 20, 2)));
    expect(tty.text.slice(first.length)).to.match(/^\x1b\[1A\x1b\[J.*20\.0%/);
    display?.clear();
    expect(tty.text.endsWith(`${ESC}[1A${ESC}[J`)).to.equal(true);
  });

  it('never scrolls: with more sections than rows, the rest is counted', () => {
    const tty = new FakeTerminal(true, 100, 6);
    const display = ProgressDisplay.forStream(tty, true, { now: () => 0 });
    display?.render(states(...Array.from({ length: 10 }, (_, i) => running(`MailLogger:s${i}`, 0.5, 10, 1))));
    const lines = tty.text.split('\n').filter(Boolean);
    expect(lines).to.have.length(4);
    expect(lines[3]).to.equal('… 7 more running; 0 of 10 sections done, 0 queued');
  });

  it('nothing for a stream that is not a terminal, nor for a cron run at a terminal', () => {
    expect(ProgressDisplay.forStream(new FakeTerminal(false), true)).to.equal(undefined);
    expect(ProgressDisplay.forStream(new FakeTerminal(true), false)).to.equal(undefined);
  });

  it('the bar fills with the range done and fits the terminal width', () => {
    const line = progressLine(running('MailLogger:a-section-with-a-rather-long-name', 1, 1234, 5), 80);
    expect(line.length).to.be.at.most(80);
    expect(line).to.match(/\[#+\] 100\.0% 1234 rec/);
    expect(line).to.include('ETA 0s');
  });

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
      expect(run.stdout).to.match(/Total: 1 sections/);
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
