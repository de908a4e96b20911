// The one INI writer of the tests and benchmarks: sections in, a config file
// out, in the configparser text src/config/ini-file.ts reads.
//
// Not the `ini` package's encode: it writes [MailLogger:example.com] as
// [MailLogger:example\.com], `a;b` as `a\;b` and a value holding '=' in JSON
// quotes, and configparser (so ini-file.ts) reads all three literally. Each
// file written here is read back with parseIni, so a value that would not
// survive (surrounding spaces, a line break) fails the test that wrote it
// instead of testing something else.

import { writeFileSync } from 'node:fs';
import { DEFAULT_SECTION, parseIni } from '../../src/config/ini-file.js';

export type IniValue = string | number | boolean | undefined;
/** Section name (`DEFAULT`, `MailLogger:x`, ...) to its options; undefined values are left out. */
export type IniSections = Record<string, Record<string, IniValue>>;

/** The text of an INI holding `sections`, in their order. */
export function iniText(sections: IniSections): string {
  const lines: string[] = [];
  for (const [name, options] of Object.entries(sections)) {
    lines.push(`[${name}]`);
    for (const [key, value] of Object.entries(options)) if (value !== undefined) lines.push(`${key} = ${String(value)}`);
    lines.push('');
  }
  const text = lines.join('\n');
  checkReadsBack(text, sections);
  return text;
}

/** Writes `sections` to `path` (mode 0600 by default, so no permission warning) and returns `path`. */
export function writeIni(path: string, sections: IniSections, mode = 0o600): string {
  writeFileSync(path, iniText(sections), { mode });
  return path;
}

function checkReadsBack(text: string, sections: IniSections): void {
  const doc = parseIni(text);
  const read = new Map<string, ReadonlyMap<string, string>>([[DEFAULT_SECTION, doc.defaults], ...doc.sections.map((s) => [s.name, s.options] as const)]);
  const problems = doc.problems.map((p) => p.message);
  for (const [name, options] of Object.entries(sections)) {
    for (const [key, value] of Object.entries(options)) {
      if (value === undefined) continue;
      const got = read.get(name)?.get(key);
      if (got !== String(value)) problems.push(`[${name}] ${key} = ${JSON.stringify(String(value))} reads back as ${JSON.stringify(got)}`);
    }
  }
  if (problems.length > 0) throw new Error(`writeIni: the INI would not read back as given:\n  ${problems.join('\n  ')}`);
}
