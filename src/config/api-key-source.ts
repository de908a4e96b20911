// The section's API key, from exactly one of api_key (the key itself),
// api_key_env (an environment variable holding it) or api_key_file (a file
// holding it), checked to be something an HTTP header can carry.

import fs from 'node:fs';
import { resolve } from 'node:path';
import { maskKey } from '../common/mask.js';
import { OPTIONS, PLACEHOLDER_KEYS } from './config-options.js';
import { DEFAULT_SECTION } from './ini-file.js';
import { describeFsError, octal } from './fs-problems.js';
import type { SectionIssues } from './config-issues.js';
import type { SectionOptions } from './option-lookup.js';

const KEY_SOURCES = ['api_key', 'api_key_env', 'api_key_file'] as const;
type KeySource = (typeof KEY_SOURCES)[number];

export interface KeyContext {
  /** Directory a relative api_key_file resolves against. */
  dir: string;
  env: Record<string, string | undefined>;
}

/** The key, or undefined when it cannot be had (reported). */
export function resolveApiKey(options: SectionOptions, ctx: KeyContext): string | undefined {
  const issues = options.issues;
  // The three sources are one setting: a section naming any of them replaces
  // whatever [DEFAULT] names, so a shared key can be overridden per section.
  const level = [options.section.options, options.defaults].find((m) => KEY_SOURCES.some((k) => m.has(k)));
  if (!level) {
    issues.error(options.section.name, 'api_key', undefined,
      'no API key: set one of api_key, api_key_env (an environment variable holding the key) or api_key_file (a file holding it), here or in [DEFAULT]');
    return undefined;
  }
  const from = level === options.section.options ? options.section.name : DEFAULT_SECTION;
  const set = KEY_SOURCES.filter((k) => level.has(k));
  const source = set[0];
  if (source === undefined) return undefined;
  if (set.length > 1) {
    issues.error(from, source, undefined, `set exactly one of ${KEY_SOURCES.join(', ')}; [${from}] sets ${set.join(' and ')}`);
    return undefined;
  }
  const raw = level.get(source) ?? '';
  const read = readKey(source, raw, from, ctx, issues);
  if (read === undefined) return undefined;
  return checkKey(read.key, read.origin, source === 'api_key' ? maskKey(raw) : raw, from, source, issues);
}

/** The key as its source holds it, and where it came from for messages. */
function readKey(
  source: KeySource,
  raw: string,
  from: string,
  ctx: KeyContext,
  issues: SectionIssues,
): { key: string; origin: string } | undefined {
  if (source === 'api_key') return { key: raw, origin: 'api_key' };
  if (source === 'api_key_env') {
    const parsed = OPTIONS.api_key_env.parse(raw);
    if (!parsed.ok) {
      // A key pasted here by mistake must not be echoed.
      issues.error(from, source, maskKey(raw), parsed.message);
      return undefined;
    }
    const fromEnv = ctx.env[parsed.value];
    if (fromEnv === undefined || fromEnv.trim() === '') {
      issues.error(from, source, raw, `environment variable ${raw} is not set or is empty; export it for the collector, or use api_key_file`);
      return undefined;
    }
    return { key: fromEnv.trim(), origin: `environment variable ${raw}` };
  }
  const parsed = OPTIONS.api_key_file.parse(raw);
  if (!parsed.ok) {
    issues.error(from, source, raw, parsed.message);
    return undefined;
  }
  const file = resolve(ctx.dir, parsed.value);
  let content: string;
  try {
    content = fs.readFileSync(file, 'utf8');
  } catch (err) {
    issues.error(from, source, raw, `${describeFsError(file, err)}; api_key_file must name a readable file holding only the key`);
    return undefined;
  }
  warnIfShared(file, from, source, issues);
  return { key: content.replace(/^\uFEFF/, '').trim(), origin: file };
}

/** `key` when it can be one; `shown` is the configured value as messages may show it. */
function checkKey(key: string, origin: string, shown: string, from: string, source: KeySource, issues: SectionIssues): string | undefined {
  if (key === '') {
    issues.error(from, source, shown, `${origin} is empty; it must hold the API key`);
    return undefined;
  }
  if (PLACEHOLDER_KEYS.includes(key)) {
    issues.error(from, source, shown, `${origin} holds the example placeholder ${key}; put the API key from the Uzman Posta panel there`);
    return undefined;
  }
  if (/[\s\u0000-\u001f\u007f]/.test(key)) {
    issues.error(from, source, shown, `${origin} holds whitespace or control characters inside the key; an API key is one word`);
    return undefined;
  }
  // It travels in an HTTP header, which carries visible ASCII only: a key
  // with other characters would fail every request of the run instead.
  if (/[^\x21-\x7e]/.test(key)) {
    issues.error(from, source, shown, `${origin} holds characters outside visible ASCII (often a stray quote or letter from copying); an API key is ASCII only`);
    return undefined;
  }
  return key;
}

function warnIfShared(file: string, from: string, option: string, issues: SectionIssues): void {
  if (process.platform === 'win32') return;
  const st = fs.statSync(file);
  const mode = st.mode & 0o777;
  // A file someone else owns that we read through its group and nobody else
  // can (a Kubernetes Secret mounted with fsGroup, mode 0440): the group read
  // is our own access, not a leak.
  const readThroughOwnGroup = st.uid !== process.getuid?.() && st.gid === process.getgid?.() && (mode & 0o004) === 0;
  if (mode & 0o044 && !readThroughOwnGroup) {
    issues.warning(from, option, file, `the key file is readable by group or others (mode ${octal(mode)}); run chmod 600 ${file}`);
  }
}
