// The position file: one Unix time in seconds, as plain text, so the Python
// tool's files (`1734876000`, often with a trailing newline) read unchanged and
// ours read back in it. A file that cannot be understood stops the section:
// silently restarting from start_time would duplicate or skip records.

import fs from 'node:fs';
import { StateCorruptError, WriteError } from '../common/errors.js';
import { errnoCode, writeFileAtomicAsync, writeFileAtomicDurable } from './durable-fs.js';

const POSITION_TEXT = /^[0-9]+$/;

/** The saved position, or undefined when the file does not exist. */
export function readPosition(path: string, section: string): number | undefined {
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw new StateCorruptError(
      `position file ${path} of section ${section} cannot be read (${errnoCode(err) ?? String(err)}). ` +
        `Fix its permissions or type (it must be a readable file holding a Unix time); ${HOW_TO_FIX}`,
      { section, path, errno: errnoCode(err) },
    );
  }
  const trimmed = text.trim();
  const value = Number(trimmed);
  if (!POSITION_TEXT.test(trimmed) || !Number.isSafeInteger(value)) {
    throw new StateCorruptError(
      `position file ${path} of section ${section} is corrupt: expected a Unix time in whole seconds, found ${describe(text)}. ` +
        `Inspect it; ${HOW_TO_FIX}`,
      { section, path, found: text.slice(0, 64) },
    );
  }
  return value;
}

/** Saves the position atomically and durably; creates the directory (0750). */
export function writePosition(path: string, position: number, section: string): void {
  if (!Number.isSafeInteger(position) || position < 0) {
    throw new RangeError(`position must be a non-negative whole number of seconds, got ${position} (section ${section})`);
  }
  try {
    writeFileAtomicDurable(path, `${position}\n`);
  } catch (err) {
    throw new WriteError(
      `cannot save position ${position} of section ${section} to ${path} (${errnoCode(err) ?? String(err)}); the position did not advance`,
      { section, path, errno: errnoCode(err) },
      { cause: err },
    );
  }
}

/**
 * The commit path's position write (src/storage/window-commit.ts): atomic,
 * asynchronous, and durable only when asked. A window committed under a
 * journal needs no fsync here: until the journal is removed it, not this
 * file, is what a restart trusts (docs/architecture.md, "Commit protocol").
 */
export async function writePositionAsync(path: string, position: number, section: string, durable: boolean): Promise<void> {
  if (!Number.isSafeInteger(position) || position < 0) {
    throw new RangeError(`position must be a non-negative whole number of seconds, got ${position} (section ${section})`);
  }
  try {
    await writeFileAtomicAsync(path, `${position}\n`, { durable });
  } catch (err) {
    throw new WriteError(
      `cannot save position ${position} of section ${section} to ${path} (${errnoCode(err) ?? String(err)}); the position did not advance`,
      { section, path, errno: errnoCode(err) },
      { cause: err },
    );
  }
}

const HOW_TO_FIX =
  'to resume from a known time write that Unix time (e.g. 1734876000) into it; ' +
  'to start again from start_time delete it (records already written after that time will then be written again).';

function describe(text: string): string {
  if (text.length === 0) return 'an empty file';
  const shown = text.length > 40 ? `${text.slice(0, 40)}…` : text;
  return JSON.stringify(shown);
}
