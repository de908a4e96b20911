// The worker half of bench/stack-floor/floor-main.ts: per section, a lock, one
// request on its own keep-alive pool, a position written atomically, a log line.

import path from 'node:path';
import lockfile from 'lockfile';
import { Pool } from 'undici';
import winston from 'winston';
import writeFileAtomic from 'write-file-atomic';

interface FloorSection {
  name: string;
  url: string;
  key: string;
  dir: string;
}

async function one(s: FloorSection): Promise<void> {
  const base = path.join(s.dir, `floor-${s.name.replace(/\W/g, '_')}`);
  lockfile.lockSync(`${base}.lock`);
  const log = winston.createLogger({ transports: [new winston.transports.File({ filename: `${base}.log` })] });
  const origin = new URL(s.url);
  const pool = new Pool(origin.origin, { connections: 2 });
  try {
    const res = await pool.request({ path: origin.pathname, method: 'GET', headers: { authorization: `Bearer ${s.key}` } });
    await res.body.text();
    await writeFileAtomic(`${base}.pos`, `${Math.floor(Date.now() / 1000)}\n`, { fsync: true });
    log.info(`summary: ${res.statusCode}`);
  } finally {
    await pool.close();
    await new Promise<void>((resolve) => {
      log.on('finish', () => resolve());
      log.end();
    });
    lockfile.unlockSync(`${base}.lock`);
  }
}

export default async function floor(sections: FloorSection[]): Promise<number> {
  await Promise.all(sections.map(one));
  return sections.length;
}
