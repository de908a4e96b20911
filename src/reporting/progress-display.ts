// A live progress bar per section for backfills at an interactive terminal:
// range done, records, rate and ETA. In cron (no TTY) nothing of the sort is
// drawn: forStream returns undefined, so not one escape code is written.

import type { SectionState } from '../engine/main/coordinator.js';

export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
  rows?: number;
}

export interface ProgressDisplayOptions {
  /** Milliseconds; injected by tests. */
  now?: () => number;
  /** Least time between two redraws. */
  redrawMs?: number;
}

const REDRAW_MS = 250;
const NAME_WIDTH = 28;

export class ProgressDisplay {
  private lines = 0;
  private lastDraw = -Infinity;
  private readonly now: () => number;
  private readonly redrawMs: number;

  private constructor(
    private readonly out: ProgressStream,
    opts: ProgressDisplayOptions,
  ) {
    this.now = opts.now ?? (() => Date.now());
    this.redrawMs = opts.redrawMs ?? REDRAW_MS;
  }

  /** A display for an interactive backfill; undefined for a cron run or a stream that is not a terminal. */
  static forStream(out: ProgressStream, backfill: boolean, opts: ProgressDisplayOptions = {}): ProgressDisplay | undefined {
    return backfill && out.isTTY === true ? new ProgressDisplay(out, opts) : undefined;
  }

  /** Redraws the bars of the running sections, at most every redrawMs. */
  render(states: ReadonlyMap<string, SectionState>): void {
    const now = this.now();
    if (now - this.lastDraw < this.redrawMs) return;
    this.lastDraw = now;
    const all = [...states.values()];
    const running = all.filter((s) => s.status === 'running' && s.progress);
    // Never scroll: with 200 sections only as many bars as the terminal has rows, then a count.
    const room = Math.max(1, (this.out.rows ?? 24) - 2);
    const shown = running.slice(0, running.length > room ? room - 1 : room);
    const rows = shown.map((s) => progressLine(s, this.out.columns ?? 100));
    if (shown.length < running.length || all.length > 1) {
      const count = (st: SectionState['status']): number => all.filter((s) => s.status === st).length;
      const hidden = running.length - shown.length;
      rows.push(
        `${hidden > 0 ? `… ${hidden} more running; ` : ''}${all.length - count('queued') - count('running')} of ${all.length} sections done, ${count('queued')} queued`,
      );
    }
    this.clear();
    if (rows.length) this.out.write(rows.join('\n') + '\n');
    this.lines = rows.length;
  }

  /** Erases the bars, so a message or the summary is not mixed into them. */
  clear(): void {
    if (this.lines > 0) this.out.write(`\x1b[${this.lines}A\x1b[J`);
    this.lines = 0;
  }
}

export function progressLine(s: SectionState, columns: number): string {
  const p = s.progress;
  if (!p) return s.config.section;
  const span = Math.max(1, p.rangeEnd - p.rangeStart);
  const done = Math.min(1, Math.max(0, (p.position - p.rangeStart) / span));
  const rate = s.metrics.recordsPerSecond;
  const elapsed = s.metrics.elapsedSeconds;
  const eta = done > 0 && elapsed > 0 ? Math.round((elapsed / done) * (1 - done)) : undefined;
  const text = ` ${(done * 100).toFixed(1).padStart(5)}% ${s.metrics.recordsWritten} rec ${rate}/s ETA ${eta === undefined ? '?' : formatDuration(eta)}`;
  const name = s.config.section.slice(0, NAME_WIDTH).padEnd(NAME_WIDTH);
  const width = Math.max(10, Math.min(40, columns - name.length - text.length - 4));
  const filled = Math.round(done * width);
  return `${name} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}]${text}`;
}

export function formatDuration(s: number): string {
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
