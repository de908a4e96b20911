// examples/prometheus/uzmanposta.rules.yml: the alerts the README promises
// (a section lagging, failing, not run; the collector not running; gaps
// recorded), written on the metric names the collector really writes, and
// accepted by promtool where it is installed. `promtool test rules` then
// shows each alert firing on series shaped like the collector's.

import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderPrometheus } from '../../src/reporting/prometheus.js';
import { REPO_ROOT, tempDir } from '../support/harness.js';
import { requireTool, run } from '../support/installed-tool.js';
import * as yaml from 'js-yaml';

const RULES = join(REPO_ROOT, 'examples', 'prometheus', 'uzmanposta.rules.yml');

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels: { severity: string };
  annotations: { summary: string; description: string };
}

function rules(): Rule[] {
  const doc = yaml.load(readFileSync(RULES, 'utf8')) as { groups: { name: string; rules: unknown[] }[] };
  expect(doc.groups).to.have.length(1);
  return doc.groups[0]!.rules as unknown as Rule[];
}

/** Every metric family the collector writes into a metrics_file. */
function writtenFamilies(): Set<string> {
  return new Set([...renderPrometheus([], 0).matchAll(/^# TYPE (\S+) gauge$/gm)].map((m) => m[1]!));
}

describe('examples/prometheus/uzmanposta.rules.yml', () => {
  it('has the alerts the README names, each with a severity, a summary and a description', () => {
    const all = rules();
    expect(all.map((r) => r.alert)).to.deep.equal([
      'UzmanpostaNotRunning',
      'UzmanpostaSectionFailed',
      'UzmanpostaSectionNotRun',
      'UzmanpostaLagging',
      'UzmanpostaGapsRecorded',
    ]);
    for (const r of all) {
      expect(r.labels.severity, r.alert).to.be.oneOf(['warning', 'critical']);
      expect(r.annotations.summary, r.alert).to.be.a('string').and.not.equal('');
      expect(r.annotations.description, r.alert).to.be.a('string').and.not.equal('');
    }
  });

  it('uses only metric names the collector writes', () => {
    const families = writtenFamilies();
    expect(families.size).to.be.greaterThan(10);
    const used = rules().flatMap((r) => r.expr.match(/\buzmanposta_[a-z0-9_]+/g) ?? []);
    expect(used).to.include.members(['uzmanposta_last_run_timestamp_seconds', 'uzmanposta_section_failed', 'uzmanposta_lag_seconds', 'uzmanposta_gap_seconds']);
    for (const name of used) expect(families.has(name), name).to.equal(true);
  });

  it('is accepted by promtool check rules', function () {
    const promtool = requireTool(this, 'promtool', 'apt-get install prometheus');
    const r = run(promtool, ['check', 'rules', RULES]);
    expect(r.status, r.stdout + r.stderr).to.equal(0);
    expect(r.stdout).to.include('SUCCESS: 5 rules found');
  });

  it('fires each alert on series shaped like the collector\'s (promtool test rules)', function () {
    const promtool = requireTool(this, 'promtool', 'apt-get install prometheus');
    const dir = tempDir();
    const labels = 'section="MailLogger:in",domain="example.com",category="mail",type="incominglog"';
    const alertLabels = { section: 'MailLogger:in', domain: 'example.com', category: 'mail', type: 'incominglog' };
    // Series every minute from time 0; the file stopped being written after 10 minutes.
    const test = {
      rule_files: [RULES],
      evaluation_interval: '1m',
      tests: [
        {
          interval: '1m',
          input_series: [
            { series: 'uzmanposta_last_run_timestamp_seconds{instance="collector-1:9100"}', values: '0+60x10 600x40' },
            { series: `uzmanposta_section_failed{${labels}}`, values: '1x40' },
            { series: `uzmanposta_position_seconds{${labels}}`, values: '0x40' },
            { series: `uzmanposta_lag_seconds{${labels}}`, values: '7200x40' },
            { series: `uzmanposta_gap_seconds{${labels}}`, values: '300x40' },
            { series: `uzmanposta_truncated_windows{${labels}}`, values: '0x40' },
          ],
          alert_rule_test: [
            // 900 s after the last write (at 10 min) is 25 min; plus for: 5m.
            { eval_time: '20m', alertname: 'UzmanpostaNotRunning', exp_alerts: [] },
            {
              eval_time: '31m',
              alertname: 'UzmanpostaNotRunning',
              exp_alerts: [
                {
                  exp_labels: { instance: 'collector-1:9100', severity: 'critical' },
                  exp_annotations: {
                    summary: 'uzmanposta has not written its metrics file for 21m 0s',
                    description: "Check the cron job or systemd timer on collector-1:9100 and the collector's exit status.",
                  },
                },
              ],
            },
            { eval_time: '5m', alertname: 'UzmanpostaSectionFailed', exp_alerts: [] },
            {
              eval_time: '11m',
              alertname: 'UzmanpostaSectionFailed',
              exp_alerts: [
                {
                  exp_labels: { ...alertLabels, severity: 'warning' },
                  exp_annotations: {
                    summary: 'uzmanposta section MailLogger:in failed',
                    description: 'Section MailLogger:in (example.com mail/incominglog) failed in its last run; see its error log and heartbeat.',
                  },
                },
              ],
            },
            {
              eval_time: '36m',
              alertname: 'UzmanpostaSectionNotRun',
              exp_alerts: [
                {
                  exp_labels: { ...alertLabels, severity: 'warning' },
                  exp_annotations: {
                    summary: 'uzmanposta section MailLogger:in is 36m 0s behind',
                    description: 'The position of MailLogger:in has not moved for 30 minutes or more: it is not being run, or it is failing.',
                  },
                },
              ],
            },
            {
              eval_time: '31m',
              alertname: 'UzmanpostaLagging',
              exp_alerts: [
                {
                  exp_labels: { ...alertLabels, severity: 'warning' },
                  exp_annotations: {
                    summary: 'uzmanposta section MailLogger:in lags 2h 0m 0s behind the API',
                    description: "Lower the load (max_parallel_details, --max-workers) or check the API's rate limits; see the section's heartbeat.",
                  },
                },
              ],
            },
            {
              eval_time: '1m',
              alertname: 'UzmanpostaGapsRecorded',
              exp_alerts: [
                {
                  exp_labels: { ...alertLabels, severity: 'warning' },
                  exp_annotations: {
                    summary: 'uzmanposta section MailLogger:in recorded missing data',
                    description: 'The last run of MailLogger:in logged a gap or a truncated window (UZP_GAP / UZP_TRUNCATED_WINDOW in its error log).',
                  },
                },
              ],
            },
          ],
        },
      ],
    };
    // JSON is YAML: promtool reads this test file as it is.
    const file = join(dir, 'uzmanposta.rules.test.yml');
    writeFileSync(file, JSON.stringify(test, null, 2));
    const r = run(promtool, ['test', 'rules', file]);
    expect(r.status, r.stdout + r.stderr).to.equal(0);
    expect(r.stdout).to.include('SUCCESS');
  });
});
