// Listing one segment's windows: every record of a window, in event-time
// order. Pages that may have been cut at max_records_per_page are bisected
// down to single seconds, and records without an event time are written once
// even when two overlapping requests returned them both.

import path from 'node:path';
import { AbortedError, ApiAuthError, RunDeadlineError, UnparsableAnswerError, UzpError, WindowGivenUpError } from '../../common/errors.js';
import { strftime } from '../../config/strftime.js';
import { writeFileAtomicDurable } from '../../storage/durable-fs.js';
import type { SectionConfig } from '../../config/section-config.js';
import type { SectionLog } from '../../storage/section-log.js';
import type { MetricsRecorder } from '../shared/section-metrics.js';
import { eventTime } from './event-time.js';
import { bisect, type Window } from './window-plan.js';

/** A window's records after listing, in event-time order, with details still to come. */
export interface ListedWindow {
  window: Window;
  records: unknown[];
}

export interface WindowListerOptions {
  config: SectionConfig;
  /** The API client's list request (narrowed, so a test can answer it). */
  client: { list(starttime: number, endtime: number): Promise<unknown[]> };
  metrics: MetricsRecorder;
  log: SectionLog;
  /**
   * The saved position the segment continues from, if any: the previous run's
   * last request also covered the seconds around it, so timeless records
   * there were written by that run (see list()).
   */
  resumedAt?: number;
}

/**
 * Lists the windows of one segment, one after the other in time order: its
 * dedup state assumes each list() follows the window before it.
 */
export class WindowLister {
  readonly #cfg: SectionConfig;
  readonly #client: WindowListerOptions['client'];
  readonly #metrics: MetricsRecorder;
  readonly #log: SectionLog;
  #resumedAt: number | undefined;
  /**
   * Records without an event time seen by the last two list answers. Adjacent
   * requests overlap by up to two seconds (the start is asked one second
   * early and the end may be inclusive), and a timeless record cannot be
   * filtered by time, so the overlap is recognised by content instead.
   */
  readonly #timeless: Set<string>[] = [];

  constructor(opts: WindowListerOptions) {
    this.#cfg = opts.config;
    this.#client = opts.client;
    this.#metrics = opts.metrics;
    this.#log = opts.log;
    this.#resumedAt = opts.resumedAt;
  }

  /** Lists a window, bisecting pages that may have been cut at max_records_per_page (docs/api.md, "List"). */
  async list(w: Window): Promise<ListedWindow> {
    const cfg = this.#cfg;
    // One second wider at the start: whether the service includes both range
    // ends or only one, every record of [start, end) is in the answer; the
    // filter below keeps exactly those (docs/api.md, "List").
    let raw = await this.#listOrGiveUp(w.start - 1, w.end, w);
    if (raw.length >= cfg.maxRecordsPerPage) {
      const halves = bisect(w);
      if (halves) {
        const first = await this.list(halves[0]);
        const second = await this.list(halves[1]);
        return { window: w, records: first.records.concat(second.records) };
      }
      const exact = await this.#listOneSecond(w.start);
      raw = exact.raw;
      if (exact.full) {
        this.#metrics.counts.truncatedWindows++;
        this.#log.error({
          error:
            `the second ${w.start} holds at least ${raw.length} records, the API page limit: ` +
            'records beyond the page cannot be fetched and are missing from the output',
          code: 'UZP_TRUNCATED_WINDOW',
          errorClass: 'TruncatedWindow',
          from: w.start,
          to: w.end,
          received: raw.length,
        });
      }
    }
    if (this.#resumedAt === w.start) {
      this.#resumedAt = undefined;
      if (raw.some((r) => eventTime(cfg.category, r) === undefined)) {
        // [P-1, P] is exactly where this request overlaps the previous run's last
        // one, whatever range ends the service includes: its timeless records are
        // already written. Asked only when there are timeless records to check.
        const overlap = await this.#listOrGiveUp(w.start - 1, w.start, w);
        this.#timeless.push(new Set(overlap.filter((r) => eventTime(cfg.category, r) === undefined).map((r) => JSON.stringify(r))));
      }
    }
    // The API answers newest first; reversed, ties keep the service's order.
    const keyed: { t: number; r: unknown }[] = [];
    const timelessHere = new Set<string>();
    for (let i = raw.length - 1; i >= 0; i--) {
      const r = raw[i];
      const t = eventTime(cfg.category, r);
      if (t === undefined) {
        // Written with the window it came in, never silently dropped
        // (docs/api.md, "Records and event time"), but only once when the
        // overlap of two requests returned it twice.
        const text = JSON.stringify(r);
        timelessHere.add(text);
        if (this.#timeless.some((seen) => seen.has(text))) continue;
        this.#metrics.counts.recordsWithoutTime++;
        keyed.push({ t: w.start, r });
      } else if (t >= w.start && t < w.end) {
        keyed.push({ t, r });
      } else if (t < w.start - 1 || t > w.end) {
        // Not in the range asked for (which is one second wider at the start
        // and may include its end): the service sent it anyway. Another
        // window's request is where it belongs; it is not written from here.
        this.#metrics.counts.recordsOutOfRange++;
        this.#log.warn(`a listed record (${recordId(r)}) has event time ${t}, outside the range ${w.start - 1}–${w.end} that was asked for; it is not written with this window`, {
          recordId: recordId(r),
          eventTime: t,
        });
      }
    }
    this.#timeless.push(timelessHere);
    if (this.#timeless.length > 2) this.#timeless.shift();
    keyed.sort((a, b) => a.t - b.t); // Array.prototype.sort is stable
    return { window: w, records: keyed.map((k) => k.r) };
  }

  /** One list request; a failure after all retries gives the window up (the position stays before it). */
  async #listOrGiveUp(starttime: number, endtime: number, w: Window): Promise<unknown[]> {
    const cfg = this.#cfg;
    try {
      return await this.#client.list(starttime, endtime);
    } catch (err) {
      if (err instanceof AbortedError || err instanceof ApiAuthError) throw err;
      if (err instanceof RunDeadlineError) {
        err.message += `; window ${w.start}–${w.end} was not committed: the position stays at ${w.start} and the next run fetches it again`;
        Object.assign(err.context, { from: w.start, to: w.end });
        throw err;
      }
      if (err instanceof UnparsableAnswerError) return this.#reject(err, starttime, endtime, w);
      const e = err instanceof UzpError ? err : undefined;
      // Only an error that used up its retries says how many attempts it had; others were not retried.
      const attempts = e?.context.attempts;
      const how = typeof attempts === 'number' ? `after ${attempts} attempts` : '(not retried: asking again cannot change this answer)';
      throw new WindowGivenUpError(
        `section ${cfg.section}: window ${w.start}–${w.end} could not be fetched ${how} ` +
          `(${e ? e.message : String(err)}); the position stays at ${w.start} and the next run fetches it again`,
        { section: cfg.section, from: w.start, to: w.end, cause: e?.code },
        { cause: err },
      );
    }
  }

  /**
   * Every attempt got the same answer that cannot be read as records: asking
   * again cannot help, and stopping would block the section on every run.
   * The answer is kept in a rejects file beside the error log, the window
   * is a gap in the error log, and the run goes on (docs/api.md, "Errors").
   */
  #reject(err: UnparsableAnswerError, starttime: number, endtime: number, w: Window): unknown[] {
    const cfg = this.#cfg;
    const errorLog = path.resolve(cfg.outputDirectory, strftime(cfg.errorLogFileName, new Date()));
    const file = path.join(path.dirname(errorLog), `rejects_${cfg.section.replace(/[^A-Za-z0-9._-]+/g, '_')}_${starttime}-${endtime}.txt`);
    let kept = `kept in ${file}`;
    try {
      writeFileAtomicDurable(file, err.body);
    } catch (writeErr) {
      kept = `could not be kept in ${file} (${writeErr instanceof Error ? writeErr.message : String(writeErr)})`;
    }
    const reason = `every attempt of the list request for ${starttime}–${endtime} got the same answer that cannot be read as records; the answer is ${kept}`;
    this.#metrics.counts.gaps++;
    this.#metrics.counts.gapSeconds += w.end - w.start;
    this.#log.error({
      error: `gap: records from ${w.start} to ${w.end} were not fetched: ${reason} (${err.message})`,
      code: 'UZP_GAP',
      errorClass: 'Gap',
      gap: true,
      from: w.start,
      to: w.end,
      reason,
      rejectsFile: file,
    });
    return [];
  }

  /**
   * A full page for a one-second window: the widened request also held the
   * neighbouring seconds, whose newer records may have pushed this second's
   * out. Ask for the second alone, in each of the forms that return exactly it
   * under one of the possible range-end rules, and keep the largest answer.
   */
  async #listOneSecond(s: number): Promise<{ raw: unknown[]; full: boolean }> {
    const cfg = this.#cfg;
    let best: unknown[] = [];
    let bestFull = false;
    for (const [from, to] of [
      [s, s], // both ends included
      [s, s + 1], // start included, end excluded
      [s - 1, s], // start excluded, end included
    ] as const) {
      const page = await this.#listOrGiveUp(from, to, { start: s, end: s + 1 });
      const only = page.filter((r) => eventTime(cfg.category, r) === s);
      if (only.length > best.length) {
        best = only;
        bestFull = page.length >= cfg.maxRecordsPerPage;
      }
    }
    return { raw: best, full: bestFull };
  }
}

/** How a record is named in a log line: its id field, else the start of its JSON. */
function recordId(r: unknown): string {
  if (typeof r === 'object' && r !== null) {
    const o = r as Record<string, unknown>;
    for (const k of ['queue_id', 'id', '_id', 'message_id']) {
      const v = o[k];
      if (typeof v === 'string' || typeof v === 'number') return `${k} ${JSON.stringify(v)}`;
    }
  }
  let text: string;
  try {
    text = JSON.stringify(r) ?? String(r);
  } catch {
    text = String(r);
  }
  return `no id; ${text.length > 80 ? `${text.slice(0, 80)}…` : text}`;
}
