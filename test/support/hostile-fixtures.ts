// Plumbing for the hostile-input tests: a mock API per test, a config written
// next to it, and readers for what a run leaves behind (data, error log,
// heartbeat, position). Everything is per test; nothing is shared.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { startMockApi, type MockApi, type MockApiOptions, type MockCategory, type MockRecord, type MockStreamSpec, type StreamSelector } from '../../src/mock-api/index.js';
import { readStream } from './harness.js';
import { writeIni, type IniSections } from './write-ini.js';

export const KEY = 'hostile-key-0123456789abcdef';
export const DOMAIN = 'a.test';

/** Options every hostile test wants: small retry sleeps, so a retried run stays fast. */
/** The authentication stream most hostile scenarios run against. */
export const AUTH: MockStreamSpec = { key: KEY, domain: DOMAIN, category: 'authentication', perMinute: 30 };

export const FAST_RETRIES: Record<string, string> = {
  list_sleep_time: '0.01',
  detail_sleep_time: '0.01',
  list_retries: '10',
  detail_retries: '10',
  end_delay: '0',
};

/** A mock started for the current test and closed after it. */
export async function mockForTest(options: MockApiOptions, register: (close: () => Promise<void>) => void): Promise<MockApi> {
  const mock = await startMockApi(options);
  register(() => mock.close());
  return mock;
}

export interface SectionSpec {
  /** The part after `MailLogger:`. */
  name: string;
  category: MockCategory;
  type?: string;
  domain?: string;
  url: string;
  startTime: number;
  apiKey?: string;
  /** Further options, written as given (they win over FAST_RETRIES). */
  options?: Record<string, string>;
}

/** Writes `uzmanposta.ini` (mode 600, so no permission warning) into `dir`; returns its path. */
export function writeConfig(dir: string, sections: SectionSpec[], defaults: Record<string, string> = {}): string {
  const merged = { log_directory: './out', ...FAST_RETRIES, ...defaults };
  const ini: IniSections = { DEFAULT: merged };
  for (const s of sections) {
    ini[`MailLogger:${s.name}`] = {
      api_key: s.apiKey ?? KEY,
      category: s.category,
      url: s.url,
      start_time: s.startTime,
      domain: s.domain ?? DOMAIN,
      type: s.type,
      ...s.options,
    };
  }
  return writeIni(join(dir, 'uzmanposta.ini'), ini);
}

/** Where a section's files go under log_directory `out` (the Python tool's layout). */
export function outputDir(dir: string, category: MockCategory, type?: string, domain = DOMAIN): string {
  const typeLevel = !(category === 'authentication' || (category === 'quarantine' && (type ?? 'quarantine') === 'quarantine'));
  return join(dir, 'out', domain || 'global', category, ...(typeLevel && type ? [type] : []));
}

export function dataPrefix(category: MockCategory, type?: string, domain = DOMAIN): string {
  const t = category === 'authentication' ? 'auth' : (type ?? (category === 'quarantine' ? 'quarantine' : 'outgoinglog'));
  return `${domain || 'global'}_${t}_`;
}

export function positionPath(dir: string, name: string): string {
  return join(dir, 'positions', `${name}.pos`);
}

export function readPositionFile(dir: string, name: string): number | undefined {
  const p = positionPath(dir, name);
  if (!existsSync(p)) return undefined;
  return Number(readFileSync(p, 'utf8').trim());
}

/** Every JSON line of every error log file in `outDir`. */
export function errorLog(outDir: string): Record<string, unknown>[] {
  if (!existsSync(outDir)) return [];
  const out: Record<string, unknown>[] = [];
  for (const f of readdirSync(outDir).filter((n) => n.startsWith('errors_')).sort()) {
    for (const line of readFileSync(join(outDir, f), 'utf8').split('\n')) if (line) out.push(JSON.parse(line) as Record<string, unknown>);
  }
  return out;
}

/** The text of a section's message logs (messages_*), oldest first. */
export function messageLog(outDir: string): string {
  if (!existsSync(outDir)) return '';
  return readdirSync(outDir)
    .filter((n) => n.startsWith('messages_'))
    .sort()
    .map((f) => readFileSync(join(outDir, f), 'utf8'))
    .join('');
}

export interface HeartbeatFile {
  status: string;
  metrics: Record<string, number | null>;
  error?: { code: string; message: string };
}

export function heartbeat(outDir: string, name: string): HeartbeatFile {
  return JSON.parse(readFileSync(join(outDir, `${name}_heartbeat.json`), 'utf8')) as HeartbeatFile;
}

/** A stream's written records, read back in file order. */
export function written(dir: string, category: MockCategory, type?: string, domain = DOMAIN): MockRecord[] {
  return readStream(outputDir(dir, category, type, domain), dataPrefix(category, type, domain)) as MockRecord[];
}

export function selector(category: MockCategory, type?: string, domain = DOMAIN): StreamSelector {
  return type === undefined ? { category, domain } : { category, type, domain };
}

/** The list requests the mock saw, as [starttime, endtime]. */
export function listRequests(mock: MockApi): { starttime: number; endtime: number; status: number | 'drop' }[] {
  return mock
    .stats()
    .log.filter((e) => e.kind === 'list' && e.starttime !== undefined && e.endtime !== undefined)
    .map((e) => ({ starttime: e.starttime as number, endtime: e.endtime as number, status: e.status }));
}

/** Unix seconds now, whole. */
export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}
