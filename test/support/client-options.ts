// The ApiClient options tests start from: a mail incominglog section of
// example.com against `url`, 5 s timeouts, keep-alive, no proxy from the
// environment. Each test overrides what it is about (retries, sleeps, clocks).

import type { ApiClientOptions } from '../../src/api/api-client.js';

export const TEST_CLIENT_KEY = 'test-key-0123456789abcdef';

export function testClientOptions(url: string, over: Partial<ApiClientOptions> = {}): ApiClientOptions {
  return {
    section: 'MailLogger:example.com-in',
    apiKey: TEST_CLIENT_KEY,
    url,
    category: 'mail',
    type: 'incominglog',
    domain: 'example.com',
    listTimeoutMs: 5000,
    detailTimeoutMs: 5000,
    listRetries: 2,
    listSleepSeconds: 2,
    detailRetries: 2,
    detailSleepSeconds: 1,
    useSession: true,
    maxConnections: 2,
    env: {},
    ...over,
  };
}
