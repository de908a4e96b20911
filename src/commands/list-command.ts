// `uzmanposta --list`: the sections of the config and where each stands.

import type { CliArgs, CliIo } from '../cli.js';
import { EXIT } from '../cli.js';
import { readPosition } from '../position-store.js';
import { loadFromCli } from '../section-selection.js';
import { formatTable } from '../text-table.js';

export async function listCommand(args: CliArgs, io: CliIo): Promise<number> {
  const cfg = loadFromCli(args.config, io.env);
  const now = Math.floor(Date.now() / 1000);
  const rows = cfg.sections.map((s) => {
    let position: string;
    try {
      const p = readPosition(s.positionFile, s.section);
      position = p === undefined ? `none (starts at ${s.startTime})` : `${p} (${new Date(p * 1000).toISOString()}, ${now - p} s behind)`;
    } catch (err) {
      position = `unreadable: ${(err as Error).message}`;
    }
    return [s.section, s.category, s.type, s.domain || '-', position];
  });
  io.stdout.write(`Sections in ${cfg.path}:\n`);
  io.stdout.write(formatTable(['section', 'category', 'type', 'domain', 'position'], rows));
  if (cfg.otherSections.length) io.stdout.write(`Not collected (not [MailLogger:*]): ${cfg.otherSections.join(', ')}\n`);
  return EXIT.ok;
}
