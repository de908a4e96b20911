// Shape checks for the JSON records the storage layer reads back from disk
// (the commit journal, an older release's pending record): what a parsed
// value must be before a field of it is trusted.

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A non-negative safe integer (seconds or bytes). */
export function isWholeNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}
