import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { NetworkError, WriteError } from '../../src/common/errors.js';
import { maskKey } from '../../src/common/mask.js';
import { createSectionLog, errorLogEntryFrom, type SectionLogOptions } from '../../src/storage/section-log.js';

// A key shaped like the real ones, with characters that URL-encoding changes,
// so a leak through an encoded query string would show.
const KEY = 'uZp7Kx9Qm2Lr8Vt4+Nw6Hs3Jd5Fb1Gc0/Ya8Ee2Tq=';
const ENCODED_KEY = encodeURIComponent(KEY);
const MASKED = maskKey(KEY);
const SECTION = 'MailLogger:example.com-in';

function collect(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

function readAll(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!fs.existsSync(dir)) return out;
  for (const name of fs.readdirSync(dir)) out[name] = fs.readFileSync(path.join(dir, name), 'utf8');
  return out;
}

function lines(text: string | undefined): string[] {
  expect(text, 'file exists').to.be.a('string');
  return (text ?? '').split('\n').filter((l) => l.length > 0);
}

describe('section log', () => {
  let tmp: string;
  let dir: string;

  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'uzp-section-log-'));
    dir = path.join(tmp, 'example.com', 'mail', 'incominglog');
  });
  afterEach(() => {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  function options(overrides: Partial<SectionLogOptions> = {}): SectionLogOptions {
    return {
      section: SECTION,
      apiKey: KEY,
      domain: 'example.com',
      type: 'incominglog',
      outputDirectory: dir,
      messageLogFileName: 'messages_%Y-%m-%d_%H.log',
      errorLogFileName: 'errors_%Y-%m-%d_%H.log',
      verbose: true,
      now: () => new Date(2025, 0, 2, 10, 15, 30, 250),
      ...overrides,
    };
  }

  it('writes timestamped, section-prefixed lines to the file strftime names from the write time', async () => {
    const log = createSectionLog(options());
    log.info('fetched window', { records: 42 });
    log.warn('quarantine start capped');
    await log.close();

    const files = readAll(dir);
    expect(Object.keys(files)).to.deep.equal(['messages_2025-01-02_10.log']);
    const [info, warn] = lines(files['messages_2025-01-02_10.log']);
    expect(info).to.match(/^2025-01-02T10:15:30\.250[+-]\d\d:\d\d INFO \[MailLogger:example\.com-in\] fetched window \{"records":42\}$/);
    expect(warn).to.match(/^2025-01-02T10:15:30\.250[+-]\d\d:\d\d WARN \[MailLogger:example\.com-in\] quarantine start capped$/);
  });

  it('keeps one event per line even when a message has newlines', async () => {
    const log = createSectionLog(options());
    log.info('first\nsecond');
    await log.close();
    const got = lines(readAll(dir)['messages_2025-01-02_10.log']);
    expect(got).to.have.length(1);
    expect(got[0]).to.contain('first\\nsecond');
  });

  /** One line at 10:59:59.999, then a line and an error at 11:00; closes the log. */
  async function logAcrossTheHour(): Promise<void> {
    let clock = new Date(2025, 0, 2, 10, 59, 59, 999);
    const log = createSectionLog(options({ now: () => clock }));
    log.info('before the hour');
    clock = new Date(2025, 0, 2, 11, 0, 0, 0);
    log.info('after the hour');
    log.error({ error: 'late failure' });
    await log.close();
  }

  it('starts a new file when the hour rolls over', async () => {
    await logAcrossTheHour();

    const files = readAll(dir);
    expect(Object.keys(files).sort()).to.deep.equal([
      'errors_2025-01-02_11.log',
      'messages_2025-01-02_10.log',
      'messages_2025-01-02_11.log',
    ]);
    const tenOClock = lines(files['messages_2025-01-02_10.log']);
    expect(tenOClock).to.have.length(1);
    expect(tenOClock[0]).to.contain('before the hour');
    const elevenOClock = lines(files['messages_2025-01-02_11.log']);
    expect(elevenOClock).to.have.length(2);
    expect(elevenOClock[0]).to.contain('after the hour');
  });

  it('writes each error as one JSON object with the required fields, plus a summary in the message log', async () => {
    const log = createSectionLog(options());
    log.error({
      error: 'list request failed',
      code: 'UZP_NETWORK',
      errorClass: 'NetworkError',
      kind: 'timeout',
      url: `https://api.example.test/log/mail?api_key=${KEY}&start=1`,
      status: null,
      durationMs: 3012,
      attempt: 3,
      window: { start: 1735812000, end: 1735812300 },
    });
    log.error({ error: 'server error', code: 'UZP_API_HTTP', status: 503 });
    await log.close();

    const files = readAll(dir);
    const entries = lines(files['errors_2025-01-02_10.log']).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(entries).to.have.length(2);
    const [first, second] = entries;
    expect(first).to.include({
      section: SECTION,
      key: MASKED,
      domain: 'example.com',
      type: 'incominglog',
      error: 'list request failed',
      code: 'UZP_NETWORK',
      error_class: 'NetworkError',
      kind: 'timeout',
      url: `https://api.example.test/log/mail?api_key=${MASKED}&start=1`,
      status: null,
      duration_ms: 3012,
      attempt: 3,
    });
    expect(first?.time).to.match(/^2025-01-02T10:15:30\.250[+-]\d\d:\d\d$/);
    expect(first?.window).to.deep.equal({ start: 1735812000, end: 1735812300 });
    expect(second).to.include({ error: 'server error', status: 503, key: MASKED });

    const summary = lines(files['messages_2025-01-02_10.log']);
    expect(summary).to.have.length(2);
    expect(summary[0]).to.match(/ ERROR \[MailLogger:example\.com-in\] list request failed \(code=UZP_NETWORK kind=timeout duration_ms=3012 url=/);
    expect(summary[1]).to.contain('status=503');
  });

  it('does not let a context field replace the masked key or the fixed fields', async () => {
    const log = createSectionLog(options());
    log.error({ error: 'x', key: KEY, section: 'forged', time: 'forged' });
    await log.close();
    const [entry] = lines(readAll(dir)['errors_2025-01-02_10.log']).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(entry).to.include({ key: MASKED, section: SECTION });
    expect(entry?.time).to.not.equal('forged');
  });

  it('with verbose = false sends message lines to the console and creates no message file', async () => {
    const out = collect();
    const log = createSectionLog(options({ verbose: false, console: out.stream }));
    log.info('to the console');
    log.error({ error: 'still in the error file', code: 'UZP_API_HTTP' });
    await log.close();

    const files = readAll(dir);
    expect(Object.keys(files)).to.deep.equal(['errors_2025-01-02_10.log']);
    const consoleLines = lines(out.text());
    expect(consoleLines).to.have.length(2);
    expect(consoleLines[0]).to.match(/ INFO \[MailLogger:example\.com-in\] to the console$/);
    expect(consoleLines[1]).to.contain('ERROR [MailLogger:example.com-in] still in the error file');
  });

  for (const verbose of [true, false]) {
    it(`never writes the API key to a file or the console (verbose = ${verbose})`, async () => {
      const out = collect();
      const log = createSectionLog(options({ verbose, console: out.stream }));
      const url = `https://api.example.test/log/mail?api_key=${ENCODED_KEY}&domain=example.com`;
      const thrown = new Error(`request to https://x.test/?api_key=${KEY} failed`);
      log.info(`using key ${KEY}`, { request: { url, headers: { authorization: KEY } }, [KEY]: 'as a field name' });
      log.warn(`retrying ${url}`, { cause: thrown });
      log.error({
        error: `failed with key ${KEY}`,
        url,
        status: 500,
        nested: { deeper: [{ key: KEY }, { url: `https://x.test/?k=${ENCODED_KEY}` }] },
        cause: thrown,
        network: new NetworkError('reset', `socket reset for ${url}`, { section: SECTION, url }),
      });
      log.error(errorLogEntryFrom(thrown));
      await log.close();

      const written = [...Object.values(readAll(dir)), out.text()].join('\n');
      expect(written).to.not.contain(KEY);
      expect(written).to.not.contain(ENCODED_KEY);
      // Stacks were written (so the test covers them), just masked.
      expect(written).to.contain('at ');
      expect(written).to.contain(MASKED);
      expect(written).to.contain(`api_key=${MASKED}&domain=example.com`);
    });
  }

  it('creates files 0640 and directories 0750 under umask 022, and honours a stricter umask', async () => {
    const previous = process.umask(0o022);
    try {
      const log = createSectionLog(options());
      log.info('hello');
      log.error({ error: 'x' });
      await log.close();
      expect(fs.statSync(dir).mode & 0o777).to.equal(0o750);
      expect(fs.statSync(path.join(tmp, 'example.com')).mode & 0o777).to.equal(0o750);
      expect(fs.statSync(path.join(dir, 'messages_2025-01-02_10.log')).mode & 0o777).to.equal(0o640);
      expect(fs.statSync(path.join(dir, 'errors_2025-01-02_10.log')).mode & 0o777).to.equal(0o640);

      process.umask(0o077);
      const strictDir = path.join(tmp, 'strict');
      const strict = createSectionLog(options({ outputDirectory: strictDir }));
      strict.info('hello');
      await strict.close();
      expect(fs.statSync(strictDir).mode & 0o777).to.equal(0o700);
      expect(fs.statSync(path.join(strictDir, 'messages_2025-01-02_10.log')).mode & 0o777).to.equal(0o600);
    } finally {
      process.umask(previous);
    }
  });

  it('flushes its files on libuv\'s pool, never with a synchronous fsync that would stall the sections sharing its thread', async () => {
    // Every file this log closes (at the hour's rollover and at close) is
    // fsynced before close() resolves, and not on the event loop.
    const syncFsync = fs.fsyncSync;
    const asyncFsync = fs.fsync;
    const flushed: number[] = [];
    fs.fsyncSync = () => {
      throw new Error('fsyncSync called on the worker thread');
    };
    (fs as { fsync: unknown }).fsync = (fd: number, cb: (err: NodeJS.ErrnoException | null) => void) => {
      flushed.push(fd);
      asyncFsync(fd, cb);
    };
    try {
      await logAcrossTheHour();
      expect(flushed, 'three files: two hours of messages, one of errors').to.have.length(3);
    } finally {
      fs.fsyncSync = syncFsync;
      fs.fsync = asyncFsync;
    }
    const files = readAll(dir);
    expect(lines(files['messages_2025-01-02_10.log'])).to.have.length(1);
    expect(lines(files['messages_2025-01-02_11.log'])).to.have.length(2);
    expect(lines(files['errors_2025-01-02_11.log'])).to.have.length(1);
  });

  it('close() is idempotent and every line is on disk once it resolves', async () => {
    const log = createSectionLog(options());
    const n = 2000;
    for (let i = 0; i < n; i++) {
      log.info(`line ${i}`);
      if (i % 100 === 0) log.error({ error: `error ${i}` });
    }
    const first = log.close();
    const second = log.close();
    expect(second).to.equal(first);
    await first;
    await log.close();

    const files = readAll(dir);
    const messages = lines(files['messages_2025-01-02_10.log']);
    expect(messages).to.have.length(n + n / 100);
    expect(messages.at(-1)).to.contain(`line ${n - 1}`);
    expect(lines(files['errors_2025-01-02_10.log'])).to.have.length(n / 100);
  });

  it('sends lines logged after close() to the console instead of losing them', async () => {
    const out = collect();
    const log = createSectionLog(options({ console: out.stream }));
    await log.close();
    log.info(`late line with ${KEY}`);
    expect(out.text()).to.contain(`late line with ${MASKED}`);
    expect(out.text()).to.not.contain(KEY);
  });

  it('rejects close() with a WriteError when the log file cannot be written, and keeps the lines on the console', async () => {
    const out = collect();
    const notADirectory = path.join(tmp, 'plain-file');
    fs.writeFileSync(notADirectory, '');
    const log = createSectionLog(options({ outputDirectory: path.join(notADirectory, 'sub'), console: out.stream }));
    log.info('cannot land in a file');
    let caught: unknown;
    await log.close().catch((err: unknown) => {
      caught = err;
    });
    expect(caught).to.be.instanceOf(WriteError);
    expect((caught as WriteError).code).to.equal('UZP_WRITE_FAILED');
    expect((caught as WriteError).section).to.equal(SECTION);
    expect(out.text()).to.contain('cannot land in a file');
  });

  it('rejects close() with a WriteError naming the file when its fsync fails, and says what to check', async () => {
    const asyncFsync = fs.fsync;
    (fs as { fsync: unknown }).fsync = (fd: number, cb: (err: NodeJS.ErrnoException | null) => void) => {
      asyncFsync(fd, () => cb(Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' })));
    };
    let caught: unknown;
    try {
      const log = createSectionLog(options());
      log.info('written, then not flushed');
      await log.close().catch((err: unknown) => {
        caught = err;
      });
    } finally {
      fs.fsync = asyncFsync;
    }
    expect(caught).to.be.instanceOf(WriteError);
    const err = caught as WriteError;
    expect(err.code).to.equal('UZP_WRITE_FAILED');
    expect(err.section).to.equal(SECTION);
    expect(err.message).to.contain(path.join(dir, 'messages_2025-01-02_10.log')).and.contain('EIO').and.contain('check the file system');
    expect(lines(readAll(dir)['messages_2025-01-02_10.log'])).to.have.length(1);
  });

  it('applies retention at creation when counts are given', async () => {
    fs.mkdirSync(dir, { recursive: true });
    for (const h of ['07', '08', '09']) {
      fs.writeFileSync(path.join(dir, `messages_2025-01-02_${h}.log`), 'old\n');
      fs.writeFileSync(path.join(dir, `errors_2025-01-02_${h}.log`), 'old\n');
    }
    const log = createSectionLog(options({ messageLogRetentionCount: 1, errorLogRetentionCount: 2 }));
    await log.close();
    expect(Object.keys(readAll(dir)).sort()).to.deep.equal([
      'errors_2025-01-02_08.log',
      'errors_2025-01-02_09.log',
      'messages_2025-01-02_09.log',
    ]);
    expect(log.retention.messages?.deleted.map((p) => path.basename(p)).sort()).to.deep.equal([
      'messages_2025-01-02_07.log',
      'messages_2025-01-02_08.log',
    ]);
  });

  it('builds an error log entry from a UzpError with its code, class, kind and context', () => {
    const err = new NetworkError('dns', 'cannot resolve api.example.test', {
      section: SECTION,
      url: 'https://api.example.test/x',
      attempt: 2,
    });
    const entry = errorLogEntryFrom(err, { durationMs: 15 });
    expect(entry).to.include({
      error: 'cannot resolve api.example.test',
      code: 'UZP_NETWORK',
      errorClass: 'NetworkError',
      kind: 'dns',
      url: 'https://api.example.test/x',
      section: SECTION,
      attempt: 2,
      durationMs: 15,
    });
    expect(entry.stack).to.be.a('string');
  });
});
