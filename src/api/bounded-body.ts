// Reads an answer's body into a string without ever holding more than the
// section's max_response_size of it: a Content-Length above the cap fails at
// once, before a byte is read; a body without one (or lying about it) fails as
// soon as the bytes received pass the cap. Either way the connection is cut.

import type { Readable } from 'node:stream';

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

/** What undici's response body offers: a readable stream of chunks that can be destroyed. */
export type BodyStream = Pick<Readable, 'on' | 'destroy'>;

/**
 * The body as UTF-8 text (a leading byte order mark dropped, as undici's
 * text() does), or a BodyTooLarge rejection once it exceeds `limitBytes`.
 * Read through 'data' events rather than an async iterator: one answer per
 * detail request, thousands a tick, and the iterator's promises per chunk
 * cost more than the reading (docs/decisions.md, "What one request costs").
 */
export function readBodyCapped(body: BodyStream, limitBytes: number, contentLength: string | string[] | undefined): Promise<string> {
  const declared = typeof contentLength === 'string' && /^\d+$/.test(contentLength) ? Number(contentLength) : undefined;
  if (declared !== undefined && declared > limitBytes) {
    body.destroy();
    return Promise.reject(new BodyTooLarge(limitBytes, 0, declared));
  }
  return new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    body.on('data', (chunk: Buffer) => {
      received += chunk.byteLength;
      if (received > limitBytes) {
        body.destroy();
        reject(new BodyTooLarge(limitBytes, received, declared));
        return;
      }
      chunks.push(chunk);
    });
    body.on('end', () => {
      const text = (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received)).toString('utf8');
      resolve(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
    });
    body.on('error', reject);
  });
}
