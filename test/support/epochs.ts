// Where test data sits in time. Data ranges are placed at a fixed offset from
// a UTC midnight, never at "now minus a bit": the mock's record counts follow
// a daily wave and files are cut at hour boundaries, so a range tied to the
// wall clock would hold different data at 03:00 than at 15:00. Whole days
// keep both identical. The anchor still follows the date (two days back)
// because quarantine data must stay within the service's 7-day reach
// (docs/api.md, "Retention").

const DAY = 86_400;

/** UTC midnight two days before the process clock's today, in Unix seconds. */
export function dayAnchor(nowMs: number = Date.now()): number {
  return (Math.floor(nowMs / 1000 / DAY) - 2) * DAY;
}
