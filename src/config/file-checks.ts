// Checks of the config file as a whole, beside the per-section rules: options
// nobody reads, a key readable by others, and sections that would share files.

import { join } from 'node:path';
import { strftime, strftimeToRegExp } from './strftime.js';
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

// Instants whose names differ in every field, local time as strftime renders
// them: a name that one format produces at all of them and another's pattern
// never matches cannot be shared.
const SAMPLE_TIMES = [new Date(2026, 0, 2, 3, 4, 5), new Date(2031, 10, 28, 22, 59, 58), new Date(2000, 9, 10, 10, 10, 10)];

/** Whether a name `a` produces could be one of `b`'s, or the other way round. */
function namesOverlap(a: string, b: string): boolean {
  const produces = (format: string, other: string): boolean => {
    const pattern = strftimeToRegExp(other);
    return SAMPLE_TIMES.some((t) => pattern.test(strftime(format, t)));
  };
  return produces(a, b) || produces(b, a);
}

/**
 * The message and error logs live beside the data files. A log name that can
 * be a data file's name would write log lines into the data the SIEM reads,
 * and log retention would then delete data files; two log names that overlap
 * would mix and delete each other's files.
 */
export function checkLogNames(sections: SectionConfig[], issues: IssueList): void {
  for (const c of sections) {
    const logs = [
      { option: 'message_log_file_name', format: c.messageLogFileName },
      { option: 'error_log_file_name', format: c.errorLogFileName },
    ];
    const data = sections.filter((d) => d.outputDirectory === c.outputDirectory);
    for (const log of logs) {
      const clash = data.find((d) => namesOverlap(log.format, d.logFileNameFormat));
      if (clash) {
        issues.add({
          section: c.section,
          option: log.option,
          value: log.format,
          message:
            `its files could be named like the data files of [${clash.section}] (log_file_name_format = ${clash.logFileNameFormat}) in ${c.outputDirectory}: ` +
            `log lines would go into the data, and log retention would delete data files; give the log a name of its own (the default is messages_%Y-%m-%d_%H.log / errors_%Y-%m-%d_%H.log)`,
          severity: 'error',
        });
      }
    }
    if (namesOverlap(c.messageLogFileName, c.errorLogFileName)) {
      issues.add({
        section: c.section,
        option: 'error_log_file_name',
        value: c.errorLogFileName,
        message: `its files could be named like the message log's (message_log_file_name = ${c.messageLogFileName}): the two logs would mix, and each one's retention would delete the other's files; give them different names`,
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
