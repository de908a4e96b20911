// Which field of a record is its event time (docs/api.md, "Records and event time").
// The event time orders the output and moves the position.

import type { Category } from '../../config/section-config.js';

/** Unix seconds of the record's event time, or undefined when it has none usable. */
export function eventTime(category: Category, record: unknown): number | undefined {
  if (record === null || typeof record !== 'object') return undefined;
  const r = record as Record<string, unknown>;
  if (category === 'mail') {
    const recipients = r.recipients;
    if (Array.isArray(recipients) && recipients.length > 0) {
      const first: unknown = recipients[0];
      if (first !== null && typeof first === 'object') {
        const t = toSeconds((first as Record<string, unknown>).time);
        if (t !== undefined) return t;
      }
    }
    return toSeconds(r.time);
  }
  return toSeconds(r.time) ?? toSeconds(r.timestamp) ?? toSeconds(r.starttime);
}

// The service sends integer seconds; tolerate numeric strings and fractions
// (floored, so a record stays in the second it happened in).
function toSeconds(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return Math.floor(v);
  if (typeof v === 'string' && /^\d+(\.\d+)?$/.test(v.trim())) return Math.floor(Number(v));
  return undefined;
}
