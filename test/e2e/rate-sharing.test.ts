// Sections that share an API key share one rate budget, kept by the main
// thread for all worker threads (issue 4). Checked on the budget's own grants
// (the coordinator's onRateGrant) next to the mock's request log, both on the
// test process's monotonic clock: when one section is answered a 429 that
// says the key's quota is spent the other pauses too, an isolated 429 delays
// only its own request (issue 8), and `rate_limit` holds for the key as a
// whole in every second.

import { expect } from 'chai';
import { join } from 'node:path';
import { startMockApi, type FaultRequestInfo, type MockApi, type MockApiOptions } from '../../src/mock-api/index.js';
import { readStream, tempDir, until } from '../support/harness.js';
import { loadConfig } from '../../src/config/load-config.js';
import { Coordinator } from '../../src/engine/main/coordinator.js';
import type { SectionConfig } from '../../src/config/section-config.js';
import type { SectionResult } from '../../src/engine/shared/worker-protocol.js';
import { writeSectionsIni, type IniSection } from '../support/sections-ini.js';
import { dayAnchor } from '../support/epochs.js';
import { onCleanup } from '../support/cleanup.js';
import { LONG_RETRY_AFTER_SECONDS } from '../../src/engine/main/quota-estimator.js';

const KEY = 'shared-key-0123456789abcdef';

async function mock(opts: MockApiOptions): Promise<MockApi> {
  const api = await startMockApi(opts);
  onCleanup(() => api.close());
  return api;
}

function twoMailSections(perMinute: number): IniSection[] {
  return [
    { name: 'a', stream: { key: KEY, domain: 'a.test', category: 'mail', type: 'incominglog', perMinute } },
    { name: 'b', stream: { key: KEY, domain: 'b.test', category: 'mail', type: 'incominglog', perMinute } },
  ];
}

/** The section's data files hold exactly the mock's ground truth for [from, to). */
function expectAll(dir: string, api: MockApi, s: IniSection, from: number, to: number): void {
  const { domain, type } = s.stream;
  const written = readStream(join(dir, 'output', domain, 'mail', type ?? ''), `${domain}_${type ?? ''}_`);
  const truth = api.expected(s.stream, from, to);
  expect(truth.length, `${s.name}: the scenario has records`).to.be.greaterThan(0);
  expect(written, `${s.name}: every record once, in order`).to.deep.equal(truth);
}

/** Runs the sections together with real worker threads, logging each grant of the key's budget on the main thread's clock. */
function runWithGrantLog(sections: SectionConfig[], from: number, to: number): { running: Promise<SectionResult[]>; grants: { section: string; at: number; waited: boolean }[] } {
  const grants: { section: string; at: number; waited: boolean }[] = [];
  const coordinator = new Coordinator({
    sections,
    range: { from, to },
    concurrency: sections.length,
    notify: () => undefined,
    onRateGrant: (section, at, waited) => grants.push({ section, at, waited }),
  });
  return { running: coordinator.run(), grants };
}

/** Most entries arriving within any window [t, t + ms). */
function maxInWindow(log: readonly { at: number }[], ms: number): number {
  let max = 0;
  for (let lo = 0, hi = 0; hi < log.length; hi++) {
    while (log[hi]!.at - log[lo]!.at >= ms) lo++;
    max = Math.max(max, hi - lo + 1);
  }
  return max;
}

describe('rate budget shared by the sections of one key (real workers against the mock)', function () {
  this.timeout(60_000);
  // Noon: the same data at any hour of the run (support/epochs.ts).
  const end = dayAnchor() + 12 * 3600;

  /**
   * Runs two mail sections whose one trigger request (A's list of the window
   * 4 minutes in) is held until B is well under way, then answered 429 with
   * `retryAfter`, once.
   */
  async function oneRefusal(retryAfter: number): Promise<{ dir: string; api: MockApi; sections: IniSection[]; configs: SectionConfig[]; grants: { section: string; at: number; waited: boolean }[] }> {
    const dir = tempDir();
    const start = end - 8 * 60;
    const sections = twoMailSections(60);
    // A's list of the window starting 4 minutes in (lists ask from one second
    // earlier). Only its first attempt is refused.
    const isTrigger = (req: FaultRequestInfo): boolean =>
      req.kind === 'list' && req.rawUrl.includes('domain=a.test') && req.rawUrl.includes(`starttime=${start + 4 * 60 - 1}&`);
    let fired = false;
    const api = await mock({
      seed: 3,
      from: start - 60,
      to: end + 60,
      streams: sections.map((s) => s.stream),
      detailMissingRatio: 0,
      faults: {
        retryAfter,
        failPaths: (req) => {
          if (fired || !isTrigger(req)) return undefined;
          fired = true;
          return 429;
        },
      },
    });
    const configs = loadConfig(writeSectionsIni(dir, api, sections, { split_interval: 60 })).sections;
    // The trigger waits in the mock until B is well under way, then is answered 429.
    const hold = api.hold(isTrigger);
    const { running, grants } = runWithGrantLog(configs, start, end);
    await hold.arrived;
    const fromB = (): number => api.stats().log.filter((e) => e.domain === 'b.test').length;
    await until(() => (fromB() >= 20 ? true : undefined), 'section B under way');
    hold.release();
    const results = await running;
    expect(results.map((r) => r.status)).to.deep.equal(['completed', 'completed']);
    for (const s of sections) expectAll(dir, api, s, start, end);
    return { dir, api, sections, configs, grants };
  }

  it(`a 429 with a Retry-After of ${LONG_RETRY_AFTER_SECONDS} s (a window ending) answered to section A pauses section B's requests too, for the Retry-After`, async () => {
    const { api, configs, grants } = await oneRefusal(LONG_RETRY_AFTER_SECONDS);
    const [a, b] = configs.map((c) => c.section);
    const waitMs = LONG_RETRY_AFTER_SECONDS * 1000;

    const log = api.stats().log;
    const limited = log.filter((e) => e.status === 429);
    expect(limited, 'exactly one 429, to section A').to.have.length(1);
    expect(limited[0]?.domain).to.equal('a.test');
    // The mock's log and the grants share one clock (performance.now(), one process).
    const t = limited[0]!.at;
    // Before the 429 the key was free (workers ask for grants only until they
    // hear so, at their start). After it, requests of the key waited for
    // grants, and none was granted within the Retry-After: B was held back by
    // A's 429 as much as A.
    const after = grants.filter((g) => g.at >= t);
    expect(after.filter((g) => g.at < t + waitMs), 'grants within the Retry-After').to.deep.equal([]);
    expect(after.filter((g) => g.section === b).length, "B's requests after the 429 waited for grants").to.be.greaterThan(0);
    expect(after.filter((g) => g.section === a).length, "A's retry waited for a grant").to.be.greaterThan(0);
    // A asked for the refused window again after the Retry-After; both ended with every record (oneRefusal).
    const aRetry = log.find((e) => e.domain === 'a.test' && e.kind === 'list' && e.at > t && e.starttime === limited[0]!.starttime);
    expect(aRetry!.at - t).to.be.at.least(waitMs);
  });

  it("an isolated 429 (Retry-After: 1) answered to section A delays only A's request: the key stays free, B goes on", async () => {
    const { api, configs, grants } = await oneRefusal(1);
    const a = configs[0]!.section;
    const log = api.stats().log;
    const limited = log.filter((e) => e.status === 429);
    expect(limited, 'exactly one 429, to section A').to.have.length(1);
    const t = limited[0]!.at;
    // Free workers ask for no grants; a pause would have had every request of the key ask for one
    // and wait. Only A's worker, held by its 429 until the main thread judged it (rate-gate-port.ts,
    // issue 8c), may have asked meanwhile, and was granted as it asked.
    const after = grants.filter((g) => g.at >= t);
    expect(after.filter((g) => g.waited), 'no request of the key waited for the budget').to.deep.equal([]);
    expect(after.filter((g) => g.section !== a), 'B asked for no grant').to.deep.equal([]);
    const aRetry = log.find((e) => e.domain === 'a.test' && e.kind === 'list' && e.at > t && e.starttime === limited[0]!.starttime);
    expect(aRetry!.at - t, "A's request waited its own Retry-After").to.be.at.least(1000);
    expect(log.filter((e) => e.domain === 'b.test' && e.at > t).length, 'B had requests after the 429').to.be.greaterThan(0);
  });

  it('rate_limit is never exceeded by the sections of a key together, in any 1 s window', async () => {
    const dir = tempDir();
    const start = end - 3 * 60;
    const sections = twoMailSections(12);
    const api = await mock({ seed: 4, from: start - 60, to: end + 60, streams: sections.map((s) => s.stream) });
    // One window per section: no commit blocks a worker while it sends.
    const configs = loadConfig(writeSectionsIni(dir, api, sections, { rate_limit: 20, split_interval: 3600 })).sections;
    // Checked on the budget's own grants, in the main thread's clock: when a
    // granted request reaches the server depends on the machine's load, so
    // arrival times at the mock could bunch up by chance without any bug.
    const { running, grants } = runWithGrantLog(configs, start, end);
    const results = await running;
    expect(results.map((r) => r.status)).to.deep.equal(['completed', 'completed']);

    const log = api.stats().log;
    expect(log.length, 'enough requests to fill several seconds').to.be.greaterThan(60);
    expect(new Set(log.map((e) => e.domain))).to.deep.equal(new Set(['a.test', 'b.test']));
    // Every request the server saw went through the key's one budget, from both sections.
    expect(grants.length, 'one grant per request').to.equal(log.length);
    expect(new Set(grants.map((g) => g.section))).to.deep.equal(new Set(configs.map((c) => c.section)));
    // Exactly the ceiling, no tolerance: the budget spaces grants by (1 s + 25 ms) / rate_limit.
    expect(maxInWindow(grants, 1000)).to.be.at.most(20);
    // The ceiling was what paced the run, not something else: some second was full.
    expect(maxInWindow(grants, 1000)).to.be.at.least(17);
  });
});
