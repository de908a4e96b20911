// An INI for sections read from the mock API, for tests that run the real
// collector (CLI child process or an in-process Coordinator) against it.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MockApi, MockStreamSpec } from '../../src/mock-api/index.js';

export interface IniSection {
  name: string;
  stream: MockStreamSpec;
  /** Extra options of this section only. */
  options?: Record<string, string | number>;
}

/** Writes DIR/uzmanposta.ini (mode 0600) and returns its path. */
export function writeSectionsIni(dir: string, mock: MockApi, sections: IniSection[], defaults: Record<string, string | number> = {}): string {
  const lines = ['[DEFAULT]', 'log_directory = ./output', 'list_sleep_time = 0.05', 'detail_sleep_time = 0.05'];
  for (const [k, v] of Object.entries(defaults)) lines.push(`${k} = ${v}`);
  lines.push('');
  for (const s of sections) {
    lines.push(`[MailLogger:${s.name}]`, `api_key = ${s.stream.key}`, `domain = ${s.stream.domain}`, `category = ${s.stream.category}`);
    if (s.stream.type !== undefined) lines.push(`type = ${s.stream.type}`);
    lines.push(`url = ${mock.urls[s.stream.category]}`);
    for (const [k, v] of Object.entries(s.options ?? {})) lines.push(`${k} = ${v}`);
    lines.push('');
  }
  const path = join(dir, 'uzmanposta.ini');
  writeFileSync(path, lines.join('\n'), { mode: 0o600 });
  return path;
}
