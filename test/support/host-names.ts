// Running the CLI as if on another host: its own UTS namespace with its own
// host name (`unshare --uts`, root only), or else the test-only
// UZP_TEST_HOSTNAME that the section lock reads instead of os.hostname().

import { spawnSync, spawn, type ChildProcess } from 'node:child_process';
import { BIN } from './harness.js';

let unshareWorks: boolean | undefined;

/** Whether this process may give a child a host name of its own. */
export function canUnshareUts(): boolean {
  unshareWorks ??= spawnSync('unshare', ['--uts', 'sh', '-c', 'hostname uzp-probe && test "$(hostname)" = uzp-probe'], { stdio: 'ignore' }).status === 0;
  return unshareWorks;
}

/** bin/uzmanposta with `args`, running under host name `host`. */
export function spawnCliOnHost(host: string, args: string[], opts: { cwd: string; env?: Record<string, string> }): ChildProcess {
  const env = { ...process.env, ...opts.env };
  if (canUnshareUts()) {
    const script = 'hostname "$1" && shift && exec "$@"';
    return spawn('unshare', ['--uts', 'sh', '-c', script, 'sh', host, process.execPath, BIN, ...args], { cwd: opts.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  }
  return spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd, env: { ...env, UZP_TEST_HOSTNAME: host }, stdio: ['ignore', 'pipe', 'pipe'] });
}
