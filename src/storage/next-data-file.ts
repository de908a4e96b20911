// create_next_data_file: after a run, the data file of the period after the
// current one is created, empty, unless it exists. An agent that works out
// the file name itself when a period starts (Wazuh's logcollector expands a
// strftime <location> when the day changes) then finds the file there and
// reads it from its first line; without it, the agent finds the file only
// after the first run of the period wrote it, opens it at its end and never
// reads that run's lines (examples/wazuh/ossec-localfile.xml).

import { dataFileName } from '../config/file-names.js';
import type { SectionConfig } from '../config/section-config.js';
import fs from 'node:fs';
import { isErrno, writeAtDurable } from './durable-fs.js';

/**
 * When the data file name next changes after `nowMs`: the first of the next
 * local minute, hour, day, month and year whose name differs (strftime works
 * in local time). Undefined for a format without date or time fields.
 */
export function nextPeriodStart(cfg: SectionConfig, nowMs: number): Date | undefined {
  const current = dataFileName(cfg, new Date(nowMs));
  const t = new Date(nowMs);
  const candidates = [
    new Date(t.getFullYear(), t.getMonth(), t.getDate(), t.getHours(), t.getMinutes() + 1),
    new Date(t.getFullYear(), t.getMonth(), t.getDate(), t.getHours() + 1),
    new Date(t.getFullYear(), t.getMonth(), t.getDate() + 1),
    new Date(t.getFullYear(), t.getMonth() + 1, 1),
    new Date(t.getFullYear() + 1, 0, 1),
  ];
  return candidates.find((c) => dataFileName(cfg, c) !== current);
}

/**
 * Creates the next period's data file, empty, if it does not exist yet; its
 * path when this call created it. Asynchronous, like the commit path: the
 * worker thread it runs on serves other sections' sockets meanwhile. The
 * usual case, a file that is already there, costs one stat and no fsync.
 */
export async function createNextDataFile(cfg: SectionConfig, nowMs: number): Promise<string | undefined> {
  if (!cfg.createNextDataFile || cfg.fileTime !== 'write') return undefined;
  const next = nextPeriodStart(cfg, nowMs);
  if (next === undefined) return undefined;
  const file = dataFileName(cfg, next);
  try {
    await fs.promises.stat(file);
    return undefined;
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) throw err;
  }
  // Exclusive create: a run that made it meanwhile leaves it as it is.
  return (await writeAtDurable(file, 0, new Uint8Array(0))).created ? file : undefined;
}
