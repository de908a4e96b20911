// Checks of the config file as a whole, beside the per-section rules: options
// nobody reads, a key readable by others, and sections that would share files.

import { join } from 'node:path';
import type { SectionConfig } from './section-config.js';
import { OPTION_KEYS, isOptionKey } from './config-options.js';
import { DEFAULT_SECTION, type IniDocument } from './ini-file.js';
import { octal } from './fs-problems.js';
import type { IssueList } from './config-issues.js';

// Two sections sharing one of these files would corrupt each other's state.
const SHARED_FILE_CHECKS: { option: string; file: (c: SectionConfig) => string; harm: string }[] = [
  { option: 'position_file', file: (c) => c.positionFile, harm: "overwrite each other's position and skip or repeat records" },
  { option: 'lock_file_path', file: (c) => c.lockFilePath, harm: 'lock each other out' },
  { option: 'heartbeat_file', file: (c) => c.heartbeatFile, harm: "overwrite each other's heartbeat" },
  { option: 'log_file_name_format', file: (c) => join(c.outputDirectory, c.logFileNameFormat), harm: 'write into the same data files' },
];

export function checkSharedFiles(sections: SectionConfig[], issues: IssueList): void {
  for (const check of SHARED_FILE_CHECKS) {
    const owners = new Map<string, SectionConfig>();
    for (const c of sections) {
      const file = check.file(c);
      const first = owners.get(file);
      if (!first) {
        owners.set(file, c);
        continue;
      }
      issues.add({
        section: c.section,
        option: check.option,
        value: file,
        message: `[${first.section}] and [${c.section}] both resolve to ${file} and would ${check.harm}; include {section} in ${check.option}, or give one of them its own value`,
        severity: 'error',
      });
    }
  }
}

/** `mode` is the config file's permission bits. */
export function checkFileMode(path: string, mode: number, doc: IniDocument, issues: IssueList): void {
  if (process.platform === 'win32' || (mode & 0o044) === 0) return;
  const holder = [{ name: DEFAULT_SECTION, options: doc.defaults }, ...doc.sections].find((s) => (s.options.get('api_key') ?? '') !== '');
  if (!holder) return;
  issues.add({
    section: holder.name,
    option: 'api_key',
    message: `${path} holds an API key and is readable by group or others (mode ${octal(mode)}); run chmod 600 ${path}, or move the key to api_key_file or api_key_env`,
    severity: 'warning',
  });
}

export function warnUnknownOptions(section: string, options: ReadonlyMap<string, string>, issues: IssueList): void {
  for (const key of options.keys()) {
    if (isOptionKey(key)) continue;
    const near = OPTION_KEYS.find((k) => editDistance(k, key) <= 2);
    // The value is left out: a misspelt api_key would otherwise be printed.
    issues.add({
      section,
      option: key,
      message: `unknown option, ignored${near ? ` (did you mean ${near}?)` : ''}`,
      severity: 'warning',
    });
  }
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
    }
    prev = row;
  }
  return prev[b.length] ?? 0;
}
