// An INI for sections read from the mock API, for tests and benchmarks that
// run the real collector (CLI child process or an in-process Coordinator)
// against it.

import { join } from 'node:path';
import type { MockApi, MockStreamSpec } from '../../src/mock-api/index.js';
import { writeIni, type IniSections, type IniValue } from './write-ini.js';

export interface IniSection {
  name: string;
  stream: MockStreamSpec;
  /** Extra options of this section only. */
  options?: Record<string, IniValue>;
}

/** Writes DIR/uzmanposta.ini (mode 0600) and returns its path. */
export function writeSectionsIni(dir: string, mock: MockApi, sections: IniSection[], defaults: Record<string, IniValue> = {}): string {
  const ini: IniSections = { DEFAULT: { log_directory: './output', list_sleep_time: 0.05, detail_sleep_time: 0.05, ...defaults } };
  for (const s of sections) {
    ini[`MailLogger:${s.name}`] = {
      api_key: s.stream.key,
      domain: s.stream.domain,
      category: s.stream.category,
      type: s.stream.type,
      url: mock.urls[s.stream.category],
      ...s.options,
    };
  }
  return writeIni(join(dir, 'uzmanposta.ini'), ini);
}
