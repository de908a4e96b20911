// The latency benchmark's control, run as a child process like the collector:
// GET the given paths, `concurrency` at a time, with plain undici and nothing
// else, and print how long that took. `node control-client.js SPEC.json`.

import { readFileSync } from 'node:fs';
import { Pool } from 'undici';

export interface ControlSpec {
  origin: string;
  key: string;
  /** Requested round-robin until `requests` are done. */
  paths: string[];
  requests: number;
  concurrency: number;
}

async function control(spec: ControlSpec): Promise<void> {
  const pool = new Pool(spec.origin, { connections: spec.concurrency });
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: spec.concurrency }, async () => {
      for (let i = next++; i < spec.requests; i = next++) {
        const res = await pool.request({ path: spec.paths[i % spec.paths.length] ?? '/', method: 'GET', headers: { authorization: `Bearer ${spec.key}` } });
        JSON.parse(await res.body.text());
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await pool.close();
  process.stdout.write(`${JSON.stringify({ seconds })}\n`);
}

const file = process.argv[2];
if (!file) throw new Error('usage: control-client.js SPEC.json');
await control(JSON.parse(readFileSync(file, 'utf8')) as ControlSpec);
