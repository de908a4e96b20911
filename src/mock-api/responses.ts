// Answer bodies as the service shapes them (docs/api.md, "Errors"), and the ways a
// fault spoils a good answer.

export interface Answer {
  status: number;
  body: string;
  headers: Record<string, string>;
  /** Records in a list answer; counted in the request log. */
  records?: number;
  /** Sent without Content-Length (chunked). */
  chunked?: boolean;
}

const ERROR_CODES: Record<number, string> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  406: 'NOT_ACCEPTABLE',
  429: 'TOO_MANY_REQUESTS',
  500: 'INTERNAL_SERVER_ERROR',
  502: 'BAD_GATEWAY',
  503: 'SERVICE_UNAVAILABLE',
  504: 'GATEWAY_TIMEOUT',
};

const JSON_TYPE = 'application/json; charset=utf-8';

export const QUARANTINE_TOO_OLD = 'Can make search 7 days before at most';

/** A JSON error object with a status-dependent subset of the documented fields (docs/api.md, "Errors"). */
export function errorAnswer(status: number, message: string, extra: Record<string, string> = {}): Answer {
  const body: Record<string, unknown> = { status, code: ERROR_CODES[status] ?? `HTTP_${status}`, message };
  if (status === 401 || status === 406 || status === 400) body['api-version'] = 'v2';
  if (status === 403) body['extended-code-text'] = 'The API key is not authorized for the requested domain';
  if (status === 401) body['link'] = 'https://yenipanel.uzmanposta.com/api-docs#authentication';
  return { status, body: JSON.stringify(body), headers: { 'content-type': JSON_TYPE, ...extra } };
}

/** The kind of page a proxy in front of the service sends when it gives up. */
export function htmlErrorAnswer(status: number): Answer {
  return {
    status,
    body: `<html><head><title>${status}</title></head><body><h1>${status} ${ERROR_CODES[status] ?? 'Error'}</h1></body></html>\n`,
    headers: { 'content-type': 'text/html' },
  };
}

export function jsonAnswer(body: string, records?: number): Answer {
  return records === undefined
    ? { status: 200, body, headers: { 'content-type': JSON_TYPE } }
    : { status: 200, body, headers: { 'content-type': JSON_TYPE }, records };
}

/** A 200 a client must refuse: cut-off JSON, an HTML page, or nothing at all. */
export function malformed(answer: Answer, variant: number): Answer {
  switch (variant % 3) {
    case 0: {
      const cut = Math.max(1, Math.floor(answer.body.length / 2));
      return { ...answer, status: 200, body: answer.body.slice(0, Math.min(cut, answer.body.length - 1)) || '[' };
    }
    case 1:
      return { ...answer, status: 200, body: '<html><body>Service temporarily unavailable</body></html>', headers: { ...answer.headers, 'content-type': 'text/html' } };
    default:
      return { ...answer, status: 200, body: '' };
  }
}

/** A list answer wrapped in an object, as an API gateway or a version change might send it. */
export function objectInsteadOfArray(answer: Answer): Answer {
  return { ...answer, body: `{"status":200,"message":"OK","data":${answer.body}}` };
}
