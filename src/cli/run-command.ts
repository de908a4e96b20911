// `uzmanposta [--all|--section] ...`: collect the selected sections.

import { EXIT, type CliArgs, type CliIo } from './cli-contract.js';
import { Coordinator } from '../engine/main/coordinator.js';
import { formatSummary, sectionLine, summaryJson } from '../reporting/run-summary.js';
import { loadFromCli, selectSections } from './section-selection.js';
import type { SectionResult } from '../engine/shared/worker-protocol.js';
import type { SectionConfig } from '../config/section-config.js';
import { redact } from '../common/mask.js';
import { ProgressDisplay } from '../reporting/progress-display.js';
import { writeMetricsFiles } from '../reporting/prometheus.js';
import { commonDirectory } from './common-directory.js';

export async function runCommand(args: CliArgs, io: CliIo): Promise<number> {
  const started = Date.now();
  const cfg = loadFromCli(args.config, io.env);
  const keys = cfg.sections.map((s) => s.apiKey);
  // cron mails whatever reaches stderr: only what needs a person goes there.
  // Notes (a section skipped because another run holds it, a config warning
  // repeated every few minutes) go to stdout, which cron setups usually
  // discard, and are in the message log and --check anyway. --quiet keeps
  // errors only.
  const say = (text: string, level: 'info' | 'warn' | 'error' = 'warn'): void => {
    if (args.quiet && level !== 'error') return;
    // With --json, stdout holds the one JSON document and nothing else.
    (level === 'info' && !args.json ? io.stdout : io.stderr).write(redact(text, keys) + '\n');
  };
  for (const w of cfg.warnings) say(`warning: [${w.section}]${w.option ? ` ${w.option}` : ''}: ${w.message}`, 'info');
  const sections = selectSections(cfg, args);
  if (args.shard !== undefined && sections.length === 0) {
    say(`shard ${args.shard.index}/${args.shard.count} owns none of the ${cfg.sections.length} sections of ${cfg.path}; nothing to do`, 'info');
  }

  const progress = ProgressDisplay.forStream(io.stderr, args.startTime !== undefined);
  const coordinator = new Coordinator({
    sections,
    range: { from: args.startTime, to: args.endTime },
    concurrency: args.parallel ? args.maxWorkers : 1,
    notify: (section, level, message) => {
      progress?.clear();
      say(`${level === 'info' ? '' : `${level}: `}[${section}] ${message}`, level);
    },
    onUpdate: (states) => progress?.render(states),
    // A long backfill keeps the metrics file current, so a lag can alert before the run ends.
    onHeartbeat: (states) => writeMetricsFiles(sections, states, (msg) => say(`warning: ${msg}`)),
  });

  let signalled: NodeJS.Signals | undefined;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (signalled) {
      // A second signal: leave at once. Safe by the commit rule: an
      // uncommitted window is completed from its journal (or fetched again) at the next start.
      say(`${sig} again: exiting now; the next run completes or fetches again the window in progress`);
      coordinator.abandon();
      process.exit(sig === 'SIGINT' ? EXIT.sigint : EXIT.sigterm);
    }
    signalled = sig;
    say(`${sig}: stopping; windows in progress are not written and are fetched again (send it again to exit at once)`);
    coordinator.stop();
  };
  // Whatever ends the process meanwhile (an exception nobody caught), no
  // heartbeat is left saying `running` for a process that is gone.
  const onExit = (): void => coordinator.abandon();
  if (io.handleSignals) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    process.on('exit', onExit);
  }
  try {
    const results = await coordinator.run().finally(() => progress?.clear());
    const seconds = (Date.now() - started) / 1000;
    if (args.json) io.stdout.write(redact(summaryJson(results, seconds, args), keys));
    else if (!args.quiet) io.stdout.write(redact(formatSummary(results, seconds, args), keys));
    writeMetricsFiles(sections, coordinator.sectionStates, (msg) => say(`warning: ${msg}`));
    await logSummaries(results, sections, say);
    if (!args.quiet && !args.json) printWhereFilesAre(sections, io);
    if (signalled) return signalled === 'SIGINT' ? EXIT.sigint : EXIT.sigterm;
    return results.some((r) => r.status === 'failed') ? EXIT.failed : EXIT.ok;
  } finally {
    // Kept until the summary is out: a signal meanwhile still ends with 130/143.
    if (io.handleSignals) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      process.off('exit', onExit);
    }
  }
}

/**
 * The `summary:` line in each section's message log, for the sections whose
 * worker did not write it (it never started, or its thread died). Only then
 * does the main thread load the logger (docs/decisions.md, "A bundled build").
 */
async function logSummaries(results: SectionResult[], sections: SectionConfig[], warn: (text: string) => void): Promise<void> {
  const left = results.filter((r) => r.status !== 'skipped' && !r.summaryLogged);
  if (left.length === 0) return;
  const { openSectionLog } = await import('../storage/section-log.js');
  for (const r of left) {
    const cfg = sections.find((s) => s.section === r.section);
    if (!cfg) continue;
    try {
      const log = openSectionLog(cfg, { applyRetention: false });
      log.info(`summary: ${sectionLine(r)}`);
      await log.close();
    } catch (err) {
      // A section that failed because its directory is unusable has said so
      // already; for any other the missing summary line is worth a warning.
      if (r.status !== 'failed') warn(`warning: [${cfg.section}] could not write the summary to its message log: ${(err as Error).message}`);
    }
  }
}

function printWhereFilesAre(sections: SectionConfig[], io: CliIo): void {
  const dirs = [...new Set(sections.map((s) => s.outputDirectory))];
  io.stdout.write(`Output: ${dirs.length === 1 ? dirs[0] : `${dirs.length} directories under ${commonDirectory(dirs)}`}\n`);
}
