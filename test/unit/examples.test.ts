// examples/ and the operator docs are what an operator copies: they must load,
// name every option with its real default, agree with --help, and
// the SIEM snippets must pick exactly the data files the collector writes.

import { expect } from 'chai';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { loadConfig, type LoadedConfig } from '../../src/config/load-config.js';
import { OPTIONS, OPTION_KEYS, isOptionKey } from '../../src/config/config-options.js';
import { ConfigError } from '../../src/common/errors.js';
import { dataFileName } from '../../src/config/file-names.js';
import { strftime } from '../../src/config/strftime.js';
import { REPO_ROOT, runCli, tempDir, type CliRun } from '../support/harness.js';

const EXAMPLES = join(REPO_ROOT, 'examples');
const read = (...parts: string[]): string => readFileSync(join(...parts), 'utf8');
const EXAMPLE_INI = read(EXAMPLES, 'uzmanposta.ini');
const PLACEHOLDER_LINE = 'api_key = YOUR_API_KEY_HERE';
const INSTALL_ROOT = '/opt/uzmanposta/output';

/** The operator docs: the draft while it exists, README.md once it is merged there. */
function operatorDocs(): { path: string; text: string } {
  const draft = join(REPO_ROOT, 'docs', 'OPERATIONS-DRAFT.md');
  const path = existsSync(draft) ? draft : join(REPO_ROOT, 'README.md');
  return { path, text: readFileSync(path, 'utf8') };
}

function loadExample(text: string, edit: (t: string) => string = (t) => t): LoadedConfig {
  const dir = tempDir('uzp-examples-');
  const path = join(dir, 'uzmanposta.ini');
  writeFileSync(path, edit(text), { mode: 0o600 });
  return loadConfig(path, { env: {} });
}

const withKey = (t: string): string => t.replace(PLACEHOLDER_LINE, 'api_key = example-test-key-0123456789abcdef');

let helpRun: Promise<CliRun> | undefined;
/** `uzmanposta --help` from the real bin/, run once for the whole file. */
function help(): Promise<CliRun> {
  helpRun ??= runCli(['--help'], { cwd: REPO_ROOT });
  return helpRun;
}

/** Go's filepath.Match / POSIX glob for `*` and `?`: neither crosses '/'. */
function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]');
  return new RegExp(`^${body}$`);
}

/** Each section's data, message and error log paths as they would be under /opt/uzmanposta. */
function installedPaths(cfg: LoadedConfig, at: Date): { section: string; data: string; others: string[] }[] {
  return cfg.sections.map((s) => {
    const dir = join(INSTALL_ROOT, relative(s.logDirectory, s.outputDirectory));
    return {
      section: s.section,
      data: join(INSTALL_ROOT, relative(s.logDirectory, dataFileName(s, at))),
      others: [strftime(s.messageLogFileName, at), strftime(s.errorLogFileName, at), 'x_heartbeat.json'].map((n) => join(dir, n)),
    };
  });
}

describe('examples/uzmanposta.ini', () => {
  it('loads without errors or warnings once the placeholder key is replaced', () => {
    const cfg = loadExample(EXAMPLE_INI, withKey);
    expect(cfg.warnings).to.deep.equal([]);
    expect(cfg.sections.map((s) => [s.name, s.category, s.type, s.domain])).to.deep.equal([
      ['example.com-incoming', 'mail', 'incominglog', 'example.com'],
      ['example.com-outgoing', 'mail', 'outgoinglog', 'example.com'],
      ['example.com-quarantine', 'quarantine', 'quarantine', 'example.com'],
      ['example.com-hold', 'quarantine', 'hold', 'example.com'],
      ['example.com-auth', 'authentication', 'auth', 'example.com'],
    ]);
  });

  it('refuses to run as shipped, with the placeholder key', () => {
    expect(() => loadExample(EXAMPLE_INI)).to.throw(ConfigError, /holds the example placeholder YOUR_API_KEY_HERE/);
  });

  it('shows every option with its built-in default', () => {
    for (const key of OPTION_KEYS) {
      const fallback = OPTIONS[key].default;
      if (fallback === undefined) {
        // Required or derived: an example assignment, commented or not.
        expect(EXAMPLE_INI, key).to.match(new RegExp(`^[;#]?\\s*${key}\\s*=`, 'm'));
      } else {
        const value = fallback.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        expect(EXAMPLE_INI, `;${key} = ${fallback}`).to.match(new RegExp(`^;${key} =${value ? ` ${value}` : ''}$`, 'm'));
      }
      expect(EXAMPLE_INI, `a comment heading for ${key}`).to.match(new RegExp(`^; ${key} \\(`, 'm'));
    }
  });

  it('holds only values the options accept in its commented-out lines', () => {
    const lines = EXAMPLE_INI.split('\n').map((l) => /^;([a-z_]+) = ?(.*)$/.exec(l)).filter((m) => m !== null);
    expect(lines.length).to.be.greaterThan(30);
    for (const m of lines) {
      const [, key = '', value = ''] = m;
      expect(isOptionKey(key), key).to.equal(true);
      if (isOptionKey(key)) expect(OPTIONS[key].parse(value), `${key} = ${value}`).to.include({ ok: true });
    }
  });
});

describe('examples/demo.ini', () => {
  it('loads once src/cli/demo.ts fills in its placeholders', () => {
    const cfg = loadExample(read(EXAMPLES, 'demo.ini'), (t) =>
      t
        .replaceAll('{{KEY}}', 'demo-key-0123456789abcdef')
        .replaceAll('{{START}}', '1734870000')
        .replace(/\{\{(MAIL|QUARANTINE|AUTH)_URL\}\}/g, (_m, c: string) => `http://127.0.0.1:9/${c.toLowerCase()}`),
    );
    expect(cfg.sections).to.have.length(5);
  });
});

describe('scheduling examples', () => {
  const cronLine = read(EXAMPLES, 'crontab')
    .split('\n')
    .find((l) => /^[*\d]/.test(l));
  const execStart = /^ExecStart=(.*)$/m.exec(read(EXAMPLES, 'systemd', 'uzmanposta.service'))?.[1];

  it('crontab and the systemd service run the same command, with flags --help knows', async () => {
    expect(cronLine).to.be.a('string');
    const fields = (cronLine ?? '').split(/\s+/);
    // m h dom mon dow user command…
    const command = fields.slice(6).join(' ').replace(/\s*>\/dev\/null$/, '');
    expect(command).to.equal(execStart);
    const { stdout } = await help();
    for (const flag of command.match(/--[a-z-]+/g) ?? []) expect(stdout).to.include(flag);
  });

  it('the timer starts the service', () => {
    const timer = read(EXAMPLES, 'systemd', 'uzmanposta.timer');
    expect(timer).to.match(/^Unit=uzmanposta\.service$/m);
    expect(timer).to.match(/^OnCalendar=/m);
  });
});

describe('SIEM examples', () => {
  const cfg = loadExample(EXAMPLE_INI, withKey);
  // Any hour will do; 23:00 on the last day of a year catches a format that confuses fields.
  const paths = installedPaths(cfg, new Date(2025, 11, 31, 23, 0, 0));
  const filebeatGlobs = [...read(EXAMPLES, 'filebeat', 'uzmanposta.yml').matchAll(/^\s+- (\/opt\/\S+)$/gm)].map((m) => m[1] ?? '');
  for (const [name, globs] of [['filebeat', filebeatGlobs]] as const) {
    it(`${name} picks every section's data files and none of its logs or heartbeats`, () => {
      expect(globs.length).to.equal(5);
      const res = globs.map(globToRegExp);
      for (const p of paths) {
        expect(res.filter((re) => re.test(p.data)), p.data).to.have.length(1);
        for (const other of p.others) expect(res.some((re) => re.test(other)), other).to.equal(false);
      }
    });
  }

  it('the Wazuh locations are the daily data files its comment asks for', () => {
    const xml = read(EXAMPLES, 'wazuh', 'ossec-localfile.xml');
    const asked = /^\s+(log_file_name_format = .*)$/m.exec(xml)?.[1];
    expect(asked).to.equal('log_file_name_format = {domain}_{type}_%Y-%m-%d.log');
    const daily = loadExample(EXAMPLE_INI, (t) => withKey(t).replace('[DEFAULT]\n', `[DEFAULT]\n${asked}\n`));
    const at = new Date(2025, 11, 31, 23, 0, 0);
    const locations = [...xml.matchAll(/<location>([^<]+)<\/location>/g)].map((m) => strftime(m[1] ?? '', at));
    expect(locations.sort()).to.deep.equal(installedPaths(daily, at).map((p) => p.data).sort());
  });
});

describe('operator docs', () => {
  const docs = operatorDocs();

  it('list every option with its default', () => {
    for (const key of OPTION_KEYS) {
      const defaultText = OPTIONS[key].defaultText;
      const row = docs.text.split('\n').find((l) => l.startsWith(`| \`${key}\` |`));
      expect(row, `${key} in ${docs.path}`).to.be.a('string');
      expect((row ?? '').replace(/`/g, '').replace(/\\\|/g, '|'), key).to.include(defaultText);
    }
  });

  it('--version prints the version in package.json', async () => {
    const pkg = JSON.parse(read(REPO_ROOT, 'package.json')) as { version: string };
    const run = await runCli(['--version'], { cwd: REPO_ROOT });
    expect(run.code).to.equal(0);
    expect(run.stdout.trim()).to.equal(pkg.version);
  });

  it('--help lists every option of the CLI tables in the docs and README, and no other', async () => {
    const run = await help();
    expect(run.code).to.equal(0);
    const flagsIn = (text: string): string[] => {
      const firstCells = text
        .split('\n')
        .filter((l) => /^\| `-/.test(l))
        .map((l) => l.split(' | ')[0] ?? '');
      return [...new Set(firstCells.flatMap((c) => c.match(/(?<![\w-])--?[a-zA-Z][a-z-]*/g) ?? []))];
    };
    const documented = flagsIn(docs.text);
    const inReadme = flagsIn(read(REPO_ROOT, 'README.md'));
    expect(documented).to.include.members(['--config', '-c', '--section', '--all', '--check', '--online', '--help', '--version']);
    for (const flag of [...documented, ...inReadme]) {
      expect(run.stdout, flag).to.match(new RegExp(`(^|[\\s,])${flag}([\\s,]|$)`, 'm'));
    }
    // The other way round: every long option --help shows is in the docs' table.
    const shown = [...new Set(run.stdout.match(/(?<![\w-])--[a-z][a-z-]+/g) ?? [])];
    expect(shown.filter((f) => !documented.includes(f))).to.deep.equal([]);
  });
});
