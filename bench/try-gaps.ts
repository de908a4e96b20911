import { startMockApi } from '../src/mock-api/index.js';
import { runCollector, scratch, writeConfig, type BenchSection } from './support.js';
const KEY = 'bench-latency-key-0123456789';
const end = Math.floor(Date.now() / 1000) - 3600;
const start = end - 3600;
const n = Number(process.argv[2] ?? 5);
const sections: BenchSection[] = Array.from({ length: n }, (_, i) => ({
  name: `lat-${i}`,
  stream: { key: KEY, domain: `d${i}.bench`, category: 'mail' as const, type: i % 2 ? 'outgoinglog' : 'incominglog', perMinute: 40 },
}));
const mock = await startMockApi({ seed: 11, from: start - 60, to: end + 60, streams: sections.map((s) => s.stream), faults: { latencyMs: 20 } });
const w = scratch('gaps');
const cfg = writeConfig(w.dir, mock, sections, { start_time: start });
const bin = process.env.UZP_BIN;
const run = await runCollector(['--config', cfg, '--all', '--parallel', '--start-time', String(start), '--end-time', String(end)], w.dir);
console.log(run.wallSeconds, run.code);
const log = mock.stats().log;
for (const dom of ['d0.bench']) {
  const e = log.filter((x) => x.domain === dom);
  const t0 = e[0]!.at;
  let gaps = 0; let big = 0; const hist = new Map<number, number>();
  for (let i = 1; i < e.length; i++) { const g = e[i]!.at - e[i - 1]!.at; const b = Math.min(50, Math.floor(g / 2) * 2); hist.set(b, (hist.get(b) ?? 0) + 1); if (g > 30) { big++; gaps += g; } }
  console.log(dom, e.length, 'span', e[e.length - 1]!.at - t0, 'big gaps', big, gaps);
  console.log([...hist].sort((a, b) => a[0] - b[0]).map(([k, v]) => `${k}:${v}`).join(' '));
  // show sequence around list requests
  const idx = e.findIndex((x, i) => i > 300 && x.kind === 'list');
  console.log(e.slice(idx - 5, idx + 8).map((x) => `${x.at - t0} ${x.kind} ${x.starttime ?? x.time}`).join('\n'));
}
await mock.close(); w.remove();
