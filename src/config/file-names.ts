// How configured names become real file names: `{placeholder}` expansion
// (done once, when the config is loaded) and strftime (done per write, from
// the record or write time). The strftime token table lives in strftime.ts,
// shared with log retention, so a name this module makes is always one that
// retention recognises.

import { join } from 'node:path';
import type { SectionConfig } from './section-config.js';
import { STRFTIME_TOKENS, strftime, strftimeToRegExp as formatToRegExp } from './strftime.js';

export { hasDateTokens, strftime, STRFTIME_TOKENS } from './strftime.js';

/** Placeholders path and file-name options may use (see config-options.ts). */
export const PLACEHOLDERS = ['section', 'id', 'domain', 'type', 'category'] as const;
export type Placeholder = (typeof PLACEHOLDERS)[number];

const PLACEHOLDER_RE = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** Replaces each `{name}` that `values` has; any other `{x}` is left as written. */
export function expandPlaceholders(template: string, values: Record<string, string>): string {
  return template.replace(PLACEHOLDER_RE, (whole, name: string) =>
    Object.prototype.hasOwnProperty.call(values, name) ? (values[name] ?? whole) : whole,
  );
}

/** The `{x}` names in `template` that are not in `known` (for typo warnings). */
export function unknownPlaceholders(template: string, known: readonly string[]): string[] {
  const found = new Set<string>();
  for (const m of template.matchAll(PLACEHOLDER_RE)) {
    if (m[1] !== undefined && !known.includes(m[1])) found.add(m[1]);
  }
  return [...found];
}

/** `%x` directives in `format` that strftime does not know (it would copy them literally). */
export function unsupportedDirectives(format: string): string[] {
  const found = new Set<string>();
  for (let i = 0; i < format.length; i++) {
    if (format[i] !== '%') continue;
    const next = format[i + 1];
    if (next === '%') {
      i++;
      continue;
    }
    if (next === undefined || !(STRFTIME_TOKENS as readonly string[]).includes(next)) found.add(`%${next ?? ''}`);
    else i++;
  }
  return [...found];
}

/** Escapes `%` so a placeholder value put into a strftime format stays literal. */
export function escapeStrftime(value: string): string {
  return value.replace(/%/g, '%%');
}

/**
 * An anchored RegExp matching exactly the names `format` produces (for
 * retention). `values` fills placeholders first; their values are literal
 * text, never strftime directives.
 */
export function strftimeToRegExp(format: string, values?: Record<string, string>): RegExp {
  if (!values) return formatToRegExp(format);
  const escaped: Record<string, string> = {};
  for (const [k, v] of Object.entries(values)) escaped[k] = escapeStrftime(v);
  return formatToRegExp(expandPlaceholders(format, escaped));
}

/**
 * The data file a record belongs in. `logFileNameFormat` arrives with its
 * placeholders already expanded by the config loader, so only the time varies.
 */
export function dataFileName(cfg: SectionConfig, date: Date): string {
  return join(cfg.outputDirectory, strftime(cfg.logFileNameFormat, date));
}
