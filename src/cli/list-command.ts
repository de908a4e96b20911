// `uzmanposta --list`: the sections of the config and where each stands.
// Exit 1 when a position file cannot be read or lies after now − end_delay,
// as a run would stop that section.

import { EXIT, type CliArgs, type CliIo } from './cli-contract.js';
import { redact } from '../common/mask.js';
import { readPosition } from '../storage/position-store.js';
import { UzpError } from '../common/errors.js';
import { positionAhead } from '../engine/worker/segment-plan.js';
import { loadFromCli } from './section-selection.js';
import { formatTable } from './text-table.js';
import { ownsSection } from './shard-assignment.js';

/** Where one section stands, as --list shows it and --list --json gives it. */
interface SectionStanding {
  section: string;
  category: string;
  type: string;
  domain: string;
  /** The saved position (Unix seconds), or null before the first run. */
  position: number | null;
  /** Where the next run starts: the position, else start_time. */
  startsAt: number;
  behindSeconds: number;
  /** Why a run would stop this section: an unreadable position, or one after now − end_delay. */
  problem?: { code: string; message: string };
}

export async function listCommand(args: CliArgs, io: CliIo): Promise<number> {
  const cfg = loadFromCli(args.config, io.env);
  const keys = cfg.sections.map((s) => s.apiKey);
  const now = Math.floor(Date.now() / 1000);
  const shard = args.shard;
  const listed = shard === undefined ? cfg.sections : cfg.sections.filter((s) => ownsSection(shard, s));
  const standings = listed.map((s): SectionStanding => {
    const base = { section: s.section, category: s.category, type: s.type, domain: s.domain };
    try {
      const p = readPosition(s.positionFile, s.section);
      const ahead = p === undefined ? undefined : positionAhead(s, s.positionFile, p, now);
      if (ahead) throw ahead;
      const startsAt = p ?? s.startTime;
      return { ...base, position: p ?? null, startsAt, behindSeconds: now - startsAt };
    } catch (err) {
      const problem = { code: err instanceof UzpError ? err.code : 'UZP_STATE_CORRUPT', message: (err as Error).message };
      return { ...base, position: null, startsAt: s.startTime, behindSeconds: now - s.startTime, problem };
    }
  });
  const problems = standings.flatMap((st) => (st.problem === undefined ? [] : [st.problem.message]));
  let text: string;
  if (args.json) {
    const shardJson = shard === undefined ? {} : { shard: { ...shard, sectionsInConfig: cfg.sections.length } };
    text = `${JSON.stringify({ config: cfg.path, ...shardJson, sections: standings, otherSections: cfg.otherSections }, null, 2)}\n`;
  } else {
    const rows = standings.map((st) => [st.section, st.category, st.type, st.domain || '-', positionText(st)]);
    text = shard === undefined
      ? `Sections in ${cfg.path}:\n`
      : `Sections of shard ${shard.index}/${shard.count} (by ${shard.by}) in ${cfg.path}: ${listed.length} of ${cfg.sections.length}\n`;
    text += formatTable(['section', 'category', 'type', 'domain', 'position'], rows);
    if (cfg.otherSections.length) text += `Not collected (not [MailLogger:*]): ${cfg.otherSections.join(', ')}\n`;
  }
  // Nothing here should hold a key, but this output lands in tickets and chats.
  io.stdout.write(redact(text, keys));
  for (const message of problems) io.stderr.write(redact(`uzmanposta: ${message}\n`, keys));
  return problems.length === 0 ? EXIT.ok : EXIT.failed;
}

function positionText(st: SectionStanding): string {
  if (st.problem !== undefined) return st.problem.code === 'UZP_POSITION_AHEAD' ? 'AHEAD OF NOW − end_delay (see stderr)' : 'UNREADABLE (see stderr)';
  if (st.position === null) return `none: starts at ${st.startsAt} (${iso(st.startsAt)})`;
  return `${st.position} (${iso(st.position)}, ${st.behindSeconds} s behind)`;
}

function iso(seconds: number): string {
  return new Date(seconds * 1000).toISOString();
}
