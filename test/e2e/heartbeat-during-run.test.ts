// Heartbeat files (issue 4): written atomically while a section runs and at
// its end, with status, last_heartbeat, pid and the metrics monitoring needs.

import { expect } from 'chai';
import { existsSync, readFileSync } from 'node:fs';
import { loadConfig } from '../../src/config/load-config.js';
import { Coordinator } from '../../src/engine/main/coordinator.js';
import type { Heartbeat } from '../../src/reporting/heartbeat.js';
import { startMockApi, type MockHold } from '../../src/mock-api/index.js';
import { emptyMetrics } from '../../src/engine/shared/section-metrics.js';
import { tempDir, until } from '../support/harness.js';
import { writeSectionsIni } from '../support/sections-ini.js';
import { onCleanup } from '../support/cleanup.js';
import { dayAnchor } from '../support/epochs.js';

const KEY = 'heartbeat-key-0123456789abcdef';


describe('heartbeat', () => {
  describe('during a run (Coordinator with worker threads, lists held by the mock)', function () {
    this.timeout(30_000);

    it('is written while the section runs, with metrics that move, and says completed at the end', async () => {
      const testStart = Date.now();
      const dir = tempDir();
      const split = 60;
      const end = dayAnchor() + 12 * 3600;
      const start = end - 10 * split;
      const stream = { key: KEY, domain: 'hb.test', category: 'mail' as const, type: 'incominglog', perMinute: 20 };
      const mock = await startMockApi({ seed: 2, from: start - 60, to: end + 60, streams: [stream] });
      onCleanup(() => mock.close());
      // The run stops at the list of window 3, then at that of window 7, for as long as the test reads.
      const listOf = (k: number): MockHold =>
        mock.hold((r) => r.kind === 'list' && Number(new URLSearchParams(r.rawUrl.split('?')[1]).get('starttime')) + 1 === start + k * split);
      const atThree = listOf(3);
      const atSeven = listOf(7);
      onCleanup(() => [atThree, atSeven].forEach((h) => h.release()));
      const [cfg] = loadConfig(writeSectionsIni(dir, mock, [{ name: 'hb', stream }], { split_interval: split })).sections;
      if (!cfg) throw new Error('no section');
      const coordinator = new Coordinator({ sections: [cfg], range: { from: start, to: end }, concurrency: 1, notify: () => undefined, heartbeatIntervalMs: 100 });
      const running = coordinator.run();

      // Every read must parse: the file is never seen half written.
      const seen: Heartbeat[] = [];
      const read = (): Heartbeat | undefined => {
        if (!existsSync(cfg.heartbeatFile)) return undefined;
        const hb = JSON.parse(readFileSync(cfg.heartbeatFile, 'utf8')) as Heartbeat;
        seen.push(hb);
        return hb;
      };
      await atThree.arrived;
      const heldFrom = performance.now();
      const first = await until(() => {
        const hb = read();
        return hb?.status === 'running' && (hb.metrics.position ?? 0) >= start + split ? hb : undefined;
      }, 'a running heartbeat with a window committed');
      const heldMs = performance.now() - heldFrom;
      atThree.release();
      await atSeven.arrived;
      const later = await until(() => {
        const hb = read();
        const moved = hb !== undefined && (hb.metrics.position ?? 0) > (first.metrics.position ?? 0);
        return hb?.status === 'running' && moved && hb.last_heartbeat > first.last_heartbeat ? hb : undefined;
      }, 'a later running heartbeat with a position further on');
      atSeven.release();
      const [result] = await running;

      for (const [hb, heldAt] of [[first, 3], [later, 7]] as const) {
        expect(hb.pid).to.equal(process.pid);
        expect(Date.parse(hb.last_heartbeat)).to.be.within(testStart, Date.now());
        // Every metric, as the unit test of the file lists them (test/unit/heartbeat.test.ts).
        expect(Object.keys(hb.metrics).sort()).to.deep.equal(Object.keys(emptyMetrics()).sort());
        const position = hb.metrics.position as number;
        // A window cannot be committed before its list is answered.
        expect(position, 'position').to.be.within(start + split, start + heldAt * split);
        // Records and position move together: exactly the records before the position.
        expect(hb.metrics.recordsWritten, 'records').to.equal(mock.count(stream, start, position));
        expect(hb.metrics.apiCalls).to.be.greaterThan(0);
        expect(hb.metrics.lagSeconds).to.be.at.least(Math.floor(testStart / 1000) - position);
      }
      expect(later.metrics.apiCalls).to.be.greaterThan(first.metrics.apiCalls);
      // The list held at window 3 took at least as long as the test held it.
      expect(later.metrics.apiTimeMaxMs).to.be.at.least(Math.floor(heldMs));
      expect(later.metrics.apiTimeMaxMs).to.be.at.least(later.metrics.apiTimeMinMs);

      const last = read();
      expect(result?.status).to.equal('completed');
      expect(last?.status).to.equal('completed');
      expect(last?.metrics.recordsWritten).to.equal(mock.count(stream, start, end));
      expect(last?.metrics.position).to.equal(end);
      expect(seen.filter((h) => h.status === 'running').length).to.be.at.least(2);
    });
  });
});
