// The options whose value depends on the section's category: `type` (allowed
// values per category, none for authentication) and `url` (a default per
// category; a [DEFAULT] url applies to category mail only, see docs/api.md,
// "Endpoints").

import { TYPES_BY_CATEGORY, type Category } from './section-config.js';
import { CATEGORIES, CATEGORY_URLS, DEFAULT_TYPE, OPTIONS } from './config-options.js';
import { DEFAULT_SECTION } from './ini-file.js';
import type { SectionOptions } from './option-lookup.js';

/** The section's type for its category, or undefined when not allowed there (reported). */
export function resolveType(options: SectionOptions, category: Category): string | undefined {
  if (category === 'authentication') return DEFAULT_TYPE.authentication;
  const found = options.find('type');
  if (!found) return DEFAULT_TYPE[category];
  const allowed = TYPES_BY_CATEGORY[category];
  if (allowed.includes(found.raw)) return found.raw;
  const inherited = found.from === DEFAULT_SECTION ? ' (inherited from [DEFAULT])' : '';
  const owner = ['auth', 'authentication'].includes(found.raw)
    ? 'authentication'
    : CATEGORIES.find((c) => TYPES_BY_CATEGORY[c].includes(found.raw));
  const hint = owner ? `; '${found.raw}' belongs to category ${owner}: set category = ${owner}` : '';
  options.issues.error(options.section.name, 'type', found.raw, `must be one of ${allowed.join(', ')} for category ${category}${inherited}${hint}`);
  return undefined;
}

/** The base URL (`value`, trailing '/' dropped) and its text as configured (`raw`), or undefined when invalid (reported). */
export function resolveUrl(options: SectionOptions, category: Category): { value: string; raw: string } | undefined {
  // Empty counts as unset, as the Python tool's `if not url` did.
  const own = options.section.options.get('url');
  const inherited = options.defaults.get('url');
  const chosen = own
    ? { raw: own, from: options.section.name }
    : category === 'mail' && inherited
      ? { raw: inherited, from: DEFAULT_SECTION }
      : { raw: CATEGORY_URLS[category], from: options.section.name };
  const parsed = OPTIONS.url.parse(chosen.raw);
  if (parsed.ok) return { value: parsed.value, raw: chosen.raw };
  options.issues.error(chosen.from, 'url', chosen.raw, parsed.message);
  return undefined;
}
