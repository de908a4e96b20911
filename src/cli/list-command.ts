// `uzmanposta --list`: the sections of the config and where each stands.
// Exit 1 when a position file cannot be read or lies after now − end_delay,
// as a run would stop that section.

import { EXIT, type CliArgs, type CliIo } from './cli-contract.js';
import { redact } from '../common/mask.js';
import { readPosition } from '../storage/position-store.js';
import { PositionAheadError } from '../common/errors.js';
import { positionAhead } from '../engine/worker/segment-plan.js';
import { loadFromCli } from './section-selection.js';
import { formatTable } from './text-table.js';

export async function listCommand(args: CliArgs, io: CliIo): Promise<number> {
  const cfg = loadFromCli(args.config, io.env);
  const keys = cfg.sections.map((s) => s.apiKey);
  const now = Math.floor(Date.now() / 1000);
  const unreadable: string[] = [];
  const rows = cfg.sections.map((s) => {
    let position: string;
    try {
      const p = readPosition(s.positionFile, s.section);
      const ahead = p === undefined ? undefined : positionAhead(s, s.positionFile, p, now);
      if (ahead) throw ahead;
      position = p === undefined ? `none: starts at ${s.startTime} (${iso(s.startTime)})` : `${p} (${iso(p)}, ${now - p} s behind)`;
    } catch (err) {
      position = err instanceof PositionAheadError ? `AHEAD OF NOW − end_delay (see stderr)` : 'UNREADABLE (see stderr)';
      unreadable.push((err as Error).message);
    }
    return [s.section, s.category, s.type, s.domain || '-', position];
  });
  let text = `Sections in ${cfg.path}:\n`;
  text += formatTable(['section', 'category', 'type', 'domain', 'position'], rows);
  if (cfg.otherSections.length) text += `Not collected (not [MailLogger:*]): ${cfg.otherSections.join(', ')}\n`;
  // Nothing here should hold a key, but this output lands in tickets and chats.
  io.stdout.write(redact(text, keys));
  for (const message of unreadable) io.stderr.write(redact(`uzmanposta: ${message}\n`, keys));
  return unreadable.length === 0 ? EXIT.ok : EXIT.failed;
}

function iso(seconds: number): string {
  return new Date(seconds * 1000).toISOString();
}
