// Reads an answer's body into a string without ever holding more than the
// section's max_response_size of it: a Content-Length above the cap fails at
// once, before a byte is read; a body without one (or lying about it) fails as
// soon as the bytes received pass the cap. Either way the connection is cut.

import { StringDecoder } from 'node:string_decoder';

/** The body went past the cap; `received` is what had arrived when reading stopped. */
export class BodyTooLarge extends Error {
  constructor(
    readonly limitBytes: number,
    readonly received: number,
    readonly declared: number | undefined,
  ) {
    super(`answer larger than ${limitBytes} bytes`);
    this.name = 'BodyTooLarge';
  }
}

/** What undici's response body offers: an async iterable of chunks that can be destroyed. */
export interface BodyStream extends AsyncIterable<Uint8Array> {
  destroy(err?: Error): unknown;
}

/**
 * The body as UTF-8 text (a leading byte order mark dropped, as undici's
 * text() does), or a BodyTooLarge rejection once it exceeds `limitBytes`.
 */
export async function readBodyCapped(body: BodyStream, limitBytes: number, contentLength: string | string[] | undefined): Promise<string> {
  const declared = typeof contentLength === 'string' && /^\d+$/.test(contentLength) ? Number(contentLength) : undefined;
  if (declared !== undefined && declared > limitBytes) {
    body.destroy();
    throw new BodyTooLarge(limitBytes, 0, declared);
  }
  const decoder = new StringDecoder('utf8');
  const parts: string[] = [];
  let received = 0;
  for await (const chunk of body) {
    received += chunk.byteLength;
    if (received > limitBytes) {
      body.destroy();
      throw new BodyTooLarge(limitBytes, received, declared);
    }
    parts.push(decoder.write(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)));
  }
  parts.push(decoder.end());
  const text = parts.join('');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}
