// What the records look like. Each builder takes a PRNG already seeded from
// (seed, stream, index), so the same record comes out every time. The shapes
// follow the documented examples (docs/api.md) plus traps a collector must
// not fall into: the summary's top-level `time` is not the event time, some
// mails have no recipients, quarantine records name their time differently,
// and fields the contract never mentions appear and must be kept verbatim.

import { createRng, intBetween, pick, type Rng } from './random.js';

export type MockRecord = Record<string, unknown>;

const LOCAL_PARTS = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan', 'judy', 'noreply', 'billing'];
const EXTERNAL_DOMAINS = ['partner.example.net', 'vendor.example', 'mail.test', 'spam.tld', 'müller.example'];
const SUBJECTS = [
  'Invoice',
  'Meeting notes',
  'Re: quarterly report',
  'Fatura hakkında bilgi',
  'Şifre sıfırlama',
  'You won "a prize"',
  'Path C:\\temp\\file.txt',
  'Tab\there, newline\nthere',
  '日本語の件名',
  'Emoji ✉️ delivery',
  '',
];
const STATUSES = ['sent', 'sent', 'sent', 'deferred', 'bounced', 'delivered'];
const STATUS_MESSAGES: Record<string, string> = {
  sent: '250 2.0.0 OK',
  delivered: '250 2.0.0 Ok: queued',
  deferred: '451 4.7.1 Try again later',
  bounced: '550 5.1.1 User unknown',
};
const QUARANTINE_REASONS = ['spam', 'virus', 'phishing', 'bulk'];
const HOLD_REASONS = ['policy', 'attachment', 'size', 'manual'];
const PROTOCOLS = ['imap', 'pop3', 'smtp', 'webmail', 'activesync'];
const AUTH_RESULTS = ['success', 'success', 'success', 'failure', 'blocked'];
const FILTERS = ['spf', 'dkim', 'dmarc', 'rbl', 'antivirus', 'antispam', 'attachment'];
const HOSTILE_PIECES = ['a/b', '../', '..', 'x?y=1&z=2', '100%', '%2F', ' sp ace ', 'ümlaut', '日本', '#frag', '+plus', "q'\"", '\\bs', ';semi'];
const ID_CHARS = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz0123456789';

export interface RecordContext {
  /** Seeds the record's PRNG: hash of (seed, stream, index). */
  recordSeed: number;
  index: number;
  eventTime: number;
  domain: string;
  /** The domain JSON-escaped, without quotes: spliced into addresses. */
  domainJson: string;
  type: string | undefined;
  /** Base-36 tag naming the stream; part of every queue id so detail requests map back. */
  streamTag: string;
  numericTag: number;
}

/** JSON text of each entry, so list answers are built by concatenation, not by stringifying objects. */
function jsonTexts(items: readonly string[]): string[] {
  return items.map((s) => JSON.stringify(s));
}

const SUBJECTS_JSON = jsonTexts(SUBJECTS);
const EXTERNAL_DOMAINS_JSON = EXTERNAL_DOMAINS.map((d) => JSON.stringify(d).slice(1, -1));
const STATUSES_JSON = jsonTexts(STATUSES);
const STATUS_MESSAGES_JSON = STATUSES.map((s) => JSON.stringify(STATUS_MESSAGES[s] ?? '250 OK'));
const QUARANTINE_REASONS_JSON = jsonTexts(QUARANTINE_REASONS);
const HOLD_REASONS_JSON = jsonTexts(HOLD_REASONS);
const PROTOCOLS_JSON = jsonTexts(PROTOCOLS);
const AUTH_RESULTS_JSON = jsonTexts(AUTH_RESULTS);
const USER_AGENTS_JSON = jsonTexts(['Thunderbird/115', 'Outlook/16', 'iOS Mail', 'curl/8 "quoted"']);

function pickIndex(rng: Rng, length: number): number {
  return Math.floor(rng() * length);
}

/** A JSON string literal of an address; the local part is plain ASCII, the domain comes pre-escaped. */
function addressJson(rng: Rng, domainJson: string): string {
  return `"${pick(rng, LOCAL_PARTS)}${intBetween(rng, 1, 99)}@${domainJson}"`;
}

function ip(rng: Rng): string {
  return `${intBetween(rng, 1, 223)}.${intBetween(rng, 0, 255)}.${intBetween(rng, 0, 255)}.${intBetween(rng, 1, 254)}`;
}

/**
 * Unique by construction: ends in S<stream tag>I<index in base 36>, which the
 * server parses back. Uppercase S and I never occur in base 36, so whatever
 * precedes the suffix cannot be mistaken for it.
 */
export function queueIdOf(ctx: RecordContext, hostile: boolean): string {
  const rng = createRng(ctx.recordSeed ^ 0x51ed270b);
  let prefix = '';
  for (let k = 0; k < 6; k++) prefix += ID_CHARS[Math.floor(rng() * ID_CHARS.length)];
  // A third of the ids carry characters that break a client which does not encode the path.
  if (hostile && rng() < 0.35) {
    prefix += pick(rng, HOSTILE_PIECES);
    if (rng() < 0.4) prefix += pick(rng, HOSTILE_PIECES);
  }
  return `${prefix}S${ctx.streamTag}I${ctx.index.toString(36)}`;
}

const QUEUE_ID_SUFFIX = /S([0-9a-z]+)I([0-9a-z]+)$/;

export function parseQueueId(queueId: string): { streamTag: string; index: number } | undefined {
  const m = QUEUE_ID_SUFFIX.exec(queueId);
  if (!m || m[1] === undefined || m[2] === undefined) return undefined;
  const index = parseInt(m[2], 36);
  if (!Number.isSafeInteger(index)) return undefined;
  return { streamTag: m[1], index };
}

// The builders below return JSON text: a list page of 1000 records is then one
// join, which keeps the mock from being what a benchmark measures. Objects,
// where needed, come from JSON.parse of the same text, so the two cannot differ.

export function mailSummaryJson(ctx: RecordContext, hostileQueueIds: boolean): string {
  const rng = createRng(ctx.recordSeed);
  const incoming = ctx.type !== 'outgoinglog';
  const external = EXTERNAL_DOMAINS_JSON[pickIndex(rng, EXTERNAL_DOMAINS_JSON.length)] as string;
  const from = addressJson(rng, incoming ? external : ctx.domainJson);
  const recipientCount = rng() < 0.04 ? 0 : rng() < 0.8 ? 1 : intBetween(rng, 2, 4);
  let recipients = '';
  let firstTo = '';
  for (let r = 0; r < recipientCount; r++) {
    const status = pickIndex(rng, STATUSES.length);
    const to = addressJson(rng, incoming ? ctx.domainJson : (EXTERNAL_DOMAINS_JSON[pickIndex(rng, EXTERNAL_DOMAINS_JSON.length)] as string));
    if (r === 0) firstTo = to;
    // recipients[0].time is the event time; later recipients finish later.
    const time = r === 0 ? ctx.eventTime : ctx.eventTime + intBetween(rng, 1, 90);
    recipients += `${r === 0 ? '' : ','}{"to":${to},"status":${STATUSES_JSON[status] as string},"time":${time},"message":${STATUS_MESSAGES_JSON[status] as string}}`;
  }
  let json = `{"queue_id":${JSON.stringify(queueIdOf(ctx, hostileQueueIds))},"from":${from}`;
  if (recipientCount > 0 && rng() < 0.85) json += `,"to":${firstTo}`;
  json += `,"subject":${SUBJECTS_JSON[pickIndex(rng, SUBJECTS_JSON.length)] as string},"size":${intBetween(rng, 800, 2_000_000)}`;
  // Submission precedes delivery: a client that orders by this field is caught.
  json += `,"time":${recipientCount === 0 ? ctx.eventTime : ctx.eventTime - intBetween(rng, 1, 5)}`;
  json += `,"recipients":[${recipients}],"direction":"${incoming ? 'in' : 'out'}","client_ip":"${ip(rng)}"`;
  if (rng() < 0.3) json += `,"spam_score":${Math.round(rng() * 150) / 10}`;
  if (rng() < 0.2) json += rng() < 0.5 ? ',"x_unknown":null' : ',"x_unknown":{"nested":[1,"two",{"three":true}],"big":9007199254740991}';
  return `${json}}`;
}

export function mailSummary(ctx: RecordContext, hostileQueueIds: boolean): MockRecord {
  return JSON.parse(mailSummaryJson(ctx, hostileQueueIds)) as MockRecord;
}

export function mailDetail(ctx: RecordContext, hostileQueueIds: boolean): MockRecord {
  const summary = mailSummary(ctx, hostileQueueIds);
  const rng = createRng(ctx.recordSeed ^ 0x2545f491);
  const recipients = summary['recipients'] as MockRecord[];
  const base = summary['time'] as number;
  const logs: MockRecord[] = [];
  const logCount = intBetween(rng, 2, 5);
  for (let k = 0; k < logCount; k++) {
    logs.push({ time: base + k, host: `mx${intBetween(rng, 1, 4)}.uzmanposta.test`, message: `step ${k + 1} of ${logCount}` });
  }
  const transactions = recipients.map((r, k) => ({
    id: `${summary['queue_id'] as string}#${k}`,
    to: r['to'],
    status: r['status'],
    time: r['time'],
    response: r['message'],
  }));
  const filters: MockRecord[] = [];
  for (const name of FILTERS) {
    if (rng() < 0.5) filters.push({ name, result: rng() < 0.9 ? 'pass' : 'fail', score: Math.round(rng() * 50) / 10 });
  }
  const emails = [
    { address: summary['from'], role: 'from' },
    ...recipients.map((r) => ({ address: r['to'], role: 'to' })),
  ];
  return {
    ...summary,
    logs,
    transactions,
    filters,
    emails,
    headers: { 'message-id': `<${ctx.index.toString(36)}.${ctx.streamTag}@${ctx.domain}>`, 'x-mailer': rng() < 0.5 ? 'mock' : null },
  };
}

export type QuarantineTimeField = 'time' | 'timestamp' | 'starttime' | 'none';

export function quarantineJson(ctx: RecordContext, withoutTimeRatio: number): string {
  const rng = createRng(ctx.recordSeed);
  const u = rng();
  // The event time is `time`, else `timestamp`, else `starttime` (docs/api.md, "Records and event time").
  let field: QuarantineTimeField;
  if (u < withoutTimeRatio) field = 'none';
  else {
    const v = (u - withoutTimeRatio) / (1 - withoutTimeRatio);
    field = v < 0.1 ? 'timestamp' : v < 0.2 ? 'starttime' : 'time';
  }
  let json = `{"id":${100_000 + ctx.index * 1000 + (ctx.numericTag % 1000)}`;
  if (field !== 'none') json += `,"${field}":${ctx.eventTime}`;
  const reasons = ctx.type === 'hold' ? HOLD_REASONS_JSON : QUARANTINE_REASONS_JSON;
  json += `,"from":${addressJson(rng, EXTERNAL_DOMAINS_JSON[pickIndex(rng, EXTERNAL_DOMAINS_JSON.length)] as string)}`;
  json += `,"to":${addressJson(rng, ctx.domainJson)}`;
  json += `,"subject":${SUBJECTS_JSON[pickIndex(rng, SUBJECTS_JSON.length)] as string}`;
  json += `,"reason":${reasons[pickIndex(rng, reasons.length)] as string},"score":${Math.round(rng() * 300) / 10}`;
  if (rng() < 0.3) json += `,"released":${rng() < 0.5}`;
  if (rng() < 0.15) json += ',"x_unknown":{"list":["a","b"],"n":-1.5}';
  return `${json}}`;
}

export function authenticationJson(ctx: RecordContext): string {
  const rng = createRng(ctx.recordSeed);
  let json = `{"time":${ctx.eventTime},"user":${addressJson(rng, ctx.domainJson)},"ip":"${ip(rng)}"`;
  json += `,"protocol":${PROTOCOLS_JSON[pickIndex(rng, PROTOCOLS_JSON.length)] as string},"result":${AUTH_RESULTS_JSON[pickIndex(rng, AUTH_RESULTS_JSON.length)] as string}`;
  if (rng() < 0.4) json += `,"user_agent":${USER_AGENTS_JSON[pickIndex(rng, USER_AGENTS_JSON.length)] as string}`;
  if (rng() < 0.15) json += ',"x_unknown":[true,null,0]';
  return `${json}}`;
}
