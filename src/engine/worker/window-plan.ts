// Planning the time windows a section asks for. A window is half-open
// [start, end) by event time; the position after committing it is `end`.

/** The longest window the client ever asks for (never longer than 14 days: docs/api.md, "List"). */
export const MAX_WINDOW_SECONDS = 14 * 24 * 3600;

/** Quarantine records older than 7 days cannot be searched (406); keep a day of margin. */
export const QUARANTINE_MAX_AGE_SECONDS = 6 * 24 * 3600;

export interface Window {
  start: number;
  end: number;
}

export function windowLength(splitInterval: number, maxTimeGap: number): number {
  return Math.max(1, Math.min(splitInterval, maxTimeGap, MAX_WINDOW_SECONDS));
}

/** Yields consecutive windows covering [from, to); none when to <= from. */
export function* planWindows(from: number, to: number, length: number): Generator<Window> {
  for (let start = from; start < to; start += length) {
    yield { start, end: Math.min(start + length, to) };
  }
}

/** Splits a full window in two halves for bisection; undefined for a one-second window. */
export function bisect(w: Window): [Window, Window] | undefined {
  if (w.end - w.start <= 1) return undefined;
  const mid = Math.floor((w.start + w.end) / 2);
  return [
    { start: w.start, end: mid },
    { start: mid, end: w.end },
  ];
}

/**
 * The quarantine start cap: never ask for quarantine data older than
 * now − 6 days, which would draw the service's 406 (docs/api.md, "Retention").
 * Returns the capped start and, when it moved, the gap given up.
 */
export function capQuarantineStart(start: number, now: number): { start: number; skipped?: Window } {
  const earliest = now - QUARANTINE_MAX_AGE_SECONDS;
  if (start >= earliest) return { start };
  return { start: earliest, skipped: { start, end: earliest } };
}
