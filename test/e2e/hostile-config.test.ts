// Hostile configs and state files (issue 3, part 2): each runs the real
// bin/uzmanposta against the mock and checks the exit code, what the user is
// told, what was (not) fetched and that the position never moves by mistake.

import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

import { expect } from 'chai';

import type { MockApi } from '../../src/mock-api/index.js';
import { strftime } from '../../src/config/strftime.js';
import { runCli, tempDir, type CliRun } from '../support/harness.js';
import { dayAnchor } from '../support/epochs.js';
import * as fx from '../support/hostile-fixtures.js';


describe('hostile config and state files', function () {
  this.timeout(30_000);
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    await Promise.all(closers.splice(0).map((close) => close()));
  });
  const register = (close: () => Promise<void>): void => void closers.push(close);

  let mock: MockApi;
  let start: number;
  // Twenty minutes of data at a fixed offset from a UTC midnight, the same at any hour.
  const SPAN = 1200;
  beforeEach(async () => {
    start = dayAnchor() + 12 * 3600;
    mock = await fx.mockForTest({ seed: 21, from: start - 3600, to: start + SPAN + 3600, streams: [fx.AUTH] }, register);
  });

  const section = (options: Record<string, string> = {}): fx.SectionSpec => ({
    name: 's',
    category: 'authentication',
    url: mock.urls.authentication,
    startTime: start,
    // A run (no --start-time) goes up to now − end_delay: this delay ends it at
    // start + SPAN, give or take the seconds between writing the config and the run.
    options: { end_delay: String(fx.nowSeconds() - (start + SPAN)), ...options },
  });

  function savePosition(dir: string, text: string): string {
    const path = fx.positionPath(dir, 's');
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
    return path;
  }

  function expectNothingFetched(result: CliRun): void {
    expect(mock.stats().requests, `requests made; stderr: ${result.stderr}`).to.equal(0);
  }

  describe('the config file itself', () => {
    it('a missing config file: exit 2, naming the path, nothing fetched', async () => {
      const dir = tempDir('uzp-hostile-');
      const result = await runCli(['--config', 'nowhere.ini'], { cwd: dir });
      expect(result.code).to.equal(2);
      expect(result.stderr).to.include(join(dir, 'nowhere.ini')).and.include('does not exist');
      expectNothingFetched(result);
    });

    it('a directory given as the config: exit 2, saying so, nothing fetched', async () => {
      const dir = tempDir('uzp-hostile-');
      mkdirSync(join(dir, 'conf.d'));
      const result = await runCli(['--config', 'conf.d'], { cwd: dir });
      expect(result.code).to.equal(2);
      expect(result.stderr).to.include(`${join(dir, 'conf.d')} is a directory`);
      expectNothingFetched(result);
    });

    it("domains that would escape log_directory ('../x', '/abs', NUL) are rejected at validation, all at once", async () => {
      const dir = tempDir('uzp-hostile-');
      const bad = { up: '../x', abs: '/abs', nul: 'a\0b.test' };
      const config = fx.writeConfig(
        dir,
        Object.entries(bad).map(([name, domain]) => ({ ...section(), name, domain })),
      );
      const result = await runCli(['--config', config, '--all'], { cwd: dir });
      expect(result.code, result.stderr).to.equal(2);
      for (const name of Object.keys(bad)) expect(result.stderr).to.match(new RegExp(`\\[MailLogger:${name}\\] domain = .*: must be a domain name`));
      expect(result.stderr).to.include('../x').and.include('/abs');
      expectNothingFetched(result);
      // '../x' would have landed in the config's directory beside out/: nothing was created anywhere.
      expect(readdirSync(dir)).to.deep.equal(['uzmanposta.ini']);
    });
  });

  describe('state and output paths', () => {
    it('a directory where the position file is expected: the section fails naming it, nothing fetched', async () => {
      const dir = tempDir('uzp-hostile-');
      const config = fx.writeConfig(dir, [section()]);
      const pos = fx.positionPath(dir, 's');
      mkdirSync(pos, { recursive: true });
      const result = await runCli(['--config', config], { cwd: dir });
      expect(result.code, result.stderr).to.equal(1);
      expect(result.stderr).to.include('[MailLogger:s]').and.include(`position file ${pos}`).and.include('EISDIR');
      expectNothingFetched(result);
      const logged = fx.errorLog(fx.outputDir(dir, 'authentication')).filter((e) => e.code === 'UZP_STATE_CORRUPT');
      expect(logged).to.have.length(1);
      expect(logged[0]).to.include({ path: pos });
    });

    it('an output directory that cannot be created (under a regular file): exit 1 naming the path, position unchanged', async () => {
      const dir = tempDir('uzp-hostile-');
      writeFileSync(join(dir, 'plain-file'), 'not a directory\n');
      const config = fx.writeConfig(dir, [section()], { log_directory: './plain-file/out' });
      savePosition(dir, `${start}\n`);
      const result = await runCli(['--config', config], { cwd: dir });
      expect(result.code, result.stderr).to.equal(1);
      const summary = result.stdout.split('\n').find((line) => line.includes('MailLogger:s: failed'));
      expect(summary, result.stdout).to.be.a('string');
      expect(summary).to.include('UZP_WRITE_FAILED').and.include(fx.outputDir(join(dir, 'plain-file'), 'authentication')).and.include('ENOTDIR');
      // Found before the first request: nothing is fetched that could not be written.
      expectNothingFetched(result);
      expect(fx.readPositionFile(dir, 's')).to.equal(start);
      expect(existsSync(`${fx.positionPath(dir, 's')}.journal`), 'no commit journal left behind').to.equal(false);
    });

    it("resumes from the Python tool's position file (a plain integer and a newline)", async () => {
      const dir = tempDir('uzp-hostile-');
      const config = fx.writeConfig(dir, [section({ start_time: String(start - 3000) })]);
      const resumeAt = start + 300;
      savePosition(dir, `${resumeAt}\n`);
      const result = await runCli(['--config', config], { cwd: dir });
      expect(result.code, result.stderr).to.equal(0);
      const requests = fx.listRequests(mock);
      // One second before the position: the widening that copes with either range-end rule (docs/api.md, "Range ends").
      expect(requests[0]?.starttime).to.equal(resumeAt - 1);
      expect(Math.min(...requests.map((r) => r.starttime))).to.equal(resumeAt - 1);
      const position = fx.readPositionFile(dir, 's') as number;
      expect(position).to.be.above(resumeAt);
      const truth = mock.expected(fx.selector('authentication'), resumeAt, position);
      expect(truth.length).to.be.greaterThan(20);
      expect(fx.written(dir, 'authentication')).to.deep.equal(truth);
      expect(readFileSync(fx.positionPath(dir, 's'), 'utf8')).to.equal(`${position}\n`);
    });

    it('a corrupt position file: the section fails naming the file and the fix, fetches nothing, never restarts from start_time', async () => {
      const dir = tempDir('uzp-hostile-');
      const config = fx.writeConfig(dir, [section()]);
      const pos = savePosition(dir, 'abc');
      const result = await runCli(['--config', config], { cwd: dir });
      expect(result.code, result.stderr).to.equal(1);
      expect(result.stderr).to.include(`position file ${pos}`).and.include('corrupt').and.include('"abc"');
      expect(result.stderr).to.include('write that Unix time').and.include('delete it');
      expectNothingFetched(result);
      expect(readFileSync(pos, 'utf8')).to.equal('abc');
      expect(fx.written(dir, 'authentication')).to.deep.equal([]);
    });

    it('a position in the future (clock set back, backup restored): the section fails naming the file and what to check, fetches nothing', async () => {
      const dir = tempDir('uzp-hostile-');
      const config = fx.writeConfig(dir, [section()]);
      const ahead = fx.nowSeconds() + 7200;
      const pos = savePosition(dir, `${ahead}\n`);
      const result = await runCli(['--config', config], { cwd: dir });
      expect(result.code, result.stderr).to.equal(1);
      expect(result.stderr).to.include(`position file ${pos} holds ${ahead}`).and.include('after now − end_delay');
      expect(fx.errorLog(fx.outputDir(dir, 'authentication')).map((e) => e.code)).to.deep.equal(['UZP_POSITION_AHEAD']);
      expect(result.stderr).to.include("Check this host's clock").and.include('restored from a backup');
      expectNothingFetched(result);
      expect(readFileSync(pos, 'utf8')).to.equal(`${ahead}\n`);
    });

    it('an --end-time after now − end_delay is capped: the position never passes it, and a note says so', async () => {
      const dir = tempDir('uzp-hostile-');
      // One reading of the clock for the config and the check: two could fall either side of a second.
      const endDelay = fx.nowSeconds() - (start + SPAN);
      const config = fx.writeConfig(dir, [section({ end_delay: String(endDelay) })]);
      const before = fx.nowSeconds();
      const result = await runCli(['--config', config, '--start-time', String(start), '--end-time', String(before + 7200)], { cwd: dir });
      const after = fx.nowSeconds();
      expect(result.code, result.stderr).to.equal(0);
      const position = fx.readPositionFile(dir, 's') as number;
      expect(position, 'the position stops at now − end_delay').to.be.within(before - endDelay, after - endDelay);
      expect(fx.written(dir, 'authentication')).to.deep.equal(mock.expected(fx.selector('authentication'), start, position));
      expect(fx.messageLog(fx.outputDir(dir, 'authentication'))).to.include(`--end-time ${before + 7200} is after now − end_delay`);
    });

    it('data_retention_days: a run deletes its own data files older than that, logs and counts it, and keeps the rest', async () => {
      const dir = tempDir('uzp-hostile-');
      const config = fx.writeConfig(dir, [section({ data_retention_days: '3' })]);
      savePosition(dir, `${start}\n`);
      const out = fx.outputDir(dir, 'authentication');
      mkdirSync(out, { recursive: true });
      const name = (t: number): string => `${fx.dataPrefix('authentication')}${strftime('%Y-%m-%d_%H', new Date(t * 1000))}.log`;
      const old = name(start - 10 * 86400);
      const young = name(start - 3600);
      writeFileSync(join(out, old), '{"old":true}\n');
      writeFileSync(join(out, young), '{"young":true}\n');
      const result = await runCli(['--config', config], { cwd: dir });
      expect(result.code, result.stderr).to.equal(0);
      expect(existsSync(join(out, old)), 'ten days old: deleted').to.equal(false);
      expect(existsSync(join(out, young)), 'an hour before the position: kept').to.equal(true);
      expect(fx.messageLog(out)).to.include(`data retention: deleted ${join(out, old)}`);
      expect(result.stdout).to.include('1 old data file deleted (data_retention_days)');
      expect(fx.heartbeat(out, 's').metrics.dataFilesDeleted).to.equal(1);
    });

    it("resolves relative paths from the config's directory, not the working directory", async () => {
      const root = tempDir('uzp-hostile-');
      const confDir = join(root, 'etc');
      const elsewhere = join(root, 'elsewhere');
      mkdirSync(confDir);
      mkdirSync(elsewhere);
      fx.writeConfig(confDir, [section()]);
      const result = await runCli(['--config', '../etc/uzmanposta.ini'], { cwd: elsewhere });
      expect(result.code, result.stderr).to.equal(0);
      expect(readdirSync(elsewhere), 'nothing written in the working directory').to.deep.equal([]);
      expect(readdirSync(confDir).sort()).to.include.members(['locks', 'out', 'positions', 'uzmanposta.ini']);
      const position = fx.readPositionFile(confDir, 's') as number;
      const truth = mock.expected(fx.selector('authentication'), start, position);
      expect(truth.length).to.be.greaterThan(20);
      expect(fx.written(confDir, 'authentication')).to.deep.equal(truth);
    });
  });
});
