// The one place that decides how an API key looks in anything the tool
// writes: first 4 + '...' + last 4, or '***' for keys too short to show any.

export function maskKey(key: string): string {
  if (key.length <= 12) return '***';
  return `${key.slice(0, 4)}...${key.slice(-4)}`;
}

/** Replaces every occurrence of each key (in full, or URL-encoded) in `text` by its mask. */
export function redact(text: string, keys: readonly string[]): string {
  let out = text;
  for (const key of keys) {
    if (!key) continue;
    const masked = maskKey(key);
    out = out.split(key).join(masked);
    const encoded = encodeURIComponent(key);
    if (encoded !== key) out = out.split(encoded).join(masked);
  }
  return out;
}
