// The optional metrics_file (issue 4): Prometheus text exposition format,
// written atomically, so a lagging or failing section can raise an alert.
// Asserted through a strict parser of the format, never by comparing strings.

import { expect } from 'chai';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SectionState } from '../../src/engine/main/coordinator.js';
import { renderPrometheus, writeMetricsFiles } from '../../src/reporting/prometheus.js';
import type { SectionConfig } from '../../src/config/section-config.js';
import { emptyMetrics } from '../../src/engine/shared/section-metrics.js';
import { REPO_ROOT, tempDir } from '../support/harness.js';
import { parsePrometheusText, PromParseError, sampleValue } from '../support/prometheus-text.js';

function state(section: string, status: SectionState['status'], metrics: Partial<SectionState['metrics']>, metricsFile = ''): SectionState {
  const config = { section, domain: 'example.com', category: 'mail', type: 'incominglog', metricsFile } as SectionConfig;
  return { config, status, metrics: { ...emptyMetrics(), ...metrics } };
}

describe('Prometheus metrics_file', () => {
  describe('the test parser itself', () => {
    it('reads HELP, TYPE, labels with escapes, special values and timestamps', () => {
      const fams = parsePrometheusText(
        [
          '# A comment',
          '# HELP up Whether it is \\\\ up\\nor not',
          '# TYPE up gauge',
          'up{job="a\\"b",path="c:\\\\d",note="x\\ny"} 1',
          'up{job="z",} +Inf 1700000000000',
          '# TYPE temp gauge',
          'temp -1.5e3',
          'temp{x="1"} NaN',
          '',
        ].join('\n'),
      );
      expect(fams.get('up')?.help).to.equal('Whether it is \\ up\nor not');
      expect(fams.get('up')?.type).to.equal('gauge');
      expect(fams.get('up')?.samples[0]?.labels).to.deep.equal({ job: 'a"b', path: 'c:\\d', note: 'x\ny' });
      expect(sampleValue(fams, 'up', { job: 'z' })).to.equal(Infinity);
      expect(fams.get('up')?.samples[1]?.timestamp).to.equal(1_700_000_000_000);
      expect(fams.get('temp')?.samples.map((s) => s.value)).to.deep.equal([-1500, NaN]);
    });

    for (const [what, text] of [
      ['a bad value', 'm 12abc\n'],
      ['an unknown escape', 'm{a="\\t"} 1\n'],
      ['an unterminated label value', 'm{a="x} 1\n'],
      ['a duplicate series', 'm{a="1"} 1\nm{a="1"} 2\n'],
      ['TYPE after samples', 'm 1\n# TYPE m gauge\n'],
      ['samples of one metric apart', 'm 1\nn 1\nm{a="2"} 1\n'],
      ['no final newline', 'm 1'],
      ['an unknown type', '# TYPE m thing\n'],
      ['a bad label name', 'm{1a="x"} 1\n'],
    ] as const) {
      it(`rejects ${what}`, () => {
        expect(() => parsePrometheusText(text)).to.throw(PromParseError);
      });
    }
  });

  describe('renderPrometheus', () => {
    it('uses base units and names every metric the README lists, and no other', () => {
      const fams = parsePrometheusText(renderPrometheus([state('MailLogger:a', 'completed', { position: 1_800_000_000 })], 1_800_000_600));
      const names = [...fams.keys()].sort();
      expect(names.filter((n) => /_ms$|_milliseconds$/.test(n)), 'names in milliseconds').to.deep.equal([]);
      for (const f of fams.values()) expect(f.help, `${f.name} HELP`).to.be.a('string').and.not.equal('');
      const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
      const listed = [...new Set([...readme.matchAll(/`(uzmanposta_[a-z0-9_]+)/g)].map((m) => m[1]!))].sort();
      expect(listed, 'metrics named in README.md').to.deep.equal(names);
    });

    it('one series per section with its figures; lag taken when written; infinities spelt +Inf', () => {
      const now = 1_800_000_000;
      const text = renderPrometheus(
        [
          state('MailLogger:a', 'completed', { recordsWritten: 1200, apiCalls: 1300, http429: 3, apiTimeP95Ms: 41.5, position: now - 600 }),
          state('MailLogger:b', 'failed', { recordsWritten: 0, apiErrors: 1, position: null, apiTimeMaxMs: Infinity }),
        ],
        now,
      );
      const fams = parsePrometheusText(text);
      for (const f of fams.values()) expect(f.type, f.name).to.equal('gauge');
      const a = { section: 'MailLogger:a' };
      const b = { section: 'MailLogger:b' };
      expect(sampleValue(fams, 'uzmanposta_records_written', a)).to.equal(1200);
      expect(sampleValue(fams, 'uzmanposta_api_calls', a)).to.equal(1300);
      expect(sampleValue(fams, 'uzmanposta_api_rate_limited', a)).to.equal(3);
      expect(sampleValue(fams, 'uzmanposta_api_response_p95_seconds', a)).to.equal(0.0415);
      expect(sampleValue(fams, 'uzmanposta_lag_seconds', a)).to.equal(600);
      expect(sampleValue(fams, 'uzmanposta_position_seconds', a)).to.equal(now - 600);
      expect(fams.get('uzmanposta_lag_seconds')?.samples, 'no lag without a position').to.have.length(1);
      expect(sampleValue(fams, 'uzmanposta_api_response_max_seconds', b)).to.equal(Infinity);
      expect(sampleValue(fams, 'uzmanposta_section_failed', a)).to.equal(0);
      expect(sampleValue(fams, 'uzmanposta_section_failed', b)).to.equal(1);
      expect(sampleValue(fams, 'uzmanposta_section_status', { ...b, status: 'failed' })).to.equal(1);
      expect(sampleValue(fams, 'uzmanposta_section_status', { ...b, status: 'completed' })).to.equal(0);
      expect(sampleValue(fams, 'uzmanposta_last_run_timestamp_seconds')).to.equal(now);
      expect(fams.get('uzmanposta_records_written')?.samples[0]?.labels).to.deep.equal({
        section: 'MailLogger:a',
        domain: 'example.com',
        category: 'mail',
        type: 'incominglog',
      });
    });

    it('escapes section names with quotes, backslashes and newlines so they read back the same', () => {
      const name = 'MailLogger:we"ird\\name\nline';
      const fams = parsePrometheusText(renderPrometheus([state(name, 'running', { recordsWritten: 5 })]));
      expect(sampleValue(fams, 'uzmanposta_records_written', { section: name })).to.equal(5);
    });
  });

  describe('writeMetricsFiles', () => {
    it('writes each file with the sections naming it, replacing it whole', () => {
      const dir = tempDir();
      const one = join(dir, 'prom', 'one.prom');
      const two = join(dir, 'prom', 'two.prom');
      const states = new Map<string, SectionState>([
        ['MailLogger:a', state('MailLogger:a', 'completed', { recordsWritten: 1 }, one)],
        ['MailLogger:b', state('MailLogger:b', 'completed', { recordsWritten: 2 }, one)],
        ['MailLogger:c', state('MailLogger:c', 'completed', { recordsWritten: 3 }, two)],
        ['MailLogger:d', state('MailLogger:d', 'completed', { recordsWritten: 4 }, '')],
      ]);
      const warnings: string[] = [];
      for (let i = 0; i < 3; i++) writeMetricsFiles([...states.values()].map((s) => s.config), states, (m) => warnings.push(m));
      expect(warnings).to.deep.equal([]);
      expect(readdirSync(join(dir, 'prom')).sort(), 'no temporary files left').to.deep.equal(['one.prom', 'two.prom']);
      const first = parsePrometheusText(readFileSync(one, 'utf8'));
      expect(first.get('uzmanposta_records_written')?.samples.map((s) => [s.labels.section, s.value])).to.deep.equal([
        ['MailLogger:a', 1],
        ['MailLogger:b', 2],
      ]);
      const second = parsePrometheusText(readFileSync(two, 'utf8'));
      expect(sampleValue(second, 'uzmanposta_records_written', { section: 'MailLogger:c' })).to.equal(3);
    });

    it("a run of some sections keeps the other sections' series in a shared file, and replaces its own", () => {
      const dir = tempDir();
      const file = join(dir, 'shared.prom');
      const odd = 'MailLogger:we"ird\\name';
      const all = new Map<string, SectionState>([
        ['MailLogger:a', state('MailLogger:a', 'completed', { recordsWritten: 1 }, file)],
        [odd, state(odd, 'failed', { recordsWritten: 2 }, file)],
      ]);
      writeMetricsFiles([...all.values()].map((s) => s.config), all, () => undefined);
      // Then `--section a` alone, with new figures.
      const onlyA = new Map<string, SectionState>([['MailLogger:a', state('MailLogger:a', 'completed', { recordsWritten: 10 }, file)]]);
      writeMetricsFiles([...onlyA.values()].map((s) => s.config), onlyA, () => undefined);
      const fams = parsePrometheusText(readFileSync(file, 'utf8'));
      expect(fams.get('uzmanposta_records_written')?.samples.map((x) => [x.labels.section, x.value])).to.deep.equal([
        ['MailLogger:a', 10],
        [odd, 2],
      ]);
      expect(sampleValue(fams, 'uzmanposta_section_failed', { section: odd })).to.equal(1);
      expect(sampleValue(fams, 'uzmanposta_section_status', { section: odd, status: 'failed' })).to.equal(1);
      expect(fams.get('uzmanposta_section_status')?.samples, 'one series per section and status').to.have.length(2 * 6);
    });

    it('warns, and does not throw, when the file cannot be written', () => {
      const dir = tempDir();
      // Its directory would have to be inside a plain file.
      writeFileSync(join(dir, 'plain-file'), '');
      const file = join(dir, 'plain-file', 'x.prom');
      const states = new Map<string, SectionState>([['MailLogger:a', state('MailLogger:a', 'completed', {}, file)]]);
      const warnings: string[] = [];
      writeMetricsFiles([...states.values()].map((s) => s.config), states, (m) => warnings.push(m));
      expect(warnings).to.have.length(1);
      expect(warnings[0]).to.include(file);
    });
  });


});
