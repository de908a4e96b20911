// Benchmark plumbing: the machine, the collector as a child process (so its
// memory and CPU are measured apart from the mock, which runs in the bench
// process). Config files for the mock's sections come from the tests' one INI
// writer, test/support/sections-ini.ts.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import type { MockStreamSpec } from '../src/mock-api/index.js';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BIN = join(REPO_ROOT, 'bin', 'uzmanposta');
const GNU_TIME = '/usr/bin/time';

export interface Machine {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  platform: string;
}

export function machine(): Machine {
  const cpus = os.cpus();
  return {
    cpus: os.availableParallelism(),
    cpuModel: cpus[0]?.model ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
  };
}

export interface ChildRun {
  code: number | null;
  wallSeconds: number;
  /** Peak resident set size of the collector process, MiB. */
  peakRssMiB: number;
  cpuUserSeconds: number;
  cpuSystemSeconds: number;
  /** How the figures were taken. */
  measuredWith: 'gnu-time' | 'proc';
  stdout: string;
  stderr: string;
}

/** Runs bin/uzmanposta with `args` and measures it (see runNodeScript). */
export async function runCollector(args: string[], cwd: string): Promise<ChildRun> {
  return runNodeScript(BIN, args, cwd);
}

/**
 * Runs `node script args` and measures it: through GNU time -v when
 * installed (exact peak RSS and CPU of the child), else by polling
 * /proc/PID/status (VmHWM) and /proc/PID/stat (CPU ticks) until it exits.
 */
export async function runNodeScript(script: string, args: string[], cwd: string): Promise<ChildRun> {
  const useTime = existsSync(GNU_TIME);
  const argv = useTime ? ['-v', process.execPath, script, ...args] : [script, ...args];
  const started = performance.now();
  const child = spawn(useTime ? GNU_TIME : process.execPath, argv, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  let hwmKiB = 0;
  let ticks = { user: 0, system: 0 };
  const poll = useTime
    ? undefined
    : setInterval(() => {
        const pid = child.pid;
        if (pid === undefined) return;
        try {
          const m = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
          if (m) hwmKiB = Math.max(hwmKiB, Number(m[1]));
          // Fields 14 and 15 of /proc/PID/stat (after the parenthesised name) are utime and stime.
          const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
          const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
          ticks = { user: Number(fields[11]), system: Number(fields[12]) };
        } catch {
          // Exited between two polls: the last figures stand.
        }
      }, 50);
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  if (poll) clearInterval(poll);
  const wallSeconds = (performance.now() - started) / 1000;
  if (useTime) {
    const num = (re: RegExp): number => Number(re.exec(stderr)?.[1] ?? NaN);
    return {
      code,
      wallSeconds,
      peakRssMiB: num(/Maximum resident set size \(kbytes\): (\d+)/) / 1024,
      cpuUserSeconds: num(/User time \(seconds\): ([\d.]+)/),
      cpuSystemSeconds: num(/System time \(seconds\): ([\d.]+)/),
      measuredWith: 'gnu-time',
      stdout,
      stderr,
    };
  }
  const hz = 100; // USER_HZ on Linux
  return { code, wallSeconds, peakRssMiB: hwmKiB / 1024, cpuUserSeconds: ticks.user / hz, cpuSystemSeconds: ticks.system / hz, measuredWith: 'proc', stdout, stderr };
}

export interface BenchSection {
  name: string;
  stream: MockStreamSpec;
}

/** Names and domains of a bench's sections: `<name>-<i>` on `<domain><i>.<tld>`. */
export interface SectionNaming {
  name: string;
  domain: string;
  tld?: string;
}

/** `count` mail sections on `key`, incoming and outgoing in turn. */
export function mailSections(count: number, key: string, n: SectionNaming, perMinute = 40): BenchSection[] {
  return Array.from({ length: count }, (_, i) => ({
    name: `${n.name}-${i}`,
    stream: { key, domain: `${n.domain}${i}.${n.tld ?? 'bench'}`, category: 'mail' as const, type: i % 2 ? 'outgoinglog' : 'incominglog', perMinute },
  }));
}

/** `count` small sections on `key`, authentication and quarantine in turn, with that many records a minute each. */
export function smallSections(count: number, key: string, n: SectionNaming, perMinute: { authentication: number; quarantine: number }): BenchSection[] {
  return Array.from({ length: count }, (_, i) => {
    const domain = `${n.domain}${i}.${n.tld ?? 'bench'}`;
    const stream: MockStreamSpec =
      i % 2 === 0
        ? { key, domain, category: 'authentication', perMinute: perMinute.authentication }
        : { key, domain, category: 'quarantine', type: 'quarantine', perMinute: perMinute.quarantine };
    return { name: `${n.name}-${i}`, stream };
  });
}

/** A scratch directory for one benchmark, removed by the returned function. */
export function scratch(name: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(os.tmpdir(), `uzp-bench-${name}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Throws with the child's output when it did not exit 0: a failed run has no meaningful figures. */
export function expectSuccess(run: ChildRun, what: string): void {
  if (run.code !== 0) {
    throw new Error(`${what}: exited ${String(run.code)}\n--- stdout\n${run.stdout.slice(-4000)}\n--- stderr\n${run.stderr.slice(-4000)}`);
  }
}

/** The collector's own summary line ("Total: ..."), for the report. */
export function totalLine(run: ChildRun): string {
  return /^Total: .*$/m.exec(run.stdout)?.[0] ?? '(no summary)';
}

export function round(n: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

// A fixed range: the mock's volumes follow a daily wave, so a range relative to now would
// make every run's workload different. Mail records have no retention limit to respect.
export const FIXED_END = 1_735_732_800; // 2025-01-01T12:00:00Z
