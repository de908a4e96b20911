// Which sections belong to this copy when a scheduler runs N copies of the
// collector (a Kubernetes Indexed Job, a Nomad periodic job with N groups):
// `--shard I/N` (0-based), or I from JOB_COMPLETION_INDEX / UZP_SHARD_INDEX
// with N from --shard-count / UZP_SHARD_COUNT.
//
// Assignment is rendezvous (highest-random-weight) hashing: every unit (an
// API key by default, a section with --shard-by section) scores each shard
// 0..N-1 with a hash of (unit, shard) and goes to the highest score. The same
// config and N give the same owner on every host with no coordination, and
// changing N moves only the units whose highest score is a shard that was
// added or removed — about 1/N of them — never units between two shards that
// stay (docs/decisions.md, "Shards by rendezvous hashing, by key").

import { createHash } from 'node:crypto';
import { UsageError } from '../common/errors.js';
import type { SectionConfig } from '../config/section-config.js';

export type ShardBy = 'key' | 'section';

export interface ShardSpec {
  index: number;
  count: number;
  by: ShardBy;
}

/** Largest N accepted: far above any real deployment, small enough to catch a typo such as a timestamp. */
export const MAX_SHARDS = 10_000;

/**
 * The shard this process is, from the flags first and then the environment;
 * undefined when neither names one (every section is this process's).
 */
export function shardFromArgs(
  flags: { shard?: string; shardCount?: number; shardBy?: string },
  env: Record<string, string | undefined>,
): ShardSpec | undefined {
  const by = parseShardBy(flags.shardBy ?? env.UZP_SHARD_BY);
  if (flags.shard !== undefined) {
    if (flags.shardCount !== undefined) throw new UsageError('--shard I/N already says N; leave out --shard-count');
    return { ...parseShardText('--shard', flags.shard), by };
  }
  if (env.UZP_SHARD !== undefined && env.UZP_SHARD !== '') {
    return { ...parseShardText('UZP_SHARD', env.UZP_SHARD), by };
  }
  const indexSource = env.UZP_SHARD_INDEX !== undefined && env.UZP_SHARD_INDEX !== '' ? 'UZP_SHARD_INDEX' : 'JOB_COMPLETION_INDEX';
  const indexText = env[indexSource];
  const countText = flags.shardCount !== undefined ? String(flags.shardCount) : env.UZP_SHARD_COUNT;
  if (indexText === undefined || indexText === '') {
    if (flags.shardCount !== undefined) {
      throw new UsageError('--shard-count needs the shard index from JOB_COMPLETION_INDEX or UZP_SHARD_INDEX (or give --shard I/N)');
    }
    return undefined;
  }
  if (countText === undefined || countText === '') {
    throw new UsageError(
      `${indexSource}=${indexText} names this copy's shard but not how many there are: ` +
        'give --shard-count N or UZP_SHARD_COUNT (the Job\'s completions)',
    );
  }
  return { ...checkRange(indexSource, wholeNumber(indexSource, indexText), wholeNumber('the shard count', countText)), by };
}

function parseShardBy(value: string | undefined): ShardBy {
  if (value === undefined || value === '' || value === 'key') return 'key';
  if (value === 'section') return 'section';
  throw new UsageError(`--shard-by must be 'key' or 'section', got '${value}'`);
}

function parseShardText(source: string, text: string): { index: number; count: number } {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  if (!m) throw new UsageError(`${source} must be I/N with 0 ≤ I < N (e.g. 0/3), got '${text}'`);
  return checkRange(source, Number(m[1]), Number(m[2]));
}

function wholeNumber(source: string, text: string): number {
  if (!/^\s*\d+\s*$/.test(text)) throw new UsageError(`${source} must be a whole number, got '${text}'`);
  return Number(text);
}

function checkRange(source: string, index: number, count: number): { index: number; count: number } {
  if (count < 1 || count > MAX_SHARDS) throw new UsageError(`${source}: the shard count must be from 1 to ${MAX_SHARDS}, got ${count}`);
  if (index >= count) throw new UsageError(`${source}: shard index ${index} is not below the shard count ${count} (shards are numbered from 0)`);
  return { index, count };
}

/** What a section is sharded by: its API key (never shown; only hashed) or its own name. */
export function shardUnit(s: SectionConfig, by: ShardBy): string {
  return by === 'key' ? `key\0${s.apiKey}` : `section\0${s.section}`;
}

/** The shard that owns `unit` among `count`: the highest of the count scores. */
export function ownerShard(unit: string, count: number): number {
  let best = 0;
  let bestScore = -1n;
  for (let shard = 0; shard < count; shard++) {
    const score = createHash('sha256').update(unit).update('\0').update(String(shard)).digest().readBigUInt64BE(0);
    if (score > bestScore) {
      bestScore = score;
      best = shard;
    }
  }
  return best;
}

export function ownsSection(spec: ShardSpec, s: SectionConfig): boolean {
  return ownerShard(shardUnit(s, spec.by), spec.count) === spec.index;
}

/**
 * Keys whose sections land on more than one shard (only possible with
 * `--shard-by section`): each such key's rate budget is split between copies
 * that cannot see each other's requests.
 */
export function splitKeys(sections: SectionConfig[], spec: ShardSpec): { sections: string[]; shards: number[] }[] {
  const byKey = new Map<string, SectionConfig[]>();
  for (const s of sections) byKey.set(s.apiKey, [...(byKey.get(s.apiKey) ?? []), s]);
  const split: { sections: string[]; shards: number[] }[] = [];
  for (const group of byKey.values()) {
    const shards = [...new Set(group.map((s) => ownerShard(shardUnit(s, spec.by), spec.count)))].sort((a, b) => a - b);
    if (shards.length > 1) split.push({ sections: group.map((s) => s.section), shards });
  }
  return split;
}
