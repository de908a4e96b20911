// A section's own logs, in its output directory beside its data files (as the
// Python tool kept them):
// - the message log: one timestamped line per event, prefixed with the
//   section, in a file named by strftime at the time of writing (so it rolls
//   over hourly with the default name); with `verbose = false` these lines go
//   to the console (stderr) instead, as the Python tool did;
// - the error log: one JSON object per line, always a file.
//
// Everything here is built per section per task: each worker thread is its own
// isolate, so a shared logger would not be seen there (docs/decisions.md, "Nothing shared between threads but messages").
//
// No line reaches a file or the console without going through `redact` with
// the section's key, as the very last step in the transport, even though
// callers are expected to mask URLs already: a leaked key is not recoverable.

import fs from 'node:fs';
import path from 'node:path';
import winston from 'winston';
import Transport from 'winston-transport';
import { WriteError, isUzpError } from '../common/errors.js';
import { maskKey, redact } from '../common/mask.js';
import { readableStack } from '../common/readable-stack.js';
import { applyRetention, type RetentionResult } from './log-retention.js';
import { localIsoString, strftime } from '../config/strftime.js';
import type { SectionConfig } from '../config/section-config.js';

export interface SectionLogOptions {
  section: string;
  apiKey: string;
  domain: string;
  type: string;
  outputDirectory: string;
  messageLogFileName: string;
  errorLogFileName: string;
  verbose: boolean;
  /** Where message lines go when `verbose` is false, and lines no file could take. Default process.stderr. */
  console?: NodeJS.WritableStream;
  now?: () => Date;
  /** When given, old message log files beyond this many are deleted at creation (see log-retention.ts). */
  messageLogRetentionCount?: number;
  /** When given, old error log files beyond this many are deleted at creation. */
  errorLogRetentionCount?: number;
  /** strftime format of the section's data files: retention never deletes a file it names. */
  dataFileNameFormat?: string;
}

export interface ErrorLogEntry {
  /** The error message. */
  error: string;
  code?: string;
  /** The error's class name, e.g. `NetworkError`. */
  errorClass?: string;
  /** For network errors: dns, refused, tls, timeout, reset, other. */
  kind?: string;
  /** Request URL; the key is masked here even if the caller forgot. */
  url?: string;
  status?: number | null;
  durationMs?: number;
  [k: string]: unknown;
}

export interface SectionLog {
  info(message: string, fields?: Record<string, unknown>): void;
  /** Message log only: a warning is something the section worked around. */
  warn(message: string, fields?: Record<string, unknown>): void;
  /** A JSON line in the error log, and a one-line summary in the message log. */
  error(entry: ErrorLogEntry): void;
  /**
   * Flushes and closes the files; idempotent (every call gets the same promise).
   * Once it resolves every line is in its file. Rejects with a WriteError when
   * a log file could not be written (those lines went to the console instead).
   * Lines logged after close() go to the console.
   */
  close(): Promise<void>;
  /** What retention did at creation, when counts were given. */
  readonly retention: { messages?: RetentionResult; errors?: RetentionResult };
}

export const LOG_FILE_MODE = 0o640;
export const LOG_DIR_MODE = 0o750;

// winston's formatted-line key (triple-beam's MESSAGE); Symbol.for is
// process-wide and immutable, so this is not shared state.
const MESSAGE = Symbol.for('message');

/** The write time travels with each line so the file name and the line's timestamp agree. */
interface LogInfo extends winston.Logform.TransformableInfo {
  at: Date;
}

/** Plain, JSON-safe copy of a value with every string redacted; Errors keep name, code, stack and context. */
function toPlain(value: unknown, keys: readonly string[], seen: WeakSet<object>, depth: number): unknown {
  if (typeof value === 'string') return redact(value, keys);
  if (value === null || typeof value === 'number' || typeof value === 'boolean') return value;
  if (value === undefined || typeof value === 'function' || typeof value === 'symbol') return undefined;
  if (typeof value === 'bigint') return value.toString();
  if (typeof value !== 'object') return redact(String(value), keys);
  if (seen.has(value)) return '[Circular]';
  if (depth > 8) return '[Too deep]';
  seen.add(value);
  try {
    if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : localIsoString(value);
    if (value instanceof URL) return redact(value.href, keys);
    if (Array.isArray(value)) return value.map((v) => toPlain(v, keys, seen, depth + 1) ?? null);
    if (value instanceof Map) return toPlain(Object.fromEntries(value), keys, seen, depth);
    if (value instanceof Set) return toPlain([...value], keys, seen, depth);
    const out: Record<string, unknown> = {};
    if (value instanceof Error) {
      out.name = value.name;
      out.message = redact(value.message, keys);
      const code = (value as { code?: unknown }).code;
      if (code !== undefined) out.code = toPlain(code, keys, seen, depth + 1);
      if (isUzpError(value)) out.context = toPlain(value.context, keys, seen, depth + 1);
      if (value.stack) out.stack = redact(readableStack(value.stack), keys);
      if (value.cause !== undefined) out.cause = toPlain(value.cause, keys, seen, depth + 1);
    }
    for (const [k, v] of Object.entries(value)) {
      if (k in out) continue;
      const plain = toPlain(v, keys, seen, depth + 1);
      if (plain !== undefined) out[redact(k, keys)] = plain;
    }
    return out;
  } finally {
    seen.delete(value);
  }
}

function plainFields(fields: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  return (toPlain(fields, keys, new WeakSet(), 0) ?? {}) as Record<string, unknown>;
}

/** Builds an error log entry from anything thrown: UzpError context fields become entry fields. */
export function errorLogEntryFrom(err: unknown, extra: Record<string, unknown> = {}): ErrorLogEntry {
  if (isUzpError(err)) {
    const { status, url, kind, ...context } = err.context;
    return {
      ...context,
      ...extra,
      error: err.message,
      code: err.code,
      errorClass: err.name,
      ...(typeof kind === 'string' ? { kind } : {}),
      ...(typeof url === 'string' ? { url } : {}),
      ...(typeof status === 'number' ? { status } : {}),
      stack: readableStack(err.stack),
      ...(err.cause !== undefined ? { cause: err.cause } : {}),
    };
  }
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return {
      ...extra,
      error: err.message,
      errorClass: err.name,
      ...(typeof code === 'string' ? { code } : {}),
      stack: readableStack(err.stack),
    };
  }
  return { ...extra, error: String(err) };
}

function oneLine(text: string): string {
  // One event, one line: a SIEM or `grep` reading the message log relies on it.
  return text.replace(/\r\n|\r|\n/g, '\\n');
}

function lineOf(info: winston.Logform.TransformableInfo): string {
  const line = info[MESSAGE];
  return typeof line === 'string' ? line : String(info.message);
}

/** Appends lines to a file whose name is strftime(format, write time), opening a new one when the name changes. */
class StrftimeFileTransport extends Transport {
  failure: WriteError | undefined;
  private fd: number | undefined;
  private readonly closing = new Set<Promise<void>>();
  private fileName: string | undefined;

  constructor(
    private readonly opts: {
      directory: string;
      fileNameFormat: string;
      keys: readonly string[];
      section: string;
      what: string;
      fallback: NodeJS.WritableStream;
    },
  ) {
    super();
  }

  override log(info: LogInfo, next: () => void): void {
    const text = redact(lineOf(info), this.opts.keys) + '\n';
    const at = info.at instanceof Date ? info.at : new Date();
    try {
      this.append(at, text);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const file = path.resolve(this.opts.directory, this.fileName ?? strftime(this.opts.fileNameFormat, at));
      this.failure ??= new WriteError(
        `section ${this.opts.section}: cannot write the ${this.opts.what} log ${file}: ${e.message}; its lines go to the console`,
        { section: this.opts.section, path: file, errno: e.code },
        { cause: err },
      );
      this.closeFd();
      // The line is not lost: the console is the last place it can go.
      this.opts.fallback.write(text);
    }
    next();
  }

  private append(at: Date, text: string): void {
    const name = strftime(this.opts.fileNameFormat, at);
    if (name !== this.fileName || this.fd === undefined) {
      this.closeFd();
      const file = path.resolve(this.opts.directory, name);
      this.fileName = name;
      // mkdir and open honour the umask, as the issue asks; existing files keep their mode.
      fs.mkdirSync(path.dirname(file), { recursive: true, mode: LOG_DIR_MODE });
      this.fd = fs.openSync(file, 'a', LOG_FILE_MODE);
    }
    const buf = Buffer.from(text, 'utf8');
    let off = 0;
    while (off < buf.length) off += fs.writeSync(this.fd, buf, off, buf.length - off);
  }

  /**
   * Hands the open file to fsync and close on libuv's pool. A worker thread
   * runs several sections (src/engine/main/thread-plan.ts): a synchronous
   * fsync here, at every rotation and every section's end, stalled the other
   * sections' sockets for as long as the disk took. `_final` waits for them.
   */
  private closeFd(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    const file = path.resolve(this.opts.directory, this.fileName ?? '');
    this.fd = undefined;
    const closed = new Promise<void>((resolve) => {
      fs.fsync(fd, (syncErr) => {
        fs.close(fd, (closeErr) => {
          const err = syncErr ?? closeErr;
          if (err) {
            this.failure ??= new WriteError(
              `section ${this.opts.section}: cannot flush the ${this.opts.what} log ${file}: ${err.message}; its lines were written but may not survive a power loss: check the file system (free space, I/O errors in the kernel log)`,
              { section: this.opts.section, path: file, errno: err.code },
              { cause: err },
            );
          }
          resolve();
        });
      });
    });
    this.closing.add(closed);
    void closed.then(() => this.closing.delete(closed));
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.closeFd();
    void Promise.all([...this.closing]).then(() => callback());
  }
}

/** Writes redacted lines to a stream (the console when not verbose). */
class StreamLineTransport extends Transport {
  readonly failure: WriteError | undefined = undefined;

  constructor(private readonly opts: { stream: NodeJS.WritableStream; keys: readonly string[] }) {
    super();
  }

  override log(info: LogInfo, next: () => void): void {
    // Not waiting for the stream's callback: a stderr nobody reads must not stall the section.
    this.opts.stream.write(redact(lineOf(info), this.opts.keys) + '\n');
    next();
  }
}

type LineTransport = StrftimeFileTransport | StreamLineTransport;

function passThroughFormat(): winston.Logform.Format {
  return winston.format((info) => {
    info[MESSAGE] = String(info.message);
    return info;
  })();
}

function buildLogger(transport: LineTransport): winston.Logger {
  return winston.createLogger({
    levels: winston.config.npm.levels,
    level: 'info',
    format: passThroughFormat(),
    transports: [transport],
    exitOnError: false,
  });
}

async function endLogger(logger: winston.Logger, transport: LineTransport): Promise<void> {
  // winston's _final ends the transports once its writable side is done; lines
  // still buffered on its readable side would then arrive after end and be
  // dropped. Let the pipe drain first so close() can promise every line is written.
  while (logger.readableLength > 0) await new Promise<void>((resolve) => setImmediate(resolve));
  if (transport.writableFinished) return;
  const finished = new Promise<void>((resolve, reject) => {
    transport.once('finish', () => resolve());
    transport.once('error', reject);
  });
  logger.end();
  await finished;
}

export function createSectionLog(opts: SectionLogOptions): SectionLog {
  const keys = [opts.apiKey];
  const now = opts.now ?? (() => new Date());
  const consoleStream = opts.console ?? process.stderr;

  const retention: { messages?: RetentionResult; errors?: RetentionResult } = {};
  const protect = opts.dataFileNameFormat === undefined ? [] : [opts.dataFileNameFormat];
  if (opts.messageLogRetentionCount !== undefined) {
    retention.messages = applyRetention(opts.outputDirectory, opts.messageLogFileName, opts.messageLogRetentionCount, { now: now(), protect });
  }
  if (opts.errorLogRetentionCount !== undefined) {
    retention.errors = applyRetention(opts.outputDirectory, opts.errorLogFileName, opts.errorLogRetentionCount, { now: now(), protect });
  }

  const messageTransport: LineTransport = opts.verbose
    ? new StrftimeFileTransport({
        directory: opts.outputDirectory,
        fileNameFormat: opts.messageLogFileName,
        keys,
        section: opts.section,
        what: 'message',
        fallback: consoleStream,
      })
    : new StreamLineTransport({ stream: consoleStream, keys });
  const errorTransport = new StrftimeFileTransport({
    directory: opts.outputDirectory,
    fileNameFormat: opts.errorLogFileName,
    keys,
    section: opts.section,
    what: 'error',
    fallback: consoleStream,
  });
  const messageLogger = buildLogger(messageTransport);
  const errorLogger = buildLogger(errorTransport);

  let closing: Promise<void> | undefined;

  function messageLine(level: 'info' | 'warn' | 'error', at: Date, message: string, fields?: Record<string, unknown>): string {
    const extra = fields && Object.keys(fields).length > 0 ? ` ${JSON.stringify(plainFields(fields, keys))}` : '';
    return redact(`${localIsoString(at)} ${level.toUpperCase()} [${opts.section}] ${oneLine(redact(message, keys))}${extra}`, keys);
  }

  function emit(logger: winston.Logger, level: 'info' | 'warn' | 'error', at: Date, line: string): void {
    if (closing) {
      // The files are closed; the console still takes the line rather than losing it.
      consoleStream.write(redact(line, keys) + '\n');
      return;
    }
    logger.log({ level, message: line, at });
  }

  function log(level: 'info' | 'warn', message: string, fields?: Record<string, unknown>): void {
    const at = now();
    emit(messageLogger, level, at, messageLine(level, at, message, fields));
  }

  const sectionLog: SectionLog = {
    retention,
    info: (message, fields) => log('info', message, fields),
    warn: (message, fields) => log('warn', message, fields),
    error(entry) {
      const at = now();
      const { error, code, errorClass, kind, url, status, durationMs, ...context } = entry;
      const plainContext = plainFields(context, keys);
      const record: Record<string, unknown> = {
        time: localIsoString(at),
        section: opts.section,
        key: maskKey(opts.apiKey),
        domain: opts.domain,
        type: opts.type,
        error: redact(String(error), keys),
        code,
        error_class: errorClass,
        kind,
        url: url === undefined ? undefined : redact(url, keys),
        status,
        duration_ms: durationMs,
      };
      // Context adds detail but cannot overwrite the fixed fields (a context `key` must not replace the mask).
      for (const [k, v] of Object.entries(plainContext)) if (!(k in record)) record[k] = v;
      emit(errorLogger, 'error', at, redact(JSON.stringify(record), keys));

      const summary = [
        code && `code=${code}`,
        kind && `kind=${kind}`,
        status !== undefined && status !== null && `status=${status}`,
        durationMs !== undefined && `duration_ms=${durationMs}`,
        url !== undefined && `url=${url}`,
      ].filter((s): s is string => typeof s === 'string');
      const message = summary.length > 0 ? `${String(error)} (${summary.join(' ')})` : String(error);
      emit(messageLogger, 'error', at, messageLine('error', at, message));
    },
    close() {
      closing ??= (async () => {
        await Promise.all([endLogger(messageLogger, messageTransport), endLogger(errorLogger, errorTransport)]);
        const failure = errorTransport.failure ?? messageTransport.failure;
        if (failure) throw failure;
      })();
      return closing;
    },
  };
  return sectionLog;
}

/** The section's own logs as its config names them; retention only where the caller asks for it. */
export function openSectionLog(cfg: SectionConfig, opts: { applyRetention: boolean }): SectionLog {
  return createSectionLog({
    section: cfg.section,
    apiKey: cfg.apiKey,
    domain: cfg.domain,
    type: cfg.type,
    outputDirectory: cfg.outputDirectory,
    messageLogFileName: cfg.messageLogFileName,
    errorLogFileName: cfg.errorLogFileName,
    dataFileNameFormat: cfg.logFileNameFormat,
    verbose: cfg.verbose,
    ...(opts.applyRetention
      ? { messageLogRetentionCount: cfg.messageLogRetentionCount, errorLogRetentionCount: cfg.errorLogRetentionCount }
      : {}),
  });
}
