// Shape checks for the JSON records the storage layer reads back from disk
// (the commit journal, an older release's pending record): what a parsed
// value must be before a field of it is trusted.

import path from 'node:path';
import { isPlainObject } from '../common/plain-object.js';

/** A non-negative safe integer (seconds or bytes). */
export function isWholeNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/**
 * The fields a commit journal and an older release's pending record share:
 * the section, the window's positions, when it was written, and each data
 * file with its size before the window. A description of the first problem,
 * or undefined.
 */
export function commitRecordProblem(v: Record<string, unknown>, appendBytes: 'required' | 'optional'): string | undefined {
  if (typeof v.section !== 'string') return 'field "section" missing or not a string';
  if (v.fromPosition !== null && !isWholeNumber(v.fromPosition)) return 'field "fromPosition" missing or not a whole number or null';
  if (!isWholeNumber(v.toPosition)) return 'field "toPosition" missing or not a whole number';
  if (typeof v.createdAt !== 'string') return 'field "createdAt" missing or not a string';
  if (!Array.isArray(v.files)) return 'field "files" missing or not an array';
  for (const [i, f] of v.files.entries()) {
    if (!isPlainObject(f)) return `files[${i}] is not an object`;
    if (typeof f.path !== 'string' || !path.isAbsolute(f.path)) return `files[${i}].path missing or not an absolute path`;
    if (!isWholeNumber(f.size)) return `files[${i}].size missing or not a whole number`;
    if (typeof f.existed !== 'boolean') return `files[${i}].existed missing or not true/false`;
    if (appendBytes === 'required' && !isWholeNumber(f.appendBytes)) return `files[${i}].appendBytes missing or not a whole number`;
    if (f.appendBytes !== undefined && !isWholeNumber(f.appendBytes)) return `files[${i}].appendBytes is not a whole number`;
  }
  return undefined;
}
