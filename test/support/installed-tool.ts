// Tests that run a real operator tool (promtool, systemd-analyze) on our
// examples, where the tool is installed. Where it is not, the test is skipped
// with the reason in its title, never passed silently.

import { spawnSync, type SpawnSyncReturns } from 'node:child_process';

/** The tool's path on PATH, or undefined. */
export function installedTool(name: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  const path = r.stdout.trim();
  return r.status === 0 && path !== '' ? path : undefined;
}

/** Skips the running mocha test, naming the missing tool, when `name` is not installed. */
export function requireTool(ctx: Mocha.Context, name: string, why: string): string {
  const path = installedTool(name);
  if (!path) {
    ctx.test!.title += ` (skipped: ${name} is not installed; ${why})`;
    ctx.skip();
  }
  return path!;
}

export function run(tool: string, args: string[], input?: string): SpawnSyncReturns<string> {
  return spawnSync(tool, args, { encoding: 'utf8', ...(input === undefined ? {} : { input }) });
}
