import { expect } from 'chai';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import { basename, join } from 'node:path';
import { findSection, loadConfig, type LoadedConfig } from '../../src/config/load-config.js';
import { CATEGORY_URLS, OPTIONS, OPTION_KEYS } from '../../src/config/config-options.js';
import { ConfigError, type ConfigIssue } from '../../src/common/errors.js';
import { dataFileName } from '../../src/config/file-names.js';
import { parseIni } from '../../src/config/ini-file.js';

const NOW = 1_750_000_000;
const KEY = 'live-key-0123456789abcdef';
const MAIL_URL = CATEGORY_URLS.mail;

describe('config', () => {
  let tmp: string;
  beforeEach(() => {
    tmp = fs.mkdtempSync(join(os.tmpdir(), 'uzp-config-'));
  });
  afterEach(() => {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  function write(text: string, name = 'uzmanposta.ini', mode = 0o600): string {
    const path = join(tmp, name);
    fs.writeFileSync(path, text);
    fs.chmodSync(path, mode);
    return path;
  }
  function load(text: string, opts: { env?: Record<string, string | undefined> } = {}): LoadedConfig {
    return loadConfig(write(text), { now: NOW, env: {}, ...opts });
  }
  function only(text: string, opts: { env?: Record<string, string | undefined> } = {}) {
    const cfg = load(text, opts);
    expect(cfg.sections).to.have.length(1);
    return cfg.sections[0]!;
  }
  function failure(text: string, opts: { env?: Record<string, string | undefined> } = {}): ConfigError {
    try {
      load(text, opts);
    } catch (err) {
      if (err instanceof ConfigError) return err;
      throw err;
    }
    return expect.fail('expected a ConfigError');
  }
  function errors(text: string, opts: { env?: Record<string, string | undefined> } = {}): ConfigIssue[] {
    return failure(text, opts).issues.filter((i) => i.severity === 'error');
  }
  // A valid section with one line added.
  const section = (extra: string, name = 's'): string => `[MailLogger:${name}]\napi_key = ${KEY}\n${extra}\n`;

  describe('reading the INI as configparser does', () => {
    it('keeps dots in section names instead of nesting sections', () => {
      const cfg = load(section('domain = example.com', 'example.com-in') + section('', 'example'));
      expect(cfg.sections.map((s) => s.section)).to.deep.equal(['MailLogger:example.com-in', 'MailLogger:example']);
      expect(cfg.sections[0]!.name).to.equal('example.com-in');
      expect(cfg.sections[0]!.domain).to.equal('example.com');
    });

    it("accepts 'key: value' as well as 'key = value'", () => {
      const s = only(`[MailLogger:s]\napi_key: ${KEY}\ndomain: example.com\nsplit_interval=60\n`);
      expect(s.apiKey).to.equal(KEY);
      expect(s.domain).to.equal('example.com');
      expect(s.splitInterval).to.equal(60);
    });

    it('skips full-line # and ; comments and keeps inline ; and # in the value', () => {
      const s = only(
        section('# split_interval = 0\n  ; split_interval = -1\nlog_file_name_format = a;b#c_%Y.log ; not a comment'),
      );
      expect(s.splitInterval).to.equal(300);
      expect(s.logFileNameFormat).to.equal('a;b#c_%Y.log ; not a comment');
    });

    it('reads a UTF-8 BOM and CRLF line ends', () => {
      const s = only(`\uFEFF[MailLogger:s]\r\napi_key = ${KEY}\r\nsplit_interval = 60\r\n`);
      expect(s.section).to.equal('MailLogger:s');
      expect(s.splitInterval).to.equal(60);
      expect(s.apiKey).to.equal(KEY);
    });

    it('lowercases keys and trims whitespace around keys and values', () => {
      const s = only(`[MailLogger:s]\n   Split_Interval   =   60   \nAPI_KEY = ${KEY}\n`);
      expect(s.apiKey).to.equal(KEY);
      expect(s.splitInterval).to.equal(60);
    });

    it('does no interpolation: %(x)s and $ stay literal', () => {
      const s = only(section('position_file = p/%(domain)s-$HOME-${x}.pos'));
      expect(s.positionFile).to.equal(join(tmp, 'p', '%(domain)s-$HOME-${x}.pos'));
    });

    it('keeps quotes and the words true/false/null as written', () => {
      const s = only(section('domain = null\nheartbeat_file = "hb.json"'));
      expect(s.domain).to.equal('null');
      expect(basename(s.heartbeatFile)).to.equal('"hb.json"');
    });

    it('reads a line indented under an option as part of its value, as configparser does', () => {
      const e = errors(`[MailLogger:s]\napi_key = ${KEY}\n  split_interval = 60\n`);
      expect(e[0]).to.include({ option: 'api_key' });
      expect(e[0]!.message).to.match(/whitespace/);
    });

    it('joins indented continuation lines as configparser does', () => {
      const doc = parseIni('[s]\nk = first\n   second\n\n   third\nnext = x\n');
      expect(doc.sections[0]!.options.get('k')).to.equal('first\nsecond\n\nthird');
      expect(doc.sections[0]!.options.get('next')).to.equal('x');
    });

    it('reads the legacy [MailLogger] section with {section} = MailLogger', () => {
      const s = only(`[MailLogger]\napi_key = ${KEY}\n`);
      expect(s.section).to.equal('MailLogger');
      expect(s.name).to.equal('MailLogger');
      expect(s.positionFile).to.equal(join(tmp, 'positions', 'MailLogger.pos'));
    });

    it('lists other sections without validating them', () => {
      const cfg = load(section('') + '[Other]\nsplit_interval = nonsense\n[MailLoggerish]\napi_key =\n');
      expect(cfg.otherSections).to.deep.equal(['Other', 'MailLoggerish']);
      expect(cfg.sections).to.have.length(1);
      expect(cfg.warnings).to.deep.equal([]);
    });

    it('applies [DEFAULT] to every section, the section winning', () => {
      const cfg = load(`[DEFAULT]\napi_key = ${KEY}\nsplit_interval = 60\n[MailLogger:a]\ndomain = a.com\n[MailLogger:b]\ndomain = b.com\nsplit_interval = 120\n`);
      expect(cfg.sections.map((s) => s.splitInterval)).to.deep.equal([60, 120]);
      expect(cfg.sections.map((s) => s.apiKey)).to.deep.equal([KEY, KEY]);
    });
  });

  describe('INI syntax errors', () => {
    it('rejects an option outside any section, without echoing the line', () => {
      const err = failure(`SECRETKEY1234567890\n${section('')}`);
      expect(err.issues[0]!.message).to.match(/line 1: text outside any section/);
      expect(err.message).not.to.include('SECRETKEY1234567890');
    });

    it("rejects a line that is not 'key = value'", () => {
      expect(errors(section('just words')).map((i) => i.message)).to.deep.equal([
        "line 3: not 'key = value', 'key: value', a [section] header or a comment",
      ]);
    });

    it('rejects an option with no name', () => {
      expect(errors(section('= 5'))[0]!.message).to.match(/line 3: '=' with no option name/);
    });

    it('rejects a section that appears twice', () => {
      expect(errors(section('') + section(''))[0]!.message).to.match(/section \[MailLogger:s\] appears again \(first on line 1\)/);
    });

    it('rejects an option set twice in one section', () => {
      const e = errors(section('split_interval = 60\nSPLIT_INTERVAL = 90'));
      expect(e[0]).to.include({ section: 'MailLogger:s', option: 'split_interval' });
      expect(e[0]!.message).to.match(/set twice/);
    });

    it("rejects a section name with ']'", () => {
      expect(errors(`[MailLogger:a]b]\napi_key = ${KEY}\n` + section(''))[0]!.message).to.match(/contains '\]'/);
    });
  });

  describe('option rules (one test per rule)', () => {
    // [option, bad value, what the message must say]
    const RULES: [string, string, RegExp][] = [
      ['category', 'logs', /one of: mail, quarantine, authentication/],
      ['domain', '..', /'\.\.'/],
      ['domain', 'a/b', /'\/' or '\\'/],
      ['domain', 'a\\b', /'\/' or '\\'/],
      ['domain', '/etc', /'\/' or '\\'/],
      ['domain', 'C:', /':'/],
      ['domain', 'a\u0000b', /control characters/],
      ['domain', 'a b', /whitespace/],
      ['url', 'ftp://example.com/x', /http:\/\/ or https:\/\//],
      ['url', 'not a url', /http:\/\/ or https:\/\//],
      ['url', 'https://example.com/x?a=1', /without a query/],
      ['start_time', 'yesterday', /Unix seconds .* ISO 8601 with a zone/],
      ['start_time', '2024-12-22T14:00:00', /zone is missing/],
      ['start_time', '1734876000000', /milliseconds/],
      ['start_time', '-5', /negative/],
      ['start_time', '2024-02-30T00:00:00Z', /not a real date/],
      ['end_delay', '-1', /integer from 0 to 1209600/],
      ['log_directory', '', /empty/],
      ['log_file_name_format', 'logs/%Y.log', /without '\/'/],
      ['log_file_name_format', '%Y-%b.log', /uses %b; supported: %Y %m %d %H %M %S %j %y/],
      ['log_file_name_format', '', /empty/],
      ['message_log_file_name', 'm_%q.log', /uses %q/],
      ['error_log_file_name', '../e.log', /without '\/'/],
      ['message_log_retention_count', '-1', /integer ≥ 0/],
      ['error_log_retention_count', '1.5', /integer ≥ 0/],
      ['heartbeat_file', '', /empty/],
      ['position_file', '', /empty/],
      ['lock_file_path', '', /empty/],
      ['split_interval', '0', /integer from 1 to 1209600/],
      ['split_interval', '1209601', /integer from 1 to 1209600/],
      ['max_time_gap', '0', /integer from 1 to 1209600/],
      ['max_records_per_page', '1', /integer from 2 to 1000/],
      ['max_records_per_page', '1001', /integer from 2 to 1000/],
      ['list_timeout', '0', /number greater than 0 and at most 86400 seconds/],
      ['detail_timeout', 'soon', /number greater than 0/],
      ['list_retries', '1001', /integer from 0 to 1000/],
      ['detail_retries', '-1', /integer from 0 to 1000/],
      ['list_sleep_time', '-0.5', /number at least 0/],
      ['detail_sleep_time', '3601', /at most 3600 seconds/],
      ['max_parallel_details', '0', /integer from 1 to 64/],
      ['max_parallel_details', '65', /integer from 1 to 64/],
      ['use_session', 'maybe', /boolean: 1\/yes\/true\/on or 0\/no\/false\/off/],
      ['verbose', '2', /boolean/],
      ['file_time', 'later', /one of: write, event/],
      ['rate_limit', '-1', /number at least 0/],
      ['max_run_time', '-1', /integer from 0 to 86400/],
      ['max_run_time', '4m', /integer from 0 to 86400/],
    ];
    for (const [option, bad, says] of RULES) {
      it(`${option} = ${JSON.stringify(bad)} is an error that ${String(says)}`, () => {
        const e = errors(section(`${option} = ${bad}`));
        expect(e, JSON.stringify(e)).to.have.length(1);
        expect(e[0]).to.include({ section: 'MailLogger:s', option });
        expect(e[0]!.message).to.match(says);
      });
    }

    const ACCEPTED: [string, string, keyof ReturnType<typeof only>, unknown][] = [
      ['split_interval', '1', 'splitInterval', 1],
      ['max_time_gap', '1209600', 'maxTimeGap', 1209600],
      ['max_records_per_page', '2', 'maxRecordsPerPage', 2],
      ['list_retries', '0', 'listRetries', 0],
      ['detail_retries', '+1000', 'detailRetries', 1000],
      ['list_sleep_time', '0', 'listSleepTime', 0],
      ['list_timeout', '0.5', 'listTimeout', 0.5],
      ['max_parallel_details', '64', 'maxParallelDetails', 64],
      ['message_log_retention_count', '0', 'messageLogRetentionCount', 0],
      ['rate_limit', '2.5', 'rateLimit', 2.5],
      ['max_run_time', '0', 'maxRunTime', 0],
      ['max_run_time', '86400', 'maxRunTime', 86400],
      ['file_time', 'event', 'fileTime', 'event'],
      ['end_delay', '0', 'endDelay', 0],
      ['start_time', '1734876000', 'startTime', 1734876000],
      ['start_time', '2024-12-22T14:00:00Z', 'startTime', 1734876000],
      ['start_time', '2024-12-22T17:00:00+03:00', 'startTime', 1734876000],
      ['start_time', '2024-12-22 17:00+0300', 'startTime', 1734876000],
    ];
    for (const [option, value, field, expected] of ACCEPTED) {
      it(`accepts ${option} = ${value}`, () => {
        expect(only(section(`${option} = ${value}`))[field]).to.equal(expected);
      });
    }

    it('reads booleans as configparser does, in any case', () => {
      for (const word of ['1', 'yes', 'TRUE', 'On']) expect(only(section(`use_session = ${word}`)).useSession).to.equal(true);
      for (const word of ['0', 'No', 'false', 'OFF']) expect(only(section(`verbose = ${word}`)).verbose).to.equal(false);
    });

    it('every built-in default passes its own rule', () => {
      for (const key of OPTION_KEYS) {
        const d = OPTIONS[key].default;
        if (d !== undefined) expect(OPTIONS[key].parse(d).ok, key).to.equal(true);
      }
      expect(OPTION_KEYS).to.include.members(['api_key', 'rate_limit', 'ca_file']);
      for (const key of OPTION_KEYS) expect(OPTIONS[key].description.length > 0 && OPTIONS[key].defaultText.length > 0, key).to.equal(true);
    });

    it('rejects a section name that would escape positions/ ({section})', () => {
      const e = errors(`[MailLogger:../x]\napi_key = ${KEY}\n`);
      expect(e[0]!.section).to.equal('MailLogger:../x');
      expect(e[0]!.message).to.match(/used in file names/);
    });

    it('rejects ca_file that does not exist', () => {
      const e = errors(section('ca_file = missing.pem'));
      expect(e[0]).to.include({ option: 'ca_file' });
      expect(e[0]!.message).to.include(join(tmp, 'missing.pem')).and.match(/does not exist/);
    });
  });

  describe('API key', () => {
    it('a key pasted into another option is masked wherever the error echoes it', () => {
      const envKey = 'ENVKEY-abcdefghijklmnop-0123456789';
      for (const [text, env] of [
        [section(`list_timeout = ${KEY}`), {}],
        [section(`url = https://api.example/v2/logs/mail?token=${KEY} x`), {}],
        [`[DEFAULT]\napi_key = ${KEY}\n[MailLogger:s]\nlist_retries = ${KEY}\n`, {}],
        [`[MailLogger:s]\napi_key_env = UZP_KEY\nlist_timeout = ${envKey}\n`, { UZP_KEY: envKey }],
      ] as const) {
        const err = failure(text, { env });
        const shown = `${err.message}\n${JSON.stringify(err.issues)}`;
        expect(shown, text).to.not.include(KEY).and.not.include(envKey);
        expect(shown, text).to.match(/\.\.\./);
      }
    });

    it('a key from api_key_file is masked in the errors of the section that failed', () => {
      const fileKey = 'FILEKEY-abcdefghijklmnop-0123456789';
      fs.writeFileSync(join(tmp, 'the.key'), `${fileKey}\n`, { mode: 0o600 });
      const err = failure(`[MailLogger:s]\napi_key_file = the.key\nlist_timeout = ${fileKey}\n`, { env: {} });
      const shown = `${err.message}\n${JSON.stringify(err.issues)}`;
      expect(shown).to.include('list_timeout');
      expect(shown).to.not.include(fileKey);
    });

    it('is required', () => {
      const e = errors('[MailLogger:s]\ndomain = example.com\n');
      expect(e[0]).to.include({ option: 'api_key' });
      expect(e[0]!.message).to.match(/no API key: set one of api_key, api_key_env .* or api_key_file/);
    });

    for (const placeholder of ['YOUR_API_KEY_HERE', 'YOUR_API_KEY']) {
      it(`rejects the placeholder ${placeholder}`, () => {
        expect(errors(`[MailLogger:s]\napi_key = ${placeholder}\n`)[0]!.message).to.match(/example placeholder/);
      });
    }

    it('rejects an empty api_key', () => {
      expect(errors('[MailLogger:s]\napi_key =\n')[0]!.message).to.match(/api_key is empty/);
    });

    it('rejects a key with whitespace inside', () => {
      expect(errors('[MailLogger:s]\napi_key = abc def\n')[0]!.message).to.match(/whitespace/);
    });

    it('rejects a key with characters an HTTP header cannot carry', () => {
      expect(errors('[MailLogger:s]\napi_key = abcdef0123456789ü\n')[0]!.message).to.match(/visible ASCII/);
    });

    it('rejects two sources in one section', () => {
      const e = errors(`[MailLogger:s]\napi_key = ${KEY}\napi_key_env = UZP_KEY\n`, { env: { UZP_KEY: KEY } });
      expect(e[0]!.message).to.match(/set exactly one of api_key, api_key_env, api_key_file; \[MailLogger:s\] sets api_key and api_key_env/);
    });

    it('lets a section source replace the one in [DEFAULT]', () => {
      const s = only(`[DEFAULT]\napi_key = ${KEY}\n[MailLogger:s]\napi_key_env = UZP_KEY\n`, { env: { UZP_KEY: ' env-key-123 ' } });
      expect(s.apiKey).to.equal('env-key-123');
    });

    it('reads api_key_env from the injected environment', () => {
      expect(only('[MailLogger:s]\napi_key_env = UZP_KEY\n', { env: { UZP_KEY: KEY } }).apiKey).to.equal(KEY);
    });

    it('rejects api_key_env that is not a variable name, masking it', () => {
      const e = errors(`[MailLogger:s]\napi_key_env = ${KEY}\n`);
      expect(e[0]).to.include({ option: 'api_key_env', value: 'live...cdef' });
      expect(e[0]!.message).to.match(/must be the name of an environment variable/);
    });

    it('rejects api_key_env naming an unset variable', () => {
      const e = errors('[MailLogger:s]\napi_key_env = UZP_KEY\n', { env: {} });
      expect(e[0]).to.include({ option: 'api_key_env', value: 'UZP_KEY' });
      expect(e[0]!.message).to.match(/environment variable UZP_KEY is not set/);
    });

    it('reads api_key_file relative to the config directory, trimmed', () => {
      fs.mkdirSync(join(tmp, 'secrets'));
      fs.writeFileSync(join(tmp, 'secrets', 'key'), `\uFEFF${KEY}\n`, { mode: 0o600 });
      expect(only('[MailLogger:s]\napi_key_file = secrets/key\n').apiKey).to.equal(KEY);
    });

    it('rejects a missing api_key_file, naming the resolved path', () => {
      const e = errors('[MailLogger:s]\napi_key_file = nokey\n');
      expect(e[0]).to.include({ option: 'api_key_file' });
      expect(e[0]!.message).to.include(join(tmp, 'nokey')).and.match(/does not exist/);
    });

    it('rejects an empty api_key_file', () => {
      fs.writeFileSync(join(tmp, 'key'), '\n', { mode: 0o600 });
      expect(errors('[MailLogger:s]\napi_key_file = key\n')[0]!.message).to.match(/is empty/);
    });

    it('never puts the key in an error', () => {
      const err = failure(`[MailLogger:s]\napi_key = ${KEY}\napi_key_file = k\n[MailLogger:t]\napi_key = ${KEY}\nsplit_interval = 0\n`);
      expect(err.issues.filter((i) => i.severity === 'error')).to.have.length(2);
      expect(err.message).not.to.include(KEY);
      expect(JSON.stringify(err.issues)).not.to.include(KEY);
    });
  });

  describe('category and type', () => {
    it('defaults to category mail, type outgoinglog', () => {
      const s = only(section(''));
      expect([s.category, s.type]).to.deep.equal(['mail', 'outgoinglog']);
    });

    it('defaults type to quarantine for category quarantine', () => {
      expect(only(section('category = quarantine')).type).to.equal('quarantine');
    });

    it("ignores type for authentication and calls it 'auth'", () => {
      expect(only(section('category = authentication\ntype = hold')).type).to.equal('auth');
    });

    it('rejects a quarantine type under category mail, naming the right category', () => {
      const e = errors(section('type = hold'));
      expect(e[0]).to.include({ option: 'type', value: 'hold' });
      expect(e[0]!.message).to.match(/one of incominglog, outgoinglog for category mail; 'hold' belongs to category quarantine: set category = quarantine/);
    });

    it('rejects a mail type under category quarantine, naming mail', () => {
      expect(errors(section('category = quarantine\ntype = incominglog'))[0]!.message).to.match(/set category = mail/);
    });

    it('rejects an unknown type, listing the allowed ones', () => {
      expect(errors(section('type = everything'))[0]!.message).to.match(/must be one of incominglog, outgoinglog for category mail$/);
    });

    it('says when a bad type came from [DEFAULT]', () => {
      const e = errors(`[DEFAULT]\ntype = outgoinglog\n${section('category = quarantine')}`);
      expect(e[0]!.message).to.match(/inherited from \[DEFAULT\].*set category = mail/);
    });
  });

  describe('url precedence', () => {
    const DEFAULTS = '[DEFAULT]\nurl = https://default.example/api/\n';

    it("uses the section's own url over [DEFAULT] and the category default", () => {
      expect(only(DEFAULTS + section('url = https://own.example/x')).url).to.equal('https://own.example/x');
    });

    it('uses a [DEFAULT] url for category mail, without its trailing slash', () => {
      expect(only(DEFAULTS + section('')).url).to.equal('https://default.example/api');
    });

    it('ignores a [DEFAULT] url for quarantine and authentication', () => {
      const cfg = load(DEFAULTS + section('category = quarantine', 'q') + section('category = authentication', 'a'));
      expect(cfg.sections.map((s) => s.url)).to.deep.equal([CATEGORY_URLS.quarantine, CATEGORY_URLS.authentication]);
    });

    it('uses the category default when nothing is set, and treats an empty url as unset', () => {
      expect(only(section('url =')).url).to.equal(MAIL_URL);
    });

    it('reports a bad [DEFAULT] url once, under [DEFAULT]', () => {
      const e = errors('[DEFAULT]\nurl = gopher://x\n' + section('', 'a') + section('', 'b'));
      expect(e).to.have.length(1);
      expect(e[0]).to.include({ section: 'DEFAULT', option: 'url' });
    });
  });

  describe('{id}', () => {
    const md5id = (s: string): string => createHash('md5').update(s).digest('hex').slice(0, 8);

    it("is the Python tool's md5 of api_key + domain + type + category + url", () => {
      const s = only(section('domain = example.com\ntype = incominglog\nposition_file = positions/{id}.pos'));
      const id = md5id(`${KEY}example.comincominglogmail${MAIL_URL}`);
      expect(s.id).to.equal(id);
      expect(s.positionFile).to.equal(join(tmp, 'positions', `${id}.pos`));
    });

    it("hashes the url as written (with its '/') and Python's type fallback for authentication", () => {
      const s = only(section('category = authentication\nurl = https://auth.example/api/'));
      expect(s.url).to.equal('https://auth.example/api');
      expect(s.id).to.equal(md5id(`${KEY}outgoinglogauthenticationhttps://auth.example/api/`));
    });
  });

  describe('paths', () => {
    it('resolves relative paths against the config directory, not the working directory', () => {
      const elsewhere = fs.mkdtempSync(join(os.tmpdir(), 'uzp-cwd-'));
      const cwd = process.cwd();
      fs.writeFileSync(join(tmp, 'ca.pem'), 'pem');
      fs.writeFileSync(join(tmp, 'key'), KEY, { mode: 0o600 });
      process.chdir(elsewhere);
      try {
        const s = only(
          '[MailLogger:s]\napi_key_file = key\ndomain = example.com\nlog_directory = out\n' +
            'metrics_file = m/{section}.prom\nca_file = ca.pem\nlock_file_path = l.lock\n',
        );
        expect(s.logDirectory).to.equal(join(tmp, 'out'));
        expect(s.outputDirectory).to.equal(join(tmp, 'out', 'example.com', 'mail', 'outgoinglog'));
        expect(s.positionFile).to.equal(join(tmp, 'positions', 's.pos'));
        expect(s.lockFilePath).to.equal(join(tmp, 'l.lock'));
        expect(s.metricsFile).to.equal(join(tmp, 'm', 's.prom'));
        expect(s.caFile).to.equal(join(tmp, 'ca.pem'));
        expect(s.heartbeatFile).to.equal(join(s.outputDirectory, 's_heartbeat.json'));
        expect(s.apiKey).to.equal(KEY);
      } finally {
        process.chdir(cwd);
        fs.rmSync(elsewhere, { recursive: true, force: true });
      }
    });

    it('keeps absolute paths and expands every placeholder', () => {
      const abs = join(tmp, 'abs');
      const s = only(section(`domain = example.com\nposition_file = ${abs}/{category}-{type}-{domain}-{section}.pos`, 'x'));
      expect(s.positionFile).to.equal(join(abs, 'mail-outgoinglog-example.com-x.pos'));
      expect(s.metricsFile).to.equal('');
      expect(s.caFile).to.equal('');
    });

    it('keeps a % in a placeholder value literal in file names', () => {
      const s = only(section('domain = a%Hb'));
      expect(s.logFileNameFormat).to.equal('a%%Hb_outgoinglog_%Y-%m-%d_%H.log');
      expect(basename(dataFileName(s, new Date(2025, 0, 2, 3)))).to.equal('a%Hb_outgoinglog_2025-01-02_03.log');
    });
  });

  describe('output directory layout', () => {
    const cases: [string, string[], string][] = [
      ['domain = example.com\ntype = incominglog', ['example.com', 'mail', 'incominglog'], 'example.com_incominglog_2025-01-02_03.log'],
      ['domain = example.com\ncategory = quarantine', ['example.com', 'quarantine'], 'example.com_quarantine_2025-01-02_03.log'],
      ['category = quarantine\ntype = hold', ['global', 'quarantine', 'hold'], 'global_hold_2025-01-02_03.log'],
      ['category = authentication', ['global', 'authentication'], 'global_auth_2025-01-02_03.log'],
    ];
    for (const [body, dirs, file] of cases) {
      it(`puts ${JSON.stringify(body)} under ${dirs.join('/')}`, () => {
        const s = only(section(body));
        expect(s.outputDirectory).to.equal(join(tmp, 'output', ...dirs));
        expect(dataFileName(s, new Date(2025, 0, 2, 3, 4, 5))).to.equal(join(s.outputDirectory, file));
      });
    }
  });

  describe('files shared by two sections', () => {
    it('rejects two sections with the same position_file, naming both', () => {
      const e = errors(section('domain = a.com\nposition_file = shared.pos', 'a') + section('domain = b.com\nposition_file = shared.pos', 'b'));
      expect(e).to.have.length(1);
      expect(e[0]).to.include({ section: 'MailLogger:b', option: 'position_file', value: join(tmp, 'shared.pos') });
      expect(e[0]!.message).to.include('[MailLogger:a] and [MailLogger:b]');
    });

    it('rejects two sections with the same lock_file_path', () => {
      const e = errors(`[DEFAULT]\nlock_file_path = one.lock\n${section('domain = a.com', 'a')}${section('domain = b.com', 'b')}`);
      expect(e.map((i) => i.option)).to.deep.equal(['lock_file_path']);
    });

    it('rejects two sections writing the same data files', () => {
      const e = errors(section('domain = a.com', 'a') + section('domain = a.com', 'b'));
      expect(e.map((i) => i.option)).to.deep.equal(['log_file_name_format']);
      expect(e[0]!.message).to.match(/write into the same data files/);
    });
  });

  describe('log names beside the data files', () => {
    it('rejects a message log name that data files could have (log lines in the data, retention deleting data)', () => {
      const e = errors(section('domain = a.com\ntype = incominglog\nmessage_log_file_name = {domain}_{type}_%Y-%m-%d_%H.log', 'a'));
      expect(e.map((i) => [i.section, i.option])).to.deep.equal([['MailLogger:a', 'message_log_file_name']]);
      expect(e[0]!.value).to.equal('a.com_incominglog_%Y-%m-%d_%H.log');
      expect(e[0]!.message).to.include('could be named like the data files of [MailLogger:a]').and.include('retention would delete data files');
    });

    it("rejects an error log name matching another section's data files in the same directory", () => {
      // Same domain, category and type: one output directory, told apart by their data file names.
      const e = errors(
        section('domain = a.com\nlog_file_name_format = data_%Y%m%d.log', 'a') +
          section('domain = a.com\nlog_file_name_format = b_%Y%m%d.log\nerror_log_file_name = data_%Y%m%d.log', 'b'),
      );
      expect(e.map((i) => [i.section, i.option])).to.deep.equal([['MailLogger:b', 'error_log_file_name']]);
      expect(e[0]!.message).to.include('data files of [MailLogger:a]');
    });

    it('rejects message and error logs whose names overlap', () => {
      const e = errors(section('domain = a.com\nmessage_log_file_name = log_%Y-%m-%d.log\nerror_log_file_name = log_%Y-%m-%d.log', 'a'));
      expect(e.map((i) => i.option)).to.deep.equal(['error_log_file_name']);
      expect(e[0]!.message).to.include('the two logs would mix');
    });

    it('accepts the defaults and log names of their own', () => {
      expect(() => load(section('domain = a.com\nmessage_log_file_name = run_%Y-%m-%d.txt', 'a'))).not.to.throw();
    });
  });

  describe('reporting', () => {
    it('reports every problem in the file at once', () => {
      const err = failure(
        '[DEFAULT]\nsplit_interval = 0\n' +
          section('category = nope', 'a') +
          section('max_parallel_details = 100\nverbose = perhaps', 'b') +
          '[MailLogger:c]\nspilt_interval = 5\n',
      );
      expect(err.code).to.equal('UZP_CONFIG_INVALID');
      const got = err.issues.map((i) => `${i.severity} ${i.section} ${i.option ?? ''}`);
      expect(got).to.have.members([
        'error DEFAULT split_interval',
        'error MailLogger:a category',
        'error MailLogger:b max_parallel_details',
        'error MailLogger:b verbose',
        'error MailLogger:c api_key',
        'warning MailLogger:c spilt_interval',
      ]);
      const lines = err.message.split('\n');
      expect(lines[0]).to.equal(`config file ${join(tmp, 'uzmanposta.ini')} has 5 errors and 1 warning:`);
      expect(lines).to.include('  error: [MailLogger:b] max_parallel_details = "100": must be an integer from 1 to 64');
      expect(lines.at(-1)).to.match(/warning: \[MailLogger:c\] spilt_interval: unknown option, ignored \(did you mean split_interval\?\)/);
    });

    it('returns warnings for unknown options instead of throwing, without their values', () => {
      const cfg = load(`[DEFAULT]\nfoo = 1\n${section('api_kye = secret-value-123')}`);
      expect(cfg.warnings.map((w) => [w.section, w.option])).to.deep.equal([
        ['DEFAULT', 'foo'],
        ['MailLogger:s', 'api_kye'],
      ]);
      expect(cfg.warnings[1]!.message).to.include('did you mean api_key?');
      expect(JSON.stringify(cfg.warnings)).not.to.include('secret-value-123');
    });

    it('warns about an unknown placeholder', () => {
      const cfg = load(section('position_file = p/{sektion}.pos'));
      expect(cfg.warnings[0]).to.include({ option: 'position_file' });
      expect(cfg.warnings[0]!.message).to.match(/\{sektion\} is not a placeholder/);
    });

    it('warns when a file holding an api_key is readable by group or others', () => {
      const path = write(section(''), 'open.ini', 0o644);
      const cfg = loadConfig(path, { now: NOW, env: {} });
      expect(cfg.warnings).to.have.length(1);
      expect(cfg.warnings[0]).to.include({ section: 'MailLogger:s', option: 'api_key', severity: 'warning' });
      expect(cfg.warnings[0]!.message).to.include(`chmod 600 ${path}`).and.include('api_key_file');
    });

    it('does not warn about a readable file that holds no key', () => {
      const path = write('[MailLogger:s]\napi_key_env = K\n', 'open.ini', 0o644);
      expect(loadConfig(path, { now: NOW, env: { K: KEY } }).warnings).to.deep.equal([]);
    });

    it('warns when api_key_file is readable by group or others', () => {
      fs.writeFileSync(join(tmp, 'key'), KEY);
      fs.chmodSync(join(tmp, 'key'), 0o644);
      const cfg = load('[MailLogger:s]\napi_key_file = key\n');
      expect(cfg.warnings[0]).to.include({ option: 'api_key_file' });
      expect(cfg.warnings[0]!.message).to.match(/chmod 600/);
    });

    it("does not warn about a key file another user owns that we read through our own group only (a Kubernetes Secret with fsGroup, 0440)", function () {
      // Needs a file owned by someone else: only root can make one.
      if (process.getuid?.() !== 0) this.skip();
      const file = join(tmp, 'secret-key');
      fs.writeFileSync(file, KEY);
      fs.chmodSync(file, 0o440);
      fs.chownSync(file, 4242, process.getgid!());
      expect(load('[MailLogger:s]\napi_key_file = secret-key\n').warnings).to.deep.equal([]);
      // The same file readable by others as well is still a leak.
      fs.chmodSync(file, 0o444);
      expect(load('[MailLogger:s]\napi_key_file = secret-key\n').warnings[0]!.message).to.match(/readable by group or others \(mode 0444\)/);
    });
  });

  describe('the config file itself', () => {
    it('names a missing file and what to do', () => {
      const path = join(tmp, 'nope.ini');
      let err: unknown;
      try {
        loadConfig(path);
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(ConfigError);
      const ce = err as ConfigError;
      expect(ce.context.path).to.equal(path);
      expect(ce.message).to.include(path).and.include('does not exist').and.include('--config');
    });

    it('rejects a directory given as the file', () => {
      expect(() => loadConfig(tmp)).to.throw(ConfigError, /is a directory; pass the INI file itself/);
    });

    it('rejects an unreadable file', function () {
      if (process.getuid?.() === 0) this.skip(); // root reads any file
      const path = write(section(''), 'locked.ini', 0o000);
      expect(() => loadConfig(path)).to.throw(ConfigError, /permission denied/);
    });

    it('rejects a file that is not UTF-8', () => {
      const path = join(tmp, 'latin1.ini');
      fs.writeFileSync(path, Buffer.from([0x5b, 0xe7, 0x5d, 0x0a]));
      expect(() => loadConfig(path)).to.throw(ConfigError, /not UTF-8/);
    });

    it('rejects a file with no section', () => {
      expect(failure('# nothing here\n').issues[0]!.message).to.match(/no \[MailLogger:NAME\] section/);
    });

    it('rejects a file with only other sections', () => {
      expect(failure('[DEFAULT]\ndomain = x\n[Other]\na = b\n').issues[0]!.message).to.match(/it has only \[Other\]/);
    });

    it('returns the absolute path and directory', () => {
      const cfg = load(section(''));
      expect(cfg.path).to.equal(join(tmp, 'uzmanposta.ini'));
      expect(cfg.dir).to.equal(tmp);
    });
  });

  describe('defaults', () => {
    it('gives a minimal section every documented default', () => {
      const s = only(section(''));
      expect(s).to.deep.include({
        section: 'MailLogger:s',
        name: 's',
        domain: '',
        category: 'mail',
        type: 'outgoinglog',
        url: MAIL_URL,
        startTime: NOW - 60,
        endDelay: 60,
        logDirectory: join(tmp, 'output'),
        outputDirectory: join(tmp, 'output', 'global', 'mail', 'outgoinglog'),
        logFileNameFormat: 'global_outgoinglog_%Y-%m-%d_%H.log',
        messageLogFileName: 'messages_%Y-%m-%d_%H.log',
        messageLogRetentionCount: 2,
        errorLogFileName: 'errors_%Y-%m-%d_%H.log',
        errorLogRetentionCount: 2,
        heartbeatFile: join(tmp, 'output', 'global', 'mail', 'outgoinglog', 's_heartbeat.json'),
        positionFile: join(tmp, 'positions', 's.pos'),
        lockFilePath: join(tmp, 'locks', 's.lock'),
        splitInterval: 300,
        maxTimeGap: 3600,
        maxRecordsPerPage: 1000,
        listTimeout: 300,
        detailTimeout: 120,
        listRetries: 10,
        listSleepTime: 2,
        detailRetries: 10,
        detailSleepTime: 2,
        maxParallelDetails: 2,
        maxResponseSize: 64,
        useSession: true,
        verbose: true,
        fileTime: 'write',
        rateLimit: 0,
        metricsFile: '',
        caFile: '',
      });
    });
  });

  describe('findSection', () => {
    it('finds a section by full or short name', () => {
      const cfg = load(section('domain = a.com', 'a') + section('domain = b.com', 'b.x'));
      expect(findSection(cfg, 'MailLogger:b.x')?.domain).to.equal('b.com');
      expect(findSection(cfg, 'a')?.domain).to.equal('a.com');
      expect(findSection(cfg, 'c')).to.equal(undefined);
    });
  });
});
