// Times given by people: Unix seconds or ISO 8601 (with a zone, or UTC when
// it has none, so cron and a terminal read the same value the same way).

export function parseTimeValue(text: string): number | undefined {
  const s = text.trim();
  if (/^\d+$/.test(s)) return Number(s);
  if (!/^\d{4}-\d{2}-\d{2}([T ][\d:.]+)?(Z|[+-]\d{2}:?\d{2})?$/i.test(s)) return undefined;
  const hasZone = /(Z|[+-]\d{2}:?\d{2})$/i.test(s) && /[T ]/.test(s);
  const iso = s.replace(' ', 'T') + (hasZone ? '' : s.includes('T') || s.includes(' ') ? 'Z' : 'T00:00:00Z');
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000);
}
