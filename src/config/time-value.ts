// Times given by people, in the config (start_time) and on the command line
// (--start-time, --end-time): Unix seconds, or ISO 8601 with a zone, so that
// cron and a terminal in another zone read the same value the same way.

const ISO_WITH_ZONE = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(Z|[+-]\d{2}(?::?\d{2})?)$/i;
// Past this a number is almost surely milliseconds (year 2286 in seconds).
const MAX_UNIX_SECONDS = 9_999_999_999;

export function parseTimeValue(text: string): { value: number } | { error: string } {
  const raw = text.trim();
  const allowed = 'must be Unix seconds (e.g. 1734876000) or ISO 8601 with a zone (e.g. 2024-12-22T14:00:00Z or 2024-12-22T17:00:00+03:00)';
  if (/^[+-]?\d+$/.test(raw)) {
    const n = Number(raw);
    if (n < 0) return { error: `${allowed}; it is negative` };
    if (n > MAX_UNIX_SECONDS) return { error: `${allowed}; it looks like milliseconds` };
    return { value: n };
  }
  const m = ISO_WITH_ZONE.exec(raw);
  if (!m) return { error: /^\d{4}-\d{2}-\d{2}/.test(raw) ? `${allowed}; the zone is missing` : allowed };
  let zone = (m[7] ?? 'Z').toUpperCase();
  if (zone !== 'Z' && !zone.includes(':')) zone = zone.length === 3 ? `${zone}:00` : `${zone.slice(0, 3)}:${zone.slice(3)}`;
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6] ?? '00'].map(Number) as [number, number, number, number, number, number];
  // Date.parse rolls 2024-02-30 over to March; check the fields first.
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 59) {
    return { error: `${allowed}; it is not a real date and time` };
  }
  const ms = Date.parse(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6] ?? '00'}${zone}`);
  if (Number.isNaN(ms)) return { error: allowed };
  return { value: Math.floor(ms / 1000) };
}
