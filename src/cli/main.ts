// Command-line entry: parses argv with yargs and hands over to a command
// module. `main` never calls process.exit; it resolves to the exit code, so
// tests call it directly and bin/uzmanposta stays a few lines.
//
// Exit codes: 0 all sections completed (or skipped: another run holds the
// lock), 1 a section failed, 2 usage or config error, 130/143 stopped by
// SIGINT/SIGTERM.

import yargs from 'yargs';
import { ConfigError, UsageError, UzpError } from '../common/errors.js';
import { parseTimeValue } from '../config/time-value.js';
import { EXIT, type CliArgs, type CliIo } from './cli-contract.js';
import { packageVersion } from '../common/package-version.js';
import { readableStack } from '../common/readable-stack.js';
import { shardFromArgs } from './shard-assignment.js';


export async function main(argv: string[], io: Partial<CliIo> = {}): Promise<number> {
  const full: CliIo = {
    stdout: io.stdout ?? process.stdout,
    stderr: io.stderr ?? process.stderr,
    env: io.env ?? process.env,
    handleSignals: io.handleSignals ?? false,
  };
  full.stdout.on('error', (err: NodeJS.ErrnoException) => onStdoutError(err, full));
  let args: CliArgs | undefined;
  try {
    const parsed = await parseArgs(argv, full);
    if (typeof parsed === 'number') return parsed;
    args = parsed;
    // Each command loads only its own modules: a cron run never pays for
    // --check's HTTP client on the main thread (docs/decisions.md, "A cheap start").
    if (args.list) return await (await import('./list-command.js')).listCommand(args, full);
    if (args.check) return await (await import('./check-command.js')).checkCommand(args, full);
    return await (await import('./run-command.js')).runCommand(args, full);
  } catch (err) {
    return reportFatal(err, full);
  }
}

/**
 * A closed standard output (`uzmanposta … | head -1`) must not change the
 * outcome: the sections ran and committed, and the exit code says so. Only
 * the lines nobody reads any more are lost. Other write errors are shown on
 * stderr, still without turning a completed run into a crash.
 */
function onStdoutError(err: NodeJS.ErrnoException, io: CliIo): void {
  if (err.code === 'EPIPE') return;
  io.stderr.write(`uzmanposta: cannot write to standard output (${err.code ?? err.message}); the run's outcome is in the exit code and the logs\n`);
}

function reportFatal(err: unknown, io: CliIo): number {
  if (err instanceof ConfigError) {
    io.stderr.write(`uzmanposta: ${err.message}\n`);
    return EXIT.usage;
  }
  if (err instanceof UsageError) {
    io.stderr.write(`uzmanposta: ${err.message}\nRun 'uzmanposta --help' for the options.\n`);
    return EXIT.usage;
  }
  if (err instanceof UzpError) {
    io.stderr.write(`uzmanposta: ${err.code}: ${err.message}\n`);
    return EXIT.failed;
  }
  io.stderr.write(`uzmanposta: unexpected error: ${err instanceof Error ? readableStack(err.stack) ?? err.message : String(err)}\n`);
  return EXIT.failed;
}

/** The parsed arguments, or an exit code when yargs already answered (--help, --version, bad usage). */
async function parseArgs(argv: string[], io: CliIo): Promise<CliArgs | number> {
  const parser = yargs(argv)
    .scriptName('uzmanposta')
    .usage(
      '$0 [--config PATH] [--section NAME | --all] [--parallel] [--max-workers N]\n' +
        '   [--start-time T] [--end-time T] [--shard I/N] [--quiet] [--json] [--list] [--check [--online]]\n\n' +
        'Collects Uzman Posta mail, quarantine and authentication logs into hourly JSON-lines files.',
    )
    .option('config', { alias: 'c', type: 'string', default: 'uzmanposta.ini', describe: 'INI configuration file' })
    .option('section', { alias: 's', type: 'string', describe: 'run only this section (MailLogger:NAME or NAME)' })
    // No default: yargs counts a default as given, so conflicts('section', 'all') would refuse every --section.
    .option('all', { type: 'boolean', describe: 'run every [MailLogger:*] section' })
    .option('parallel', { type: 'boolean', default: false, describe: 'run sections concurrently, on worker threads' })
    .option('max-workers', { type: 'number', default: 5, describe: 'sections at once with --parallel' })
    .option('list', { type: 'boolean', default: false, describe: 'list the sections and their positions, then exit' })
    .option('check', { type: 'boolean', default: false, describe: "validate the config and print each section's resolved settings" })
    .option('online', { type: 'boolean', default: false, describe: 'with --check: one small request per key to prove key and domain' })
    .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'a run prints errors only (for cron mail)' })
    .option('json', { type: 'boolean', default: false, describe: 'with --list, --check or a run: one JSON document on stdout' })
    .option('shard', { type: 'string', describe: 'run only shard I of N (0-based, e.g. 0/3); also UZP_SHARD, or JOB_COMPLETION_INDEX with --shard-count' })
    .option('shard-count', { type: 'number', describe: 'how many shards, when the index comes from JOB_COMPLETION_INDEX or UZP_SHARD_INDEX' })
    .option('shard-by', { type: 'string', choices: ['key', 'section'], describe: "what a shard owns: every section of an API key (default), or single sections (splits a key's rate budget)" })
    .option('start-time', { type: 'string', describe: 'backfill from this time (Unix seconds or ISO 8601)' })
    .option('end-time', { type: 'string', describe: 'backfill up to this time (Unix seconds or ISO 8601; default now − end_delay)' })
    .conflicts('section', 'all')
    .conflicts('section', 'shard')
    .strict()
    .version(packageVersion())
    .help()
    .alias('help', 'h')
    .alias('version', 'V')
    .wrap(Math.min(100, process.stdout.columns ?? 100))
    .exitProcess(false)
    .epilog('Exit codes: 0 done (or skipped: locked by another run), 1 a section failed, 2 usage or config error, 130/143 stopped by a signal.');

  let output = '';
  let failure: string | undefined;
  parser.fail((msg, err) => {
    failure = msg || err?.message || 'invalid arguments';
  });
  const parsed = await parser.parseAsync(argv, {}, (_err, _argv, out) => {
    output = out;
  });
  if (failure !== undefined) throw new UsageError(failure);
  if (output) {
    // --help or --version answered; nothing else runs.
    io.stdout.write(output.endsWith('\n') ? output : output + '\n');
    return EXIT.ok;
  }
  if (parsed.help || parsed.version) return EXIT.ok;

  const maxWorkers = parsed['max-workers'];
  if (!Number.isInteger(maxWorkers) || maxWorkers < 1 || maxWorkers > 256) {
    throw new UsageError(`--max-workers must be a whole number from 1 to 256, got '${String(maxWorkers)}'`);
  }
  const startTime = timeArg('--start-time', parsed['start-time']);
  const endTime = timeArg('--end-time', parsed['end-time']);
  if (endTime !== undefined && startTime === undefined) throw new UsageError('--end-time needs --start-time: a backfill is a range');
  if (startTime !== undefined && endTime !== undefined && endTime <= startTime) {
    throw new UsageError(`--end-time (${endTime}) must be after --start-time (${startTime})`);
  }
  if (parsed.online && !parsed.check) throw new UsageError('--online goes with --check');
  // Both have defaults, which yargs' conflicts() counts as given: checked here.
  if (parsed.list && parsed.check) throw new UsageError('--list and --check cannot be combined: --check already shows where each section stands');
  // --section names one section outright; a shard index from the environment
  // (a pod of an Indexed Job) does not narrow it further.
  const shard = parsed.section === undefined
    ? shardFromArgs({ shard: parsed.shard, shardCount: parsed['shard-count'], shardBy: parsed['shard-by'] }, io.env)
    : undefined;
  return {
    config: parsed.config,
    section: parsed.section,
    all: parsed.all === true,
    parallel: parsed.parallel,
    maxWorkers,
    list: parsed.list,
    check: parsed.check,
    online: parsed.online,
    quiet: parsed.quiet,
    json: parsed.json,
    startTime,
    endTime,
    shard,
  };
}

function timeArg(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const t = parseTimeValue(value);
  if ('error' in t) throw new UsageError(`${flag} ${t.error}; got '${value}'`);
  return t.value;
}
