// Heartbeat files (issue 4): written atomically while a section runs and at
// its end, with status, last_heartbeat, pid and the metrics monitoring needs.

import { expect } from 'chai';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ApiAuthError } from '../../src/common/errors.js';
import { buildHeartbeat, writeHeartbeat, type Heartbeat } from '../../src/reporting/heartbeat.js';
import type { SectionConfig } from '../../src/config/section-config.js';
import { emptyMetrics, type SectionMetrics } from '../../src/engine/shared/section-metrics.js';
import { tempDir } from '../support/harness.js';

const KEY = 'heartbeat-key-0123456789abcdef';

const METRIC_FIELDS: (keyof SectionMetrics)[] = [
  'recordsWritten',
  'apiCalls',
  'apiErrors',
  'http429',
  'retries',
  'apiTimeAvgMs',
  'apiTimeMinMs',
  'apiTimeMaxMs',
  'apiTimeP95Ms',
  'recordsPerSecond',
  'position',
  'lagSeconds',
];

function sectionConfig(dir: string): SectionConfig {
  return {
    section: 'MailLogger:hb',
    heartbeatFile: join(dir, 'out', 'hb_heartbeat.json'),
    apiKey: KEY,
    domain: 'hb.test',
    category: 'mail',
    type: 'incominglog',
  } as SectionConfig;
}

describe('heartbeat', () => {
  describe('the file', () => {
    it('carries status, last_heartbeat, pid, the masked key and every metric, with the lag taken when written', () => {
      const cfg = sectionConfig(tempDir());
      const now = new Date('2025-01-01T00:10:00Z');
      const metrics: SectionMetrics = { ...emptyMetrics(), recordsWritten: 12, apiCalls: 30, position: now.getTime() / 1000 - 3600, lagSeconds: 5 };
      const hb = buildHeartbeat(cfg, 'running', metrics, undefined, now);
      expect(hb).to.include({ section: 'MailLogger:hb', status: 'running', last_heartbeat: '2025-01-01T00:10:00.000Z', pid: process.pid });
      expect(hb.api_key).to.not.include(KEY);
      for (const f of METRIC_FIELDS) expect(hb.metrics, f).to.have.property(f);
      // The worker's lag was measured when it posted its figures; the file says how far behind it is now.
      expect(hb.metrics.lagSeconds).to.equal(3600);
      expect(hb.error).to.equal(undefined);
    });

    it('an error status names the error code', () => {
      const cfg = sectionConfig(tempDir());
      const err = new ApiAuthError('section MailLogger:hb: the API refused the key with HTTP 401', { section: 'MailLogger:hb', status: 401 });
      expect(buildHeartbeat(cfg, 'failed', emptyMetrics(), err).error).to.deep.equal({ code: 'UZP_API_AUTH', message: err.message });
    });

    it('is replaced whole (no temporary file left beside it), mode 0640', () => {
      const cfg = sectionConfig(tempDir());
      for (let i = 0; i < 20; i++) writeHeartbeat(cfg, 'running', { ...emptyMetrics(), apiCalls: i });
      const hb = JSON.parse(readFileSync(cfg.heartbeatFile, 'utf8')) as Heartbeat;
      expect(hb.metrics.apiCalls).to.equal(19);
      expect(readdirSync(dirname(cfg.heartbeatFile))).to.deep.equal(['hb_heartbeat.json']);
      expect(statSync(cfg.heartbeatFile).mode & 0o777 & ~0o640, "no more than rw-r-----").to.equal(0);
    });
  });

});
