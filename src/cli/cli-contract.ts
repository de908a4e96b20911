// What the CLI entry (main.ts) and the command modules agree on: the parsed
// arguments, the process's streams and environment, and the exit codes. Its
// own module so that main.ts imports the commands and the commands import
// only this, never main.ts.
//
// Exit codes: 0 all sections completed (or skipped: another run holds the
// lock), 1 a section failed, 2 usage or config error, 130/143 stopped by
// SIGINT/SIGTERM.

import type { ShardSpec } from './shard-assignment.js';

export interface CliIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream;
  env: Record<string, string | undefined>;
  /** Installs SIGINT/SIGTERM handlers for graceful stop; off in tests that call main directly. */
  handleSignals: boolean;
}

export interface CliArgs {
  config: string;
  section?: string;
  all: boolean;
  parallel: boolean;
  maxWorkers: number;
  list: boolean;
  check: boolean;
  online: boolean;
  /** Errors only: no notes, warnings or summary (a run's outcome is in the exit code, the logs and the heartbeats). */
  quiet: boolean;
  /** --list, --check and the run summary as one JSON document on stdout, for scripts. */
  json: boolean;
  startTime?: number;
  endTime?: number;
  /** This copy's shard when a scheduler runs several (--shard, or the environment); undefined: every section. */
  shard?: ShardSpec;
}

export const EXIT = { ok: 0, failed: 1, usage: 2, sigint: 130, sigterm: 143 } as const;
