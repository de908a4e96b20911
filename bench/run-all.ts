// `npm run bench [-- latency rate throttle scale]`: the issue-4 and issue-8 benchmarks, each
// against the mock API with the collector as a child process. Prints the
// figures as it goes and a Markdown summary at the end (bench/RESULTS.md
// holds a copy with the machine it ran on). Figures, not pass/fail: the
// targets are printed beside them.

import { latencyBound, LATENCY_DEFAULTS, type LatencyBoundResult } from './latency-bound.js';
import { rateLimitBound, type RateLimitResult, type RateScenario } from './rate-limit-bound.js';
import { bigBackfill, manySections, type BackfillResult, type ManySectionsResult } from './scale.js';
import { throttleBound, type ThrottleOptions, type ThrottleResult } from './throttle-bound.js';
import { machine, round } from './support.js';
import { manySectionTick, sevenSectionTick, type TickFigures } from './cron-tick.js';

const GROUPS = ['latency', 'rate', 'throttle', 'scale', 'tick'] as const;
type Group = (typeof GROUPS)[number];

const RATE = 50;
const RATE_SCENARIOS: { scenario: RateScenario; minutes: number }[] = [
  { scenario: 'quota-429', minutes: 15 },
  { scenario: 'quota-headers', minutes: 15 },
  { scenario: 'rate_limit', minutes: 8 },
];

function say(text: string): void {
  process.stdout.write(`${text}\n`);
}

function pct(x: number): string {
  return `${round(x * 100, 1)} %`;
}

async function main(): Promise<number> {
  const asked = process.argv.slice(2);
  for (const a of asked) if (!GROUPS.includes(a as Group)) throw new Error(`unknown benchmark '${a}'; choose from ${GROUPS.join(', ')}`);
  const run = (g: Group): boolean => asked.length === 0 || asked.includes(g);
  const m = machine();
  const started = performance.now();
  say(`uzmanposta benchmarks on ${m.cpus} CPUs (${m.cpuModel}), ${m.memoryGiB} GiB, Node ${m.node}, ${m.platform}`);
  const lines: string[] = [];

  if (run('latency')) {
    // L = 20 ms as the issue suggests, and 50 ms: what the engine and the mock cost per request
    // is about fixed, so the share of the bound it takes shrinks as L grows.
    for (const o of [LATENCY_DEFAULTS, { ...LATENCY_DEFAULTS, latencyMs: 50, hours: 0.3 }]) {
      say(`\n(a) latency bound: ${o.sections} mail sections, ${o.latencyMs} ms per answer, default concurrency ...`);
      const r: LatencyBoundResult = await latencyBound(o);
      say(`    ${r.requests} requests, ${r.records} records in ${r.wallSeconds} s (collector process, start to exit)`);
      say(`    bound ${r.boundSeconds} s = max(requests × L / ${r.concurrency} = ${r.sharedBoundSeconds} s, busiest section × L / 2 = ${r.sectionBoundSeconds} s): ${pct(r.ofBound)} of it (target ≥ 90 %)`);
      say(`    control (plain undici, same mock, concurrency ${r.concurrency}): ${r.controlRequestMs} ms a request; practical bound ${r.practicalBoundSeconds} s: ${pct(r.ofPracticalBound)} of it`);
      say(`    ${r.recordsPerSecond} records/s, ${r.cpuSecondsPer10k} CPU s per 10,000 records, peak RSS ${r.peakRssMiB} MiB`);
      lines.push(
        `| (a) latency bound, ${r.options.sections} mail sections, L = ${r.options.latencyMs} ms | wall ${r.wallSeconds} s vs bound ${r.boundSeconds} s = **${pct(r.ofBound)}** (control: ${r.controlRequestMs} ms a request, practical bound ${r.practicalBoundSeconds} s: ${pct(r.ofPracticalBound)}); ${r.requests} requests, ${r.recordsPerSecond} records/s, ${r.cpuSecondsPer10k} CPU s / 10k records, peak RSS ${r.peakRssMiB} MiB | ≥ 90 % of bound |`,
      );
    }
  }

  if (run('rate')) {
    for (const { scenario, minutes } of RATE_SCENARIOS) {
      say(`\n(b) rate-limit bound, ${scenario}: 4 mail sections on one key, ${scenario === 'rate_limit' ? 'rate_limit' : 'quota'} ${RATE} req/s ...`);
      const r: RateLimitResult = await rateLimitBound({ scenario, rate: RATE, sections: 4, latencyMs: 5, minutes });
      say(`    ${r.requests} requests in ${r.wallSeconds} s: ${r.achievedPerSecond} admitted req/s = ${pct(r.ofRate)} of ${RATE}; ${r.rateLimited} answers 429 (${pct(r.share429)}); most in any 1 s: ${r.maxInAnySecond}`);
      const target = scenario === 'rate_limit' ? `never above ${RATE} in any 1 s` : '≥ 90 % of R, < 2 % 429';
      lines.push(
        `| (b) ${scenario}, 4 sections, ${RATE} req/s | **${pct(r.ofRate)}** of ${RATE} req/s (${r.achievedPerSecond}), 429s ${r.rateLimited} of ${r.requests} = **${pct(r.share429)}**, most in any 1 s ${r.maxInAnySecond}, peak RSS ${r.peakRssMiB} MiB | ${target} |`,
      );
    }
  }

  if (run('throttle')) {
    // (d1) Laravel fixed window, 300 per 60 s, shared by 4 sections: about 2.5 windows of work.
    {
      const o: ThrottleOptions = { random429: 0, quota: 0, fixedWindow: { requests: 300, seconds: 60 }, sections: 4, latencyMs: 5, minutes: 4 };
      say('\n(d1) fixed window 300 per 60 s per key, 4 mail sections ...');
      const r = await throttleBound(o);
      const windows = (r.windows ?? []).map((w) => `${w.admitted}+${w.rejected}×429`).join(', ');
      say(`    ${r.requests} requests in ${r.wallSeconds} s; windows (admitted + refused): ${windows}`);
      say(`    ${pct(r.ofWindowQuota ?? 0)} of each full window's quota used (target ≥ 90 %); 429s ${r.rateLimited} = ${pct(r.share429)} (target < 3 %); sent while paused before the reset: ${r.sentWhilePaused} (target 0)`);
      lines.push(
        `| (d1) fixed window 300/60 s, 4 sections | **${pct(r.ofWindowQuota ?? 0)}** of the window quota (windows ${windows}), 429s ${r.rateLimited} of ${r.requests} = **${pct(r.share429)}**, sent while paused ${r.sentWhilePaused}, wall ${r.wallSeconds} s | ≥ 90 %, < 3 % 429, 0 while paused |`,
      );
    }
    // (d2) random 429s and no quota; (d3) on top of a token bucket. Each beside the same run without them.
    const groups: { name: string; base: ThrottleOptions; shares: number[]; targets: Record<number, string> }[] = [
      { name: '(d2) random 429s, no quota', base: { random429: 0, quota: 0, sections: 4, latencyMs: 20, minutes: 10 }, shares: [0.02, 0.05], targets: { 0.02: '≤ 2 ×', 0.05: '≤ 3 ×' } },
      { name: `(d3) random 429s on a ${RATE} req/s token bucket`, base: { random429: 0, quota: RATE, sections: 4, latencyMs: 5, minutes: 8 }, shares: [0.02], targets: { 0.02: '–' } },
    ];
    for (const g of groups) {
      const runs: ThrottleResult[] = [];
      for (const p of [0, ...g.shares]) {
        say(`\n${g.name}: ${pct(p)} random 429s, 4 mail sections, L = ${g.base.latencyMs} ms ...`);
        const r = await throttleBound({ ...g.base, random429: p });
        runs.push(r);
        const slow = r.wallSeconds / (runs[0]?.wallSeconds ?? r.wallSeconds);
        const ofQuota = g.base.quota > 0 ? `, ${pct(r.achievedPerSecond / g.base.quota)} of ${g.base.quota}` : '';
        say(`    ${r.requests} requests in ${r.wallSeconds} s (${round(slow, 2)} × the run without random 429s): ${r.achievedPerSecond} admitted req/s${ofQuota}; 429s ${r.rateLimited} = ${pct(r.share429)} (${r.random429s} random)`);
        lines.push(
          `| ${g.name}, ${pct(p)} | wall ${r.wallSeconds} s = **${round(slow, 2)} ×** the run without them; ${r.achievedPerSecond} admitted req/s${ofQuota}; 429s ${r.rateLimited} of ${r.requests} = ${pct(r.share429)} (${r.random429s} random) | ${p === 0 ? '(baseline)' : (g.targets[p] ?? '–')} |`,
        );
      }
    }
  }

  if (run('scale')) {
    say('\n(c) scale: 200 sections in one run (authentication and quarantine, an hour each, no latency) ...');
    const many: ManySectionsResult = await manySections(200, 5);
    say(`    ${many.records} records, ${many.requests} requests in ${many.wallSeconds} s, ${many.cpuSeconds} CPU s, peak RSS ${many.peakRssMiB} MiB`);
    lines.push(`| (c) 200 sections, --max-workers 5 | ${many.wallSeconds} s, ${many.records} records, ${many.requests} requests, peak RSS ${many.peakRssMiB} MiB | – |`);
    const runs: BackfillResult[] = [];
    for (const [target, split] of [
      [100_000, 30],
      [1_000_000, 30],
      [1_000_000, 300],
    ] as const) {
      say(`\n(c) scale: one authentication section, backfill of ${target.toLocaleString('en')} records, split_interval ${split} ...`);
      const r = await bigBackfill(target, split);
      runs.push(r);
      say(`    ${r.records} records, ${r.requests} requests in ${r.wallSeconds} s (${r.recordsPerSecond} records/s), ${r.cpuSecondsPer10k} CPU s per 10,000, peak RSS ${r.peakRssMiB} MiB (target < 200 MiB for the million)`);
      lines.push(
        `| (c) backfill ${r.records.toLocaleString('en')} records, split_interval ${r.splitInterval} | ${r.wallSeconds} s, ${r.recordsPerSecond} records/s, ${r.requests} requests, peak RSS **${r.peakRssMiB} MiB** | ${r.targetRecords >= 1_000_000 ? '< 200 MiB' : '(for comparison)'} |`,
      );
    }
  }

  if (run('tick')) {
    const targets: Record<string, string> = {
      '7 sections, nothing new (median of 5)': '≤ 0.4 CPU s, ≤ 100 MB',
      'stack floor, 7 sections (median of 5)': '(for comparison: bench/stack-floor/)',
      '7 sections, new data': '≤ half of before, ≤ 120 MB',
      '200 sections, --max-workers 5': '≤ 150 MB',
      '1000 sections, --max-workers 32': 'finishes, ≤ 200 MB',
    };
    const report = (f: TickFigures): void => {
      say(`    ${f.label}: ${f.cpuSeconds} CPU s, peak RSS ${f.peakRssMiB} MiB, wall ${f.wallSeconds} s (${f.records} records, ${f.requests} requests)`);
      lines.push(`| (d) cron tick, ${f.label} | **${f.cpuSeconds} CPU s**, peak RSS **${f.peakRssMiB} MiB**, wall ${f.wallSeconds} s; ${f.records} records, ${f.requests} requests | ${targets[f.label] ?? '–'} |`);
    };
    say('\n(d) cron tick: 7 sections (4 mail, quarantine, hold, authentication), with new data, then nothing new ...');
    for (const f of await sevenSectionTick()) report(f);
    say('\n(d) cron tick: 200 sections (authentication and quarantine, little data) ...');
    report(await manySectionTick(200, 5));
    say('\n(d) cron tick: 1000 sections (authentication and quarantine, little data), --max-workers 32 ...');
    report(await manySectionTick(1000, 32));
  }

  say(`\nDone in ${round((performance.now() - started) / 1000, 0)} s.\n`);
  say('| benchmark | result | target |');
  say('|---|---|---|');
  for (const l of lines) say(l);
  return 0;
}

process.exitCode = await main();
