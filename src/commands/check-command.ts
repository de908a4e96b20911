// `uzmanposta --check [--online]`: validates the config and shows what each
// section resolves to; --online proves each key and domain with one small
// request. Exit 0 only if all is well.

import type { CliArgs, CliIo } from '../cli.js';
import { EXIT } from '../cli.js';
import { ApiClient } from '../api-client.js';
import { maskKey, redact } from '../mask.js';
import { readPosition } from '../position-store.js';
import type { SectionConfig } from '../section-config.js';
import { loadFromCli, selectSections } from '../section-selection.js';

export async function checkCommand(args: CliArgs, io: CliIo): Promise<number> {
  const cfg = loadFromCli(args.config, io.env);
  const keys = cfg.sections.map((s) => s.apiKey);
  const out = (text: string): void => {
    io.stdout.write(redact(text, keys) + '\n');
  };
  let ok = true;
  out(`Config ${cfg.path}: valid, ${cfg.sections.length} section(s)`);
  for (const w of cfg.warnings) out(`  warning: [${w.section}]${w.option ? ` ${w.option}` : ''}: ${w.message}`);
  const sections = selectSections(cfg, { section: args.section, all: true });
  const now = Math.floor(Date.now() / 1000);
  for (const s of sections) {
    out(`\n[${s.section}]`);
    out(`  api_key     ${maskKey(s.apiKey)}`);
    out(`  category    ${s.category}   type ${s.type}   domain ${s.domain || '(none)'}`);
    out(`  url         ${s.url}`);
    out(`  output      ${s.outputDirectory}`);
    out(`  position    ${s.positionFile}`);
    out(`  lock        ${s.lockFilePath}`);
    out(`  heartbeat   ${s.heartbeatFile}`);
    try {
      const p = readPosition(s.positionFile, s.section);
      const start = p ?? s.startTime;
      out(`  start       ${start} (${new Date(start * 1000).toISOString()}, ${now - start} s behind)${p === undefined ? ' from start_time' : ' from the position file'}`);
    } catch (err) {
      ok = false;
      out(`  start       ERROR: ${(err as Error).message}`);
    }
  }
  if (args.online) {
    out('\nOnline check (one request per key and domain):');
    const seen = new Set<string>();
    for (const s of sections) {
      const key = `${s.apiKey}\u0000${s.domain}\u0000${s.url}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const verdict = await probe(s, now);
      if (!verdict.ok) ok = false;
      out(`  [${s.section}] ${verdict.ok ? 'OK' : 'FAILED'}: ${verdict.text}`);
    }
  }
  return ok ? EXIT.ok : EXIT.failed;
}

async function probe(s: SectionConfig, now: number): Promise<{ ok: boolean; text: string }> {
  const client = new ApiClient({
    section: s.section,
    apiKey: s.apiKey,
    url: s.url,
    category: s.category,
    type: s.type,
    domain: s.domain,
    listTimeoutMs: Math.min(s.listTimeout, 30) * 1000,
    detailTimeoutMs: Math.min(s.detailTimeout, 30) * 1000,
    listRetries: 0,
    listSleepSeconds: 0,
    detailRetries: 0,
    detailSleepSeconds: 0,
    useSession: false,
    maxConnections: 1,
    caFile: s.caFile || undefined,
  });
  const started = Date.now();
  try {
    const records = await client.list(now - 120, now - 60);
    return { ok: true, text: `key and domain accepted (${records.length} records in the last minute, ${Date.now() - started} ms)` };
  } catch (err) {
    return { ok: false, text: (err as Error).message };
  } finally {
    await client.close().catch(() => client.destroy());
  }
}
