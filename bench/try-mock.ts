import { startMockApi } from '../src/mock-api/index.js';
import { writeConfig, type BenchSection } from './support.js';
import { mkdirSync, rmSync } from 'node:fs';
const KEY = 'bench-latency-key-0123456789';
const dir = process.argv[2]!;
rmSync(dir, { recursive: true, force: true }); mkdirSync(dir, { recursive: true });
const end = Math.floor(Date.now() / 1000) - 3600;
const start = end - 3600;
const n = Number(process.argv[3] ?? 5);
const lat = Number(process.argv[4] ?? 20);
const sections: BenchSection[] = Array.from({ length: n }, (_, i) => ({
  name: `lat-${i}`,
  stream: { key: KEY, domain: `d${i}.bench`, category: 'mail' as const, type: i % 2 ? 'outgoinglog' : 'incominglog', perMinute: 40 },
}));
const mock = await startMockApi({ seed: 11, from: start - 60, to: end + 60, streams: sections.map((s) => s.stream), faults: { latencyMs: lat } });
writeConfig(dir, mock, sections, { start_time: start });
console.log(`--config ${dir}/uzmanposta.ini --all --parallel --start-time ${start} --end-time ${end}`);
process.on('SIGTERM', () => { console.log(JSON.stringify({ req: mock.stats().requests })); void mock.close(); });
