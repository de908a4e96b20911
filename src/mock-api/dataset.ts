// The mock's data and its ground truth. A record is a pure function of
// (seed, stream, index); nothing is stored but one cumulative count per
// minute per stream. The server answers list and detail requests from here,
// and tests ask the same object what a correct collector must have written.

import { hashInts, hashString, unitOf } from './random.js';
import {
  authenticationJson,
  mailDetail,
  mailSummaryJson,
  parseQueueId,
  queueIdOf,
  quarantineJson,
  type MockRecord,
  type RecordContext,
} from './records.js';
import { Timeline } from './timeline.js';

export type { MockRecord } from './records.js';

export type MockCategory = 'mail' | 'quarantine' | 'authentication';

/** The `type` values each category accepts; authentication sends none (docs/api.md, "List"). */
export const TYPES_BY_CATEGORY: Readonly<Record<MockCategory, readonly string[]>> = {
  mail: ['incominglog', 'outgoinglog'],
  quarantine: ['quarantine', 'hold'],
  authentication: [],
};

export interface MockStreamSpec {
  key: string;
  domain: string;
  category: MockCategory;
  /** Required for mail and quarantine, absent for authentication. */
  type?: string;
  /** Mean records per minute; the actual rate varies deterministically around it. */
  perMinute: number;
}

/** Which records: one domain's stream, or (without `domain`) all domains of the category and type merged. */
export interface StreamSelector {
  domain?: string;
  category: MockCategory;
  type?: string;
}

export interface DatasetOptions {
  seed: number;
  from: number;
  to: number;
  streams: readonly MockStreamSpec[];
  detailMissingRatio: number;
  hostileQueueIds: boolean;
  recordsWithoutTimeRatio: number;
}

export interface StreamModel {
  readonly spec: MockStreamSpec;
  /** Position in the options: breaks event-time ties between merged streams. */
  readonly ordinal: number;
  readonly tag: number;
  readonly tagText: string;
  readonly domainJson: string;
  readonly timeline: Timeline;
}

/** One record's place in a list answer. */
export interface RecordRef {
  stream: StreamModel;
  index: number;
  time: number;
}

const SALT_RECORD = 11;
const SALT_DETAIL_MISSING = 12;

export class Dataset {
  readonly options: DatasetOptions;
  readonly streams: readonly StreamModel[];
  readonly #byTag = new Map<string, StreamModel>();

  constructor(options: DatasetOptions) {
    this.options = options;
    const seen = new Set<string>();
    this.streams = options.streams.map((spec, ordinal) => {
      const identity = `${spec.category}|${spec.type ?? ''}|${spec.domain}`;
      if (seen.has(identity)) throw new RangeError(`mock stream ${identity} is listed twice`);
      seen.add(identity);
      // Tagged by identity, not position: adding a stream leaves the others' records unchanged.
      const tag = hashString(identity);
      const tagText = tag.toString(36);
      const model: StreamModel = {
        spec,
        ordinal,
        tag,
        tagText,
        domainJson: JSON.stringify(spec.domain).slice(1, -1),
        timeline: new Timeline(options.seed, tag, options.from, options.to, spec.perMinute),
      };
      if (this.#byTag.has(tagText)) throw new RangeError(`mock streams ${identity} and another hash alike; rename a domain`);
      this.#byTag.set(tagText, model);
      return model;
    });
  }

  /** Streams matching the selector, optionally only those of allowed domains, in option order. */
  select(selector: StreamSelector, allowedDomains?: ReadonlySet<string>): StreamModel[] {
    return this.streams.filter(
      (s) =>
        s.spec.category === selector.category &&
        (s.spec.type ?? undefined) === (selector.type ?? undefined) &&
        (selector.domain === undefined || s.spec.domain === selector.domain) &&
        (allowedDomains === undefined || allowedDomains.has(s.spec.domain)),
    );
  }

  #context(stream: StreamModel, index: number, eventTime: number): RecordContext {
    return {
      recordSeed: hashInts(this.options.seed, stream.tag, index, SALT_RECORD),
      index,
      eventTime,
      domain: stream.spec.domain,
      domainJson: stream.domainJson,
      type: stream.spec.type,
      streamTag: stream.tagText,
      numericTag: stream.tag,
    };
  }

  /** The record as the list endpoint returns it, as JSON text. */
  listRecordJson(stream: StreamModel, index: number, eventTime = stream.timeline.timeOf(index)): string {
    const ctx = this.#context(stream, index, eventTime);
    switch (stream.spec.category) {
      case 'mail':
        return mailSummaryJson(ctx, this.options.hostileQueueIds);
      case 'quarantine':
        return quarantineJson(ctx, this.options.recordsWithoutTimeRatio);
      case 'authentication':
        return authenticationJson(ctx);
      default:
        throw new Error(`unknown category ${String(stream.spec.category)}`);
    }
  }

  listRecord(stream: StreamModel, index: number, eventTime = stream.timeline.timeOf(index)): MockRecord {
    return JSON.parse(this.listRecordJson(stream, index, eventTime)) as MockRecord;
  }

  isDetailMissing(stream: StreamModel, index: number): boolean {
    return unitOf(this.options.seed, stream.tag, index, SALT_DETAIL_MISSING) < this.options.detailMissingRatio;
  }

  /** The detail object of a mail record, or undefined where the service answers 404. */
  detailRecord(stream: StreamModel, index: number, eventTime = stream.timeline.timeOf(index)): MockRecord | undefined {
    if (stream.spec.category !== 'mail' || this.isDetailMissing(stream, index)) return undefined;
    return mailDetail(this.#context(stream, index, eventTime), this.options.hostileQueueIds);
  }

  /** What a correct collector writes for this record: the detail when there is one, else the list record. */
  writtenRecord(stream: StreamModel, index: number, eventTime = stream.timeline.timeOf(index)): MockRecord {
    return this.detailRecord(stream, index, eventTime) ?? this.listRecord(stream, index, eventTime);
  }

  /** Maps a queue id back to its record; undefined unless it is exactly an id this dataset issued. */
  findQueueId(queueId: string): { stream: StreamModel; index: number; time: number } | undefined {
    const parsed = parseQueueId(queueId);
    if (!parsed) return undefined;
    const stream = this.#byTag.get(parsed.streamTag);
    if (!stream || stream.spec.category !== 'mail') return undefined;
    if (parsed.index >= stream.timeline.total) return undefined;
    const time = stream.timeline.timeOf(parsed.index);
    // The suffix alone would accept forged prefixes; the whole id must match.
    if (queueIdOf(this.#context(stream, parsed.index, time), this.options.hostileQueueIds) !== queueId) return undefined;
    return { stream, index: parsed.index, time };
  }

  /**
   * The newest `limit` records with event time in [from, to) across `streams`,
   * newest first: event time desc, then stream order desc, then index desc.
   */
  newest(streams: readonly StreamModel[], from: number, to: number, limit: number): RecordRef[] {
    const lanes = streams.map((stream) => {
      const hi = stream.timeline.firstIndexAt(to);
      const lo = Math.max(stream.timeline.firstIndexAt(from), hi - limit);
      return { stream, lo, times: stream.timeline.timesOf(lo, hi), next: hi - lo - 1 };
    });
    const out: RecordRef[] = [];
    if (lanes.length === 1) {
      const lane = lanes[0]!;
      for (let k = lane.next; k >= 0; k--) out.push({ stream: lane.stream, index: lane.lo + k, time: lane.times[k] as number });
      return out;
    }
    while (out.length < limit) {
      let best: (typeof lanes)[number] | undefined;
      let bestTime = -Infinity;
      for (const lane of lanes) {
        if (lane.next < 0) continue;
        const t = lane.times[lane.next] as number;
        // >= so that on ties the later stream (higher ordinal) wins: the exact reverse of ascending order.
        if (t >= bestTime) {
          best = lane;
          bestTime = t;
        }
      }
      if (!best) break;
      out.push({ stream: best.stream, index: best.lo + best.next, time: bestTime });
      best.next--;
    }
    return out;
  }

  /** Record refs with event time in [from, to), ascending: event time, stream order, index. */
  *refs(selector: StreamSelector, from: number, to: number): Generator<RecordRef, void, void> {
    const lanes = this.select(selector).map((stream) => {
      const lo = stream.timeline.firstIndexAt(from);
      const hi = stream.timeline.firstIndexAt(to);
      const walk = stream.timeline.walk(lo, hi);
      const first = walk.next();
      return { stream, index: lo, walk, time: first.done ? undefined : first.value };
    });
    for (;;) {
      let best: (typeof lanes)[number] | undefined;
      for (const lane of lanes) {
        if (lane.time === undefined) continue;
        if (best === undefined || lane.time < (best.time as number)) best = lane;
      }
      if (!best || best.time === undefined) return;
      yield { stream: best.stream, index: best.index, time: best.time };
      best.index++;
      const step = best.walk.next();
      best.time = step.done ? undefined : step.value;
    }
  }

  /** Lazily, what a correct collector writes for event times in [from, to), in output order. */
  *iterateExpected(selector: StreamSelector, from: number, to: number): Generator<MockRecord, void, void> {
    for (const ref of this.refs(selector, from, to)) yield this.writtenRecord(ref.stream, ref.index, ref.time);
  }

  expected(selector: StreamSelector, from: number, to: number): MockRecord[] {
    return Array.from(this.iterateExpected(selector, from, to));
  }

  /**
   * The most records any one second in [from, to) holds. A second holding
   * pageSize or more cannot be fetched whole (docs/api.md, "List"), so tests check this to
   * tell truncation the collector must report from records it lost.
   */
  maxPerSecond(selector: StreamSelector, from: number, to: number): number {
    const streams = this.select(selector);
    let max = 0;
    for (let t = Math.ceil(from); t < to; t++) {
      let n = 0;
      for (const stream of streams) n += stream.timeline.countIn(t, t + 1);
      if (n > max) max = n;
    }
    return max;
  }

  count(selector: StreamSelector, from: number, to: number): number {
    let n = 0;
    for (const stream of this.select(selector)) n += stream.timeline.countIn(from, to);
    return n;
  }
}

/** The event time (docs/api.md, "Records and event time"): mail uses recipients[0].time else time; the others time, timestamp, starttime. */
export function eventTimeOf(category: MockCategory, record: MockRecord): number | undefined {
  if (category === 'mail') {
    const recipients = record['recipients'];
    if (Array.isArray(recipients) && recipients.length > 0) {
      const first: unknown = recipients[0];
      const t = first !== null && typeof first === 'object' ? (first as MockRecord)['time'] : undefined;
      return typeof t === 'number' ? t : undefined;
    }
    return typeof record['time'] === 'number' ? record['time'] : undefined;
  }
  for (const field of ['time', 'timestamp', 'starttime']) {
    const t = record[field];
    if (typeof t === 'number') return t;
  }
  return undefined;
}
