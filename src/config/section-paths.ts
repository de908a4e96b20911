// A section's `{id}` and its files: placeholders expanded, relative paths
// resolved. Relative paths resolve against the config file's directory, never
// the working directory, so cron and a shell in another directory use the same
// files; the heartbeat alone is relative to the section's output directory, as
// the Python tool kept it there.

import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import type { Category, SectionConfig } from './section-config.js';
import { PLACEHOLDERS, escapeStrftime, expandPlaceholders, unknownPlaceholders } from './file-names.js';
import { unreadableFile } from './fs-problems.js';
import type { PlainValues, SectionOptions } from './option-lookup.js';

/** The values of the `{section}`, `{id}`, `{domain}`, `{type}` and `{category}` placeholders. */
export interface PlaceholderValues {
  section: string;
  id: string;
  /** The domain, or 'global' for a section without one. */
  domain: string;
  type: string;
  category: Category;
}

/**
 * The Python tool's id, byte for byte (md5 of f"{api_key}{domain}{log_type}{api_category}{url}"),
 * so `position_file = positions/{id}.pos` finds the files it wrote. It hashed the type as
 * configured with its own fallback 'outgoinglog' (whatever the category: authentication and an
 * unset quarantine type included) and the url before any trailing '/' is dropped.
 */
export function sectionId(input: { apiKey: string; domain: string; configuredType: string; category: Category; rawUrl: string }): string {
  const { apiKey, domain, configuredType, category, rawUrl } = input;
  return createHash('md5').update(`${apiKey}${domain}${configuredType}${category}${rawUrl}`, 'utf8').digest('hex').slice(0, 8);
}

type PathKey =
  | 'log_directory'
  | 'log_file_name_format'
  | 'message_log_file_name'
  | 'error_log_file_name'
  | 'heartbeat_file'
  | 'position_file'
  | 'lock_file_path'
  | 'metrics_file'
  | 'ca_file';
const PATH_KEYS: readonly PathKey[] = [
  'log_directory',
  'log_file_name_format',
  'message_log_file_name',
  'error_log_file_name',
  'heartbeat_file',
  'position_file',
  'lock_file_path',
  'metrics_file',
  'ca_file',
];

export type SectionPaths = Pick<
  SectionConfig,
  | 'logDirectory'
  | 'outputDirectory'
  | 'logFileNameFormat'
  | 'messageLogFileName'
  | 'errorLogFileName'
  | 'heartbeatFile'
  | 'positionFile'
  | 'lockFilePath'
  | 'metricsFile'
  | 'caFile'
>;

/** The section's files, absolute; undefined when ca_file cannot be read (reported). */
export function resolvePaths(
  options: SectionOptions,
  configured: Pick<PlainValues, PathKey>,
  values: PlaceholderValues,
  configDir: string,
): SectionPaths | undefined {
  for (const key of PATH_KEYS) {
    const unknown = unknownPlaceholders(configured[key], PLACEHOLDERS);
    if (unknown.length > 0) {
      options.issues.warning(options.section.name, key, undefined,
        `${unknown.map((u) => `{${u}}`).join(', ')} is not a placeholder and stays as written; placeholders: ${PLACEHOLDERS.map((p) => `{${p}}`).join(' ')}`);
    }
  }
  const placeholders: Record<string, string> = { ...values };
  // File name formats go through strftime after the placeholders: a '%' in a value is literal.
  const formatValues = Object.fromEntries(Object.entries(placeholders).map(([k, x]) => [k, escapeStrftime(x)]));
  const inConfigDir = (p: string): string => (p === '' ? '' : resolve(configDir, expandPlaceholders(p, placeholders)));

  const logDirectory = inConfigDir(configured.log_directory);
  // The Python tool's layout: no `quarantine/quarantine`, and authentication has no type.
  const typeLevel = !(values.category === 'authentication' || (values.category === 'quarantine' && values.type === 'quarantine'));
  const outputDirectory = join(logDirectory, values.domain, values.category, ...(typeLevel ? [values.type] : []));
  const caFile = inConfigDir(configured.ca_file);
  if (caFile !== '') {
    const problem = unreadableFile(caFile);
    if (problem) {
      options.issues.error(options.find('ca_file')?.from ?? options.section.name, 'ca_file', configured.ca_file,
        `${problem}; give the path of a PEM bundle, or leave ca_file empty`);
      return undefined;
    }
  }
  return {
    logDirectory,
    outputDirectory,
    logFileNameFormat: expandPlaceholders(configured.log_file_name_format, formatValues),
    messageLogFileName: expandPlaceholders(configured.message_log_file_name, formatValues),
    errorLogFileName: expandPlaceholders(configured.error_log_file_name, formatValues),
    heartbeatFile: resolve(outputDirectory, expandPlaceholders(configured.heartbeat_file, placeholders)),
    positionFile: inConfigDir(configured.position_file),
    lockFilePath: inConfigDir(configured.lock_file_path),
    metricsFile: inConfigDir(configured.metrics_file),
    caFile,
  };
}
