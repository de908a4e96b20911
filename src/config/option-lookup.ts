// Precedence, written once: which value of an option a section gets. The
// section's own value > [DEFAULT] > the built-in default in config-options.ts.
// No command-line flag sets an INI option (--start-time and --end-time give a
// backfill range, which the section runner applies over the position).
//
// A few options follow rules of their own, applied by their own modules on top
// of find(): `type` and `url` depend on the category (category-rules.ts), and
// the three API key sources are one setting (api-key-source.ts).

import {
  OPTIONS,
  OPTION_KEYS,
  type OptionKey,
  type OptionValue,
  type Parser,
} from './config-options.js';
import { DEFAULT_SECTION, type IniSection } from './ini-file.js';
import type { SectionIssues } from './config-issues.js';

/** A configured value and the section it was read from: the section itself or [DEFAULT]. */
export interface FoundOption {
  raw: string;
  from: string;
}

const SPECIAL_KEYS = ['api_key', 'api_key_env', 'api_key_file', 'type', 'url', 'start_time'] as const;
const SPECIAL: ReadonlySet<OptionKey> = new Set<OptionKey>(SPECIAL_KEYS);

/** Options resolved by plain precedence alone. */
export type PlainKey = Exclude<OptionKey, (typeof SPECIAL_KEYS)[number]>;
export type PlainValues = { [K in PlainKey]: OptionValue<K> };

/** One section's options seen through [DEFAULT]; bad values are reported to `issues`. */
export class SectionOptions {
  constructor(
    readonly section: IniSection,
    readonly defaults: ReadonlyMap<string, string>,
    readonly issues: SectionIssues,
  ) {}

  /** Where the option is configured, the section before [DEFAULT]; undefined when neither sets it. */
  find(key: string): FoundOption | undefined {
    const own = this.section.options.get(key);
    if (own !== undefined) return { raw: own, from: this.section.name };
    const inherited = this.defaults.get(key);
    return inherited === undefined ? undefined : { raw: inherited, from: DEFAULT_SECTION };
  }

  /** The parsed value, the built-in default when unset; undefined when invalid (reported) or without default. */
  value<K extends OptionKey>(key: K): OptionValue<K> | undefined {
    const found = this.find(key);
    const raw = found?.raw ?? OPTIONS[key].default;
    if (raw === undefined) return undefined;
    const parsed = (OPTIONS[key].parse as Parser<OptionValue<K>>)(raw);
    if (parsed.ok) return parsed.value;
    // A bad [DEFAULT] value is reported once, under [DEFAULT], not once per section.
    this.issues.error(found?.from ?? this.section.name, key, raw, parsed.message);
    return undefined;
  }

  /** Every option that follows plain precedence; the invalid ones are left out (and reported). */
  plainValues(): Partial<PlainValues> {
    const values: Partial<Record<PlainKey, unknown>> = {};
    for (const key of OPTION_KEYS) {
      if (SPECIAL.has(key)) continue;
      const value = this.value(key);
      if (value !== undefined) values[key as PlainKey] = value;
    }
    return values as Partial<PlainValues>;
  }
}
