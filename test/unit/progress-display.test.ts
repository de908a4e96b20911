// Progress bars (issue 4): a backfill at an interactive terminal shows a bar
// per section; a cron run, or any output that is not a terminal, gets no bar
// and not a single escape code.

import { expect } from 'chai';
import type { SectionState } from '../../src/engine/main/coordinator.js';
import { ProgressDisplay, progressLine, type ProgressStream } from '../../src/reporting/progress-display.js';
import type { SectionConfig } from '../../src/config/section-config.js';
import { emptyMetrics } from '../../src/engine/shared/section-metrics.js';

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

});
