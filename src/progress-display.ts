// A live progress bar per section for backfills at an interactive terminal.
// In cron (no TTY) nothing of the sort is drawn: forStream returns undefined.

import type { SectionState } from './coordinator.js';

const REDRAW_MS = 250;

export class ProgressDisplay {
  private lines = 0;
  private lastDraw = 0;

  private constructor(private readonly out: NodeJS.WritableStream & { columns?: number }) {}

  static forStream(out: NodeJS.WritableStream & { isTTY?: boolean }, backfill: boolean): ProgressDisplay | undefined {
    return backfill && out.isTTY === true ? new ProgressDisplay(out) : undefined;
  }

  render(states: ReadonlyMap<string, SectionState>): void {
    const now = Date.now();
    if (now - this.lastDraw < REDRAW_MS) return;
    this.lastDraw = now;
    const rows = [...states.values()].filter((s) => s.status === 'running' && s.progress).map((s) => progressLine(s, this.out.columns ?? 100));
    this.clear();
    if (rows.length) this.out.write(rows.join('\n') + '\n');
    this.lines = rows.length;
  }

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
  const name = s.config.section.slice(0, 28).padEnd(28);
  const width = Math.max(10, Math.min(40, columns - name.length - text.length - 4));
  const filled = Math.round(done * width);
  return `${name} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}]${text}`;
}

function formatDuration(s: number): string {
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
