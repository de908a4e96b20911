// The floor of the stack a cron tick is built on (bench/cron-tick.ts): what a
// process costs that does only what the brief fixes, with none of the
// collector's own work. Same shape as a tick: Node started as bin/uzmanposta
// starts it, yargs parses the same command line, ini reads the same config,
// Piscina starts one worker thread (same resource limits) that loads undici,
// winston, lockfile and write-file-atomic and, for each section, takes a lock,
// asks the mock one question on a keep-alive pool, writes a position and a
// log line. Bundled like the collector (esbuild.config.mjs).
//
// Run: node floor-main.js --config <ini> --all --parallel --max-workers 5

import { mkdirSync, readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import ini from 'ini';
import { Piscina } from 'piscina';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';

setFlagsFromString('--liftoff-only');

const argv = await yargs(hideBin(process.argv))
  .option('config', { type: 'string', demandOption: true })
  .option('all', { type: 'boolean' })
  .option('parallel', { type: 'boolean' })
  .option('max-workers', { type: 'number' })
  .strict()
  .parseAsync();
const config = ini.parse(readFileSync(argv.config, 'utf8')) as Record<string, Record<string, string>>;
const sections = Object.entries(config)
  .filter(([, s]) => typeof s === 'object' && s.api_key !== undefined)
  .map(([name, s]) => ({ name, url: s.url ?? '', key: s.api_key ?? '', dir: 'floor-state' }));
mkdirSync('floor-state', { recursive: true });
const pool = new Piscina({
  filename: new URL('./floor-worker.js', import.meta.url).href,
  minThreads: 1,
  maxThreads: 1,
  resourceLimits: { maxOldGenerationSizeMb: 128, maxYoungGenerationSizeMb: 4 },
});
const done = (await pool.run(sections)) as number;
await pool.destroy();
console.log(`floor: ${done} sections`);
