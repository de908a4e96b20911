// Turns what undici and the OS throw into a NetworkError whose kind and message
// name the failure in words (docs/api.md, "Errors": DNS, refused, TLS and timeout errors are
// named as such in the error log).

import { promises as dnsPromises } from 'node:dns';
import { isIP } from 'node:net';
import { NetworkError, type NetworkErrorKind } from '../common/errors.js';

const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME', 'EAI_NODATA']);
const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);
const RESET_CODES = new Set([
  'ECONNRESET',
  'EPIPE',
  'ECONNABORTED',
  // undici's "other side closed" and a body cut short of its Content-Length.
  'UND_ERR_SOCKET',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
]);
// OpenSSL's certificate verification results, as Node exposes them in `code`.
const TLS_VERIFY_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_CRL',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_CHAIN_TOO_LONG',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'HOSTNAME_MISMATCH',
  'UND_ERR_PRX_TLS',
]);
// Errors that are bugs or lifecycle, not the network: the client rethrows them as they are.
const NOT_NETWORK_CODES = new Set(['UND_ERR_INVALID_ARG', 'UND_ERR_INVALID_RETURN_VALUE', 'UND_ERR_NOT_SUPPORTED']);

interface CodedError {
  code?: unknown;
  message?: unknown;
  errors?: unknown;
  cause?: unknown;
}

/** The error's `code`, looking through AggregateError (happy eyeballs) and `cause` chains. */
export function errorCode(err: unknown): string | undefined {
  const seen = new Set<unknown>();
  let cur: unknown = err;
  while (cur !== null && typeof cur === 'object' && !seen.has(cur)) {
    seen.add(cur);
    const e = cur as CodedError;
    if (typeof e.code === 'string' && e.code !== '') return e.code;
    if (Array.isArray(e.errors) && e.errors.length > 0) {
      cur = e.errors[0];
      continue;
    }
    cur = e.cause;
  }
  return undefined;
}

/**
 * The kind of network failure, or null when `err` is not a network failure at
 * all (a bug such as an invalid argument), which must not be retried or hidden.
 */
export function networkErrorKind(err: unknown): NetworkErrorKind | null {
  const code = errorCode(err);
  if (code === undefined) {
    // undici reports an HTTP parser failure and some socket failures without a code.
    const msg = err instanceof Error ? err.message : '';
    return /other side closed|socket hang up/i.test(msg) ? 'reset' : null;
  }
  if (NOT_NETWORK_CODES.has(code)) return null;
  if (DNS_CODES.has(code)) return 'dns';
  if (code === 'ECONNREFUSED') return 'refused';
  if (TIMEOUT_CODES.has(code)) return 'timeout';
  if (RESET_CODES.has(code)) return 'reset';
  if (TLS_VERIFY_CODES.has(code) || code.startsWith('ERR_TLS_') || code.startsWith('ERR_SSL_') || code.startsWith('CERT_')) {
    return 'tls';
  }
  if (code === 'EPROTO' && err instanceof Error && /ssl|tls/i.test(err.message)) return 'tls';
  return 'other';
}

export interface NetworkFailureContext {
  section: string;
  /** Request URL, key already masked. */
  url: string;
  host: string;
  port: number;
  durationMs: number;
  attempt: number;
  /** Set when the request went through an HTTP(S) proxy from the environment. */
  viaProxy?: boolean;
}

export type HostLookup = (host: string) => Promise<unknown>;

/** A lookup of a host that does not exist can take the resolver's full timeout; do not hold the retry loop longer. */
const DNS_CHECK_TIMEOUT_MS = 5000;

/**
 * Builds the NetworkError for `err` (which networkErrorKind classified as `kind`).
 * A DNS failure is confirmed with a lookup of the host, as the error log must say
 * whether the name really does not resolve or only failed once.
 */
export async function toNetworkError(
  err: unknown,
  kind: NetworkErrorKind,
  ctx: NetworkFailureContext,
  lookup: HostLookup = (host) => dnsPromises.lookup(host),
): Promise<NetworkError> {
  const code = errorCode(err) ?? 'no code';
  const where = `${ctx.host}:${ctx.port}`;
  const proxyNote = ctx.viaProxy ? ' (through the proxy from the environment)' : '';
  const detail = err instanceof Error ? err.message : String(err);
  const extra: Record<string, unknown> = {};
  let what: string;
  switch (kind) {
    case 'dns': {
      const check = await checkDns(ctx.host, lookup);
      extra.dnsCheck = check;
      what = `DNS resolution failed for ${ctx.host} (${code}; checked with a lookup: ${check})`;
      break;
    }
    case 'refused':
      what = `connection refused by ${where}${proxyNote}: nothing listens there`;
      break;
    case 'tls':
      what = `TLS handshake with ${where} failed${proxyNote} (${code}: ${detail}); the certificate is not trusted or invalid — set ca_file if the service uses a private CA`;
      break;
    case 'timeout':
      what = `${timeoutWhat(code)} ${where}${proxyNote}`;
      break;
    case 'reset':
      what = `connection to ${where} was reset or closed by the other side${proxyNote} (${code}: ${detail})`;
      break;
    case 'other':
      what = `network error talking to ${where}${proxyNote} (${code}: ${detail})`;
      break;
    default: {
      const never: never = kind;
      throw new Error(`unknown network error kind: ${String(never)}`);
    }
  }
  const message = `section ${ctx.section}: ${what}; GET ${ctx.url}, attempt ${ctx.attempt}, after ${ctx.durationMs} ms`;
  return new NetworkError(
    kind,
    message,
    {
      section: ctx.section,
      url: ctx.url,
      host: ctx.host,
      port: ctx.port,
      durationMs: ctx.durationMs,
      attempt: ctx.attempt,
      errorCode: code,
      ...extra,
    },
    { cause: err },
  );
}

function timeoutWhat(code: string): string {
  switch (code) {
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'ETIMEDOUT':
      return 'timed out connecting to';
    case 'UND_ERR_HEADERS_TIMEOUT':
      return 'timed out waiting for the response headers from';
    case 'UND_ERR_BODY_TIMEOUT':
      return 'timed out reading the response body from';
    default:
      return 'timed out talking to';
  }
}

async function checkDns(host: string, lookup: HostLookup): Promise<string> {
  if (isIP(host) !== 0) return 'the host is an IP address, no lookup needed';
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), DNS_CHECK_TIMEOUT_MS);
    timer.unref();
  });
  try {
    const outcome = await Promise.race([
      lookup(host).then(
        () => 'resolved' as const,
        (e: unknown) => `does not resolve (${errorCode(e) ?? (e instanceof Error ? e.message : String(e))})`,
      ),
      timeout,
    ]);
    if (outcome === 'resolved') return `${host} resolves now, so the failure was transient`;
    if (outcome === 'timeout') return `the lookup of ${host} did not answer within ${DNS_CHECK_TIMEOUT_MS} ms`;
    return `${host} ${outcome}`;
  } finally {
    clearTimeout(timer);
  }
}
