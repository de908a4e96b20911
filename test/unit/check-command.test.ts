// `uzmanposta --check [--online]`, called through main() as bin/ does: what
// each section resolves to, every problem listed, and the exit code an
// operator's script relies on (0 all well, 1 a section has a problem, 2 the
// config is invalid).

import { expect } from 'chai';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { main } from '../../src/cli/main.js';
import { maskKey } from '../../src/common/mask.js';
import { startMockApi, type MockApi } from '../../src/mock-api/index.js';
import { tempDir } from '../support/harness.js';
import { dayAnchor } from '../support/epochs.js';
import { writeIni, type IniSections } from '../support/write-ini.js';

const KEY = 'check-test-key-0123456789abcdef';
const OTHER_KEY = 'other-test-key-fedcba9876543210';
const DOMAIN = 'example.com';

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString('utf8');
    done();
  }
}

async function check(args: string[], env: Record<string, string | undefined> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await main(args, { stdout, stderr, env });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

/** The shape --check --json promises, as far as these tests read it. */
interface CheckJson {
  config: string;
  sections: { section: string; start: { at: number; iso: string; from: string; text: string } | null; problems: string[]; [field: string]: unknown }[];
  online?: { spanSeconds: number; probes: { sections: string[]; ok: boolean; text: string; hint?: string }[] };
  problems: number;
  ok: boolean;
}

/** The lines of one section's block in --check output. */
function block(stdout: string, section: string): string {
  const start = stdout.indexOf(`[${section}]\n`);
  expect(start, `block of ${section} in:\n${stdout}`).to.be.greaterThan(-1);
  const end = stdout.indexOf('\n\n', start);
  return stdout.slice(start, end < 0 ? undefined : end);
}

describe('--check', function () {
  this.timeout(20_000);
  let mock: MockApi;
  // Start times and positions sit at fixed offsets from a UTC midnight (set
  // when this suite starts, not at import); the data runs past now, for the
  // --online probe of a recent minute.
  let ANCHOR = 0;

  before(async () => {
    ANCHOR = dayAnchor();
    mock = await startMockApi({
      seed: 2,
      from: ANCHOR,
      to: ANCHOR + 3 * 86_400,
      streams: [
        { key: KEY, domain: DOMAIN, category: 'mail', type: 'incominglog', perMinute: 30 },
        { key: KEY, domain: DOMAIN, category: 'mail', type: 'outgoinglog', perMinute: 30 },
        { key: KEY, domain: DOMAIN, category: 'quarantine', type: 'quarantine', perMinute: 5 },
        // A valid key, but not for example.com: the service answers 403 for it there.
        { key: OTHER_KEY, domain: 'example.org', category: 'authentication', perMinute: 5 },
      ],
    });
  });
  after(() => mock.close());

  function config(sections: IniSections, name = 'uzmanposta.ini'): { dir: string; path: string } {
    const dir = tempDir('uzp-check-');
    return { dir, path: writeIni(join(dir, name), sections) };
  }

  const startTime = (): number => ANCHOR + 3600;
  const savedPosition = (): number => ANCHOR + 7200;
  const goodConfig = (): IniSections => ({
    DEFAULT: { api_key: KEY, domain: DOMAIN, start_time: startTime() },
    'MailLogger:in': { type: 'incominglog', url: mock.urls.mail },
    'MailLogger:out': { type: 'outgoinglog', url: mock.urls.mail },
    // At least 8 days before now, whatever the hour: past the 6 days a quarantine start is capped at.
    'MailLogger:q': { category: 'quarantine', url: mock.urls.quarantine, start_time: ANCHOR - 8 * 86_400 },
  });

  /** The `N s behind` of a start line, checked to lie within what the clock said around the run. */
  function expectBehind(line: string, start: number, before: number, after: number): void {
    const m = new RegExp(`start       ${start} \\(\\S+, (\\d+) s behind\\)`).exec(line);
    expect(m, line).to.not.equal(null);
    expect(Number(m?.[1])).to.be.within(before - start, after - start);
  }
  const nowSeconds = (): number => Math.floor(Date.now() / 1000);

  it('prints each section\'s resolved settings and exits 0 when all is well', async () => {
    const { dir, path } = config(goodConfig());
    mkdirSync(join(dir, 'positions'));
    writeFileSync(join(dir, 'positions', 'out.pos'), `${savedPosition()}\n`);

    const before = nowSeconds();
    const r = await check(['--config', path, '--check']);
    const after = nowSeconds();
    expect(r.code, r.stdout + r.stderr).to.equal(0);
    expect(r.stdout).to.include(`Config ${path}: valid, 3 section(s)`);
    const inBlock = block(r.stdout, 'MailLogger:in');
    expect(inBlock).to.include(`api_key     ${maskKey(KEY)}`);
    expect(inBlock).to.include(`category    mail   type incominglog   domain ${DOMAIN}`);
    expect(inBlock).to.include(`url         ${mock.urls.mail}`);
    expect(inBlock).to.include(`output      ${join(dir, 'output', DOMAIN, 'mail', 'incominglog')}`);
    expect(inBlock).to.include(`position    ${join(dir, 'positions', 'in.pos')}`);
    expect(inBlock).to.include(`lock        ${join(dir, 'locks', 'in.lock')} (free)`);
    expect(inBlock).to.include(`heartbeat   ${join(dir, 'output', DOMAIN, 'mail', 'incominglog', 'in_heartbeat.json')}`);
    expect(inBlock).to.match(new RegExp(`start       ${startTime()} \\(\\S+, \\d+ s behind\\) from start_time`));
    expectBehind(inBlock, startTime(), before, after);
    // A saved position wins over start_time, and says so.
    const outBlock = block(r.stdout, 'MailLogger:out');
    expect(outBlock).to.match(new RegExp(`start       ${savedPosition()} \\(\\S+, \\d+ s behind\\) from the position file`));
    expectBehind(outBlock, savedPosition(), before, after);
    // Quarantine older than 7 days draws a 406 (docs/api.md, "Retention"); the check says the run starts later.
    expect(block(r.stdout, 'MailLogger:q')).to.match(/older than 6 days, so the run starts at \d+/);
    expect(r.stdout).to.include('All checks passed.');
    expect(r.stdout).to.not.include(KEY);
    expect(r.stdout).to.not.include('Online check');
  });

  it('shows only the section named with --section', async () => {
    const { path } = config(goodConfig());
    const r = await check(['--config', path, '--check', '--section', 'q']);
    expect(r.code).to.equal(0);
    expect(r.stdout).to.include('[MailLogger:q]');
    expect(r.stdout).to.not.include('[MailLogger:in]');
  });

  it('exits 2 and lists every problem of a broken config at once', async () => {
    const { path } = config({
      DEFAULT: { api_key: KEY },
      'MailLogger:a': { category: 'logs' },
      'MailLogger:b': { category: 'quarantine', type: 'incominglog' },
      'MailLogger:c': { start_time: 'yesterday', split_interval: 0 },
      'MailLogger:d': { api_key: '' },
    });
    const r = await check(['--config', path, '--check']);
    expect(r.code).to.equal(2);
    expect(r.stdout).to.equal('');
    expect(r.stderr).to.include(`config file ${path} has 5 errors`);
    for (const expected of [
      /\[MailLogger:a\] category = "logs": must be one of: mail, quarantine, authentication/,
      /\[MailLogger:b\] type = "incominglog": must be one of quarantine, hold for category quarantine/,
      /\[MailLogger:c\] start_time = "yesterday": must be Unix seconds/,
      /\[MailLogger:c\] split_interval = "0": must be an integer from 1/,
      /\[MailLogger:d\] api_key.*is empty/,
    ]) {
      expect(r.stderr).to.match(expected);
    }
  });

  it('exits 1 naming a corrupt position file, an unusable output directory and a held lock', async () => {
    const { dir, path } = config(goodConfig());
    mkdirSync(join(dir, 'positions'));
    writeFileSync(join(dir, 'positions', 'in.pos'), 'garbage\n');
    // log_directory under a regular file can never be created.
    writeFileSync(join(dir, 'not-a-dir'), '');
    const good = goodConfig();
    writeIni(path, { ...good, 'MailLogger:out': { log_directory: 'not-a-dir/output', ...good['MailLogger:out'] } });
    mkdirSync(join(dir, 'locks'));
    writeFileSync(join(dir, 'locks', 'q.lock'), JSON.stringify({ pid: 4242, hostname: 'collector-1', startedAt: '2025-01-01T00:00:00.000Z' }));

    const r = await check(['--config', path, '--check']);
    expect(r.code).to.equal(1);
    expect(block(r.stdout, 'MailLogger:in')).to.match(/PROBLEM: position file .*in\.pos of section MailLogger:in is corrupt/);
    expect(block(r.stdout, 'MailLogger:out')).to.match(/PROBLEM: the output directory .*not-a-dir\/output.* cannot be created or written: .*not-a-dir is a file/);
    expect(block(r.stdout, 'MailLogger:q')).to.include('held by pid 4242 on collector-1 since 2025-01-01T00:00:00.000Z');
    expect(r.stdout).to.include('2 problem(s) found.');
  });

  it('exits 1 naming a position after now − end_delay, and what to check', async () => {
    const { dir, path } = config(goodConfig());
    const ahead = Math.floor(Date.now() / 1000) + 7200;
    mkdirSync(join(dir, 'positions'));
    writeFileSync(join(dir, 'positions', 'q.pos'), `${ahead}\n`);
    const r = await check(['--config', path, '--check']);
    expect(r.code).to.equal(1);
    expect(block(r.stdout, 'MailLogger:q')).to.include(`PROBLEM: section MailLogger:q: the position file ${join(dir, 'positions', 'q.pos')} holds ${ahead}`);
    expect(block(r.stdout, 'MailLogger:q')).to.include("Check this host's clock");
    expect(r.stdout).to.include('1 problem(s) found.');
  });

  it('--json prints one JSON document with each section, its start and its problems, and nothing else', async () => {
    const { dir, path } = config(goodConfig());
    mkdirSync(join(dir, 'positions'));
    writeFileSync(join(dir, 'positions', 'out.pos'), `${savedPosition()}\n`);
    writeFileSync(join(dir, 'positions', 'in.pos'), 'garbage\n');

    const r = await check(['--config', path, '--check', '--json']);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.equal('');
    const doc = JSON.parse(r.stdout) as CheckJson;
    expect(doc.config).to.equal(path);
    expect(doc.sections.map((s) => s.section)).to.deep.equal(['MailLogger:in', 'MailLogger:out', 'MailLogger:q']);
    const [inS, outS, qS] = doc.sections;
    expect(inS?.start).to.equal(null);
    expect(inS?.problems).to.have.length(1);
    expect(inS?.problems[0]).to.match(/position file .*in\.pos of section MailLogger:in is corrupt/);
    expect(outS).to.deep.include({
      apiKey: maskKey(KEY),
      category: 'mail',
      type: 'outgoinglog',
      domain: DOMAIN,
      url: mock.urls.mail,
      outputDirectory: join(dir, 'output', DOMAIN, 'mail', 'outgoinglog'),
      positionFile: join(dir, 'positions', 'out.pos'),
      lockFile: join(dir, 'locks', 'out.lock'),
      lock: 'free',
      problems: [],
    });
    expect(outS?.start).to.deep.include({ at: savedPosition(), from: 'position', iso: new Date(savedPosition() * 1000).toISOString() });
    expect(qS?.start?.from).to.equal('start_time');
    expect(qS?.start?.text).to.match(/older than 6 days, so the run starts at \d+/);
    expect(doc.online).to.equal(undefined);
    expect(doc.problems).to.equal(1);
    expect(doc.ok).to.equal(false);
    expect(r.stdout).to.not.include(KEY);
  });

  describe('--online', () => {
    it('makes one small request per key, domain and url, and exits 0 when they work', async () => {
      const { path } = config(goodConfig());
      mock.resetStats();
      const r = await check(['--config', path, '--check', '--online']);
      expect(r.code, r.stdout).to.equal(0);
      expect(r.stdout).to.match(/\[MailLogger:in, MailLogger:out\] OK: key and domain accepted: \d+ record\(s\) in that minute/);
      expect(r.stdout).to.match(/\[MailLogger:q\] OK: key and domain accepted/);
      const log = mock.stats().log;
      // in and out share key, domain and url: one request covers both.
      expect(log.map((e) => [e.kind, e.category, e.status])).to.deep.equal([
        ['list', 'mail', 200],
        ['list', 'quarantine', 200],
      ]);
      for (const e of log) expect((e.endtime ?? 0) - (e.starttime ?? 0)).to.equal(60);
    });

    it('exits 1 and says what to do when the key is wrong or not allowed for the domain', async () => {
      const { path } = config({
        DEFAULT: { domain: DOMAIN },
        'MailLogger:wrong': { api_key: 'not-the-key-0000000000000000', url: mock.urls.mail },
        'MailLogger:other-domain': { api_key: OTHER_KEY, category: 'authentication', url: mock.urls.authentication },
      });
      const r = await check(['--config', path, '--check', '--online']);
      expect(r.code).to.equal(1);
      expect(r.stdout).to.match(/\[MailLogger:wrong\] FAILED: section MailLogger:wrong: the API refused the key with HTTP 401/);
      expect(r.stdout).to.match(/\[MailLogger:other-domain\] FAILED: .*HTTP 403/);
      expect(r.stdout).to.include(
        'what to do: put a valid key from the Uzman Posta panel in api_key (or api_key_env / api_key_file) of [MailLogger:wrong] or [DEFAULT]; it must be active and allowed for domain example.com',
      );
      expect(r.stdout).to.include('2 problem(s) found.');
      expect(r.stdout).to.not.include(OTHER_KEY);
    });

    it('names a host that does not resolve as a DNS failure', async () => {
      const { path } = config({ 'MailLogger:nowhere': { api_key: KEY, url: 'https://uzmanposta-check-test.invalid/api/v2/logs/mail' } });
      const r = await check(['--config', path, '--check', '--online']);
      expect(r.code).to.equal(1);
      expect(r.stdout).to.match(/FAILED: .*DNS resolution failed for uzmanposta-check-test\.invalid/);
      expect(r.stdout).to.include("what to do: the host in url (https://uzmanposta-check-test.invalid/api/v2/logs/mail) does not resolve from this machine");
    });

    it('--json gives the probes, each verdict and hint, in the one JSON document', async () => {
      const { path } = config({
        DEFAULT: { domain: DOMAIN, start_time: startTime() },
        'MailLogger:in': { api_key: KEY, type: 'incominglog', url: mock.urls.mail },
        'MailLogger:wrong': { api_key: 'not-the-key-0000000000000000', url: mock.urls.mail },
      });
      const r = await check(['--config', path, '--check', '--online', '--json']);
      expect(r.code).to.equal(1);
      const doc = JSON.parse(r.stdout) as CheckJson;
      expect(doc.online?.spanSeconds).to.equal(60);
      expect(doc.online?.probes.map((p) => [p.sections, p.ok])).to.deep.equal([
        [['MailLogger:in'], true],
        [['MailLogger:wrong'], false],
      ]);
      expect(doc.online?.probes[1]?.text).to.match(/refused the key with HTTP 401/);
      expect(doc.online?.probes[1]?.hint).to.match(/^put a valid key from the Uzman Posta panel/);
      expect(doc.problems).to.equal(1);
      expect(doc.ok).to.equal(false);
      expect(r.stdout).to.not.include('not-the-key-0000000000000000');
    });

    it('is refused without --check', async () => {
      const { path } = config(goodConfig());
      const r = await check(['--config', path, '--online']);
      expect(r.code).to.equal(2);
      expect(r.stderr).to.include('--online goes with --check');
    });
  });
});
