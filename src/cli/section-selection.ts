// Which sections a run covers: --section NAME, --all, or (with neither) every
// [MailLogger:*] section when the file holds nothing else.

import { resolve } from 'node:path';
import { UsageError } from '../common/errors.js';
import { findSection, loadConfig, type LoadedConfig } from '../config/load-config.js';
import type { SectionConfig } from '../config/section-config.js';
import { ownsSection, type ShardSpec } from './shard-assignment.js';

export function loadFromCli(configPath: string, env: Record<string, string | undefined>): LoadedConfig {
  // The config path is the one thing resolved against the working directory;
  // everything inside it resolves against the file's own directory.
  return loadConfig(resolve(configPath), { env });
}

/** With a shard, only the sections that shard owns (--section is never narrowed: see main.ts). */
export function selectSections(cfg: LoadedConfig, opts: { section?: string; all: boolean; shard?: ShardSpec }): SectionConfig[] {
  const chosen = chooseSections(cfg, opts);
  const shard = opts.shard;
  return shard === undefined || opts.section !== undefined ? chosen : chosen.filter((s) => ownsSection(shard, s));
}

function chooseSections(cfg: LoadedConfig, opts: { section?: string; all: boolean }): SectionConfig[] {
  if (opts.section !== undefined) {
    const found = findSection(cfg, opts.section);
    if (!found) {
      throw new UsageError(
        `no section '${opts.section}' in ${cfg.path}; sections there: ${cfg.sections.map((s) => s.section).join(', ') || 'none'}`,
      );
    }
    return [found];
  }
  if (opts.all || cfg.otherSections.length === 0) return cfg.sections;
  throw new UsageError(
    `${cfg.path} also has sections that are not [MailLogger:*] (${cfg.otherSections.join(', ')}); ` +
      'say which to run: --all for every [MailLogger:*] section, or --section NAME',
  );
}
