// The one place a section's config becomes ApiClient options, for the run and
// for --check --online alike, so the two cannot drift apart.

import type { SectionConfig } from '../config/section-config.js';
import type { ApiClientOptions } from './api-client.js';

/** What the config does not hold: the caller's gate, listeners, signal and environment. */
export type ClientRuntime = Pick<ApiClientOptions, 'gate' | 'sleep' | 'onRequest' | 'signal' | 'env' | 'deadline'>;

export function clientOptions(cfg: SectionConfig, runtime: ClientRuntime = {}): ApiClientOptions {
  return {
    section: cfg.section,
    apiKey: cfg.apiKey,
    url: cfg.url,
    category: cfg.category,
    type: cfg.type,
    domain: cfg.domain,
    listTimeoutMs: cfg.listTimeout * 1000,
    detailTimeoutMs: cfg.detailTimeout * 1000,
    listRetries: cfg.listRetries,
    listSleepSeconds: cfg.listSleepTime,
    detailRetries: cfg.detailRetries,
    detailSleepSeconds: cfg.detailSleepTime,
    useSession: cfg.useSession,
    // Every detail slot, plus the list request that runs ahead of them.
    maxConnections: cfg.maxParallelDetails + 1,
    caFile: cfg.caFile || undefined,
    maxResponseBytes: cfg.maxResponseSize * 2 ** 20,
    ...runtime,
  };
}
