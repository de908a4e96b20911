// The one check that a parsed JSON value is an object with fields (not null,
// not an array), used wherever JSON from the API or from disk is trusted.

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
