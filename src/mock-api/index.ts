// The mock Uzman Posta API: what the demo, the tests, CI smoke runs and the
// benchmarks start instead of the real service. See docs/api.md.

export { startMockApi, API_PATHS } from './server.js';
export type { MockApi, MockApiOptions, MockApiUrls, MockHold, RangeEnds } from './server.js';
export { eventTimeOf, TYPES_BY_CATEGORY } from './dataset.js';
export type { MockCategory, MockRecord, MockStreamSpec, StreamSelector } from './dataset.js';
export type { FailAction, FaultRequestInfo, FixedWindowLimit, FixedWindowRecord, MockFaults, PerKeyRateLimit, RequestKind } from './faults.js';
export type { LoggedKind, MockRequestLogEntry, MockStats } from './stats.js';
