// The API key never appears in full in anything the tool writes: data and
// message logs, error logs, heartbeats, the metrics file, stdout, stderr,
// stack traces, --list and --check. The real CLI runs against the mock in
// every mode that writes something (a good run, a wrong key, failing
// windows, a host that does not resolve, --check, --check --online, --list, a
// config error); every file under the temp directory and every captured
// stream is then searched for the key, raw, URL-encoded and by its middle.

import { expect } from 'chai';
import { chmodSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { maskKey } from '../../src/common/mask.js';
import { startMockApi, type MockApi } from '../../src/mock-api/index.js';
import { readStream, runCli, tempDir, type CliRun } from '../support/harness.js';
import { dayAnchor } from '../support/epochs.js';
import { writeIni, type IniSections, type IniValue } from '../support/write-ini.js';

// Long and realistic: base64-like, with characters URL encoding changes.
const KEY = 'uzp.Live+9f8e7d6c/5b4a3928=1706f5e4d3c2b1a0QmX';
const WRONG_KEY = 'uzp.Live+00a1b2c3/d4e5f607=18293a4b5c6d7e8fZzY';
const DOMAIN = 'example.com';

/** Every form in which a leaked key could show: in full, URL-encoded, and its middle (what the mask hides). */
function needles(key: string): string[] {
  const middle = key.slice(4, -4);
  return [...new Set([key, encodeURIComponent(key), middle, encodeURIComponent(middle)])];
}

function filesUnder(root: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(root)) {
    const path = join(root, name);
    if (statSync(path).isDirectory()) out.push(...filesUnder(path));
    else out.push(path);
  }
  return out;
}

interface Scenario {
  name: string;
  dir: string;
  run: CliRun;
}

describe('secrets: the API key is never written in full', function () {
  this.timeout(60_000);
  let mock: MockApi;
  let failing: MockApi;
  let root: string;
  /** Files the test wrote that hold a key on purpose: the configs and the key file. */
  const inputs = new Set<string>();
  const scenarios = new Map<string, Scenario>();

  function scenario(name: string): Scenario {
    const s = scenarios.get(name);
    if (!s) throw new Error(`no scenario ${name}`);
    return s;
  }

  function sectionsFor(m: MockApi): IniSections {
    return {
      'MailLogger:in': { type: 'incominglog', url: m.urls.mail },
      'MailLogger:q': { category: 'quarantine', url: m.urls.quarantine, verbose: false },
      'MailLogger:auth': { category: 'authentication', url: m.urls.authentication },
    };
  }

  const defaults = (key: Record<string, IniValue>, extra: Record<string, IniValue> = {}): Record<string, IniValue> => ({
    ...key,
    domain: DOMAIN,
    start_time: START,
    list_sleep_time: 0,
    detail_sleep_time: 0,
    metrics_file: 'metrics/uzmanposta.prom',
    ...extra,
  });

  async function play(
    name: string,
    ini: IniSections,
    args: string[],
    opts: { env?: Record<string, string>; mode?: number; keyFile?: boolean } = {},
  ): Promise<void> {
    const dir = join(root, name);
    mkdirSync(dir);
    if (opts.keyFile) {
      const keyFile = join(dir, 'secret', 'api.key');
      mkdirSync(join(dir, 'secret'));
      writeFileSync(keyFile, `${KEY}\n`, { mode: 0o600 });
      inputs.add(keyFile);
    }
    const config = writeIni(join(dir, 'uzmanposta.ini'), ini);
    chmodSync(config, opts.mode ?? 0o600);
    inputs.add(config);
    const run = await runCli(['--config', config, ...args], { cwd: dir, env: opts.env });
    // The captured streams go to disk too, so one search covers everything.
    writeFileSync(join(root, 'streams', `${name}.stdout`), run.stdout);
    writeFileSync(join(root, 'streams', `${name}.stderr`), run.stderr);
    scenarios.set(name, { name, dir, run });
  }

  // Runs collect a fixed ten minutes at a fixed offset from a UTC midnight
  // (set when this suite starts, not at import); the data runs past now, for
  // the --online probe of a recent minute.
  let START = 0;
  let END = 0;
  const range = (): string[] => ['--start-time', String(START), '--end-time', String(END)];

  before(async () => {
    const anchor = dayAnchor();
    START = anchor + 12 * 3600;
    END = START + 600;
    root = tempDir('uzp-secrets-');
    mkdirSync(join(root, 'streams'));
    const streams = [
      { key: KEY, domain: DOMAIN, category: 'mail' as const, type: 'incominglog', perMinute: 6 },
      { key: KEY, domain: DOMAIN, category: 'quarantine' as const, type: 'quarantine', perMinute: 2 },
      { key: KEY, domain: DOMAIN, category: 'authentication' as const, perMinute: 4 },
    ];
    const span = { from: anchor, to: anchor + 3 * 86_400 };
    mock = await startMockApi({ seed: 5, ...span, hostileQueueIds: true, streams });
    failing = await startMockApi({ seed: 6, ...span, streams, faults: { status5xx: 1 } });

    const pastedKeyConfig: IniSections = {
      DEFAULT: { api_key: KEY },
      // The key pasted where the variable's name belongs.
      'MailLogger:pasted': { api_key_env: KEY, domain: DOMAIN },
      'MailLogger:bad-category': { category: 'logs', domain: DOMAIN },
    };

    await Promise.all([
      // The INI is readable by others on purpose: the warning must show, masked.
      play('run-ok', { DEFAULT: defaults({ api_key: KEY }), ...sectionsFor(mock) }, ['--all', '--parallel', ...range()], { mode: 0o644 }),
      // No key in this INI, so its mode 0644 is no reason to warn.
      play(
        'key-sources',
        {
          DEFAULT: { domain: DOMAIN, start_time: START, type: 'incominglog', url: mock.urls.mail },
          'MailLogger:from-env': { api_key_env: 'UZP_SECRETS_TEST_KEY', log_directory: './out-env' },
          'MailLogger:from-file': { api_key_file: 'secret/api.key', log_directory: './out-file' },
        },
        ['--all', ...range()],
        { env: { UZP_SECRETS_TEST_KEY: KEY }, mode: 0o644, keyFile: true },
      ),
      // A wrong key (401), windows that fail with 5xx, and a host that does not resolve.
      play(
        'failures',
        {
          DEFAULT: defaults({ api_key: KEY }, { list_retries: 1 }),
          'MailLogger:wrong': { api_key: WRONG_KEY, type: 'incominglog', url: mock.urls.mail },
          'MailLogger:server-errors': { type: 'incominglog', url: failing.urls.mail, log_directory: './out-5xx', verbose: false },
          'MailLogger:nowhere': { type: 'outgoinglog', url: 'https://uzmanposta-secrets-test.invalid/api/v2/logs/mail' },
        },
        ['--all', ...range()],
      ),
      play('check', { DEFAULT: defaults({ api_key: KEY }), ...sectionsFor(mock) }, ['--check']),
      play(
        'check-online',
        {
          DEFAULT: defaults({ api_key: KEY }),
          ...sectionsFor(mock),
          'MailLogger:wrong': { api_key: WRONG_KEY, type: 'outgoinglog', url: mock.urls.mail },
        },
        ['--check', '--online'],
      ),
      play('list', { DEFAULT: defaults({ api_key: KEY }), ...sectionsFor(mock) }, ['--list']),
      play('config-error', pastedKeyConfig, ['--all']),
    ]);
  });
  after(async () => {
    await mock?.close();
    await failing?.close();
  });

  it('each scenario did what it is there to cover', () => {
    const expectations: [string, number, RegExp][] = [
      ['run-ok', 0, /Total: 3 sections \(3 completed/],
      ['key-sources', 0, /Total: 2 sections \(2 completed/],
      ['failures', 1, /Total: 3 sections \(0 completed, 3 failed/],
      ['failures', 1, /MailLogger:wrong: failed .*HTTP 401/],
      ['failures', 1, /MailLogger:server-errors: failed .*server error HTTP 5\d\d/],
      ['failures', 1, /MailLogger:nowhere: failed .*DNS resolution failed/],
      ['check', 0, /All checks passed/],
      ['check-online', 1, /\[MailLogger:wrong\] FAILED: .*HTTP 401/],
      ['list', 0, /MailLogger:auth\s+authentication/],
      ['config-error', 2, /\[MailLogger:pasted\] api_key_env = "uzp\.\.\.\.0QmX": must be the name of an environment variable/],
    ];
    for (const [name, code, marker] of expectations) {
      const { run } = scenario(name);
      expect(run.code, `${name}: ${run.stderr}`).to.equal(code);
      expect(run.stdout + run.stderr, name).to.match(marker);
    }
    // verbose = false sends message lines to the console: they were searched too.
    expect(scenario('run-ok').run.stderr).to.match(/INFO \[MailLogger:q\]/);
    expect(scenario('failures').run.stderr).to.match(/ERROR \[MailLogger:server-errors\]/);
  });

  it('no file under the temp directory and no captured stream holds a key', () => {
    const files = filesUnder(root).filter((f) => !inputs.has(f));
    // Not vacuous: the search covered every kind of file the tool writes.
    const names = files.map((f) => relative(root, f));
    for (const kind of [/\.stdout$/, /\.stderr$/, /_incominglog_.*\.log$/, /messages_.*\.log$/, /errors_.*\.log$/, /_heartbeat\.json$/, /\.prom$/, /\.pos$/]) {
      expect(names.some((n) => kind.test(n)), `${kind} among ${names.length} files`).to.equal(true);
    }
    const leaks: string[] = [];
    for (const file of files) {
      const text = readFileSync(file, 'latin1');
      for (const needle of [...needles(KEY), ...needles(WRONG_KEY)]) {
        if (text.includes(needle)) leaks.push(`${relative(root, file)} holds ${JSON.stringify(needle)}`);
      }
    }
    expect(leaks).to.deep.equal([]);
  });

  it('the masked form is what appears instead', () => {
    const masked = maskKey(KEY);
    expect(masked).to.equal('uzp....0QmX');
    const okDir = scenario('run-ok').dir;
    const heartbeat = JSON.parse(readFileSync(join(okDir, 'output', DOMAIN, 'mail', 'incominglog', 'in_heartbeat.json'), 'utf8')) as { api_key: string };
    expect(heartbeat.api_key).to.equal(masked);
    expect(scenario('check').run.stdout).to.include(`api_key     ${masked}`);
    const wrongErrors = filesUnder(join(scenario('failures').dir, 'output')).filter((f) => /errors_.*\.log$/.test(f));
    expect(wrongErrors).to.not.be.empty;
    expect(readFileSync(wrongErrors[0]!, 'utf8')).to.include(`"key":"${maskKey(WRONG_KEY)}"`);
    // A key pasted into api_key_env is echoed masked in the config error.
    expect(scenario('config-error').run.stderr).to.include(`api_key_env = "${masked}"`);
  });

  it('api_key_env and api_key_file supply the key end to end', () => {
    const dir = scenario('key-sources').dir;
    for (const [section, out] of [['from-env', 'out-env'], ['from-file', 'out-file']] as const) {
      const written = readStream(join(dir, out, DOMAIN, 'mail', 'incominglog'), `${DOMAIN}_incominglog_`);
      const position = Number(readFileSync(join(dir, 'positions', `${section}.pos`), 'utf8').trim());
      expect(written.length, section).to.be.greaterThan(0);
      expect(written.length, section).to.equal(mock.count({ domain: DOMAIN, category: 'mail', type: 'incominglog' }, START, position));
    }
  });

  it('warns when the INI holding a key is readable by others, and only then', () => {
    const warning = /holds an API key and is readable by group or others \(mode 0644\); run chmod 600/;
    // A note on stdout: it repeats every run, and cron mails stderr (it is in --check too).
    expect(scenario('run-ok').run.stdout).to.match(warning);
    expect(scenario('run-ok').run.stderr).to.not.match(warning);
    const both = (name: string): string => scenario(name).run.stdout + scenario(name).run.stderr;
    // Same mode, but the keys come from the environment and a 0600 key file: nothing to warn about.
    expect(both('key-sources')).to.not.match(/readable by group or others/);
    // A key in an INI that is 0600.
    expect(both('failures')).to.not.match(/readable by group or others/);
  });
});

