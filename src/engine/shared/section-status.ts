// The one vocabulary for where a section stands: the worker's result, the
// coordinator's state, the end-of-run summary and the Prometheus file all use
// these words. Only the heartbeat file writes `failed` as `error`, the word the
// Python tool wrote and existing monitoring checks match (reporting/heartbeat.ts).

/** Every status, in the order a section passes through them. */
export const SECTION_STATUSES = ['queued', 'running', 'completed', 'failed', 'stopped', 'skipped'] as const;
export type SectionStatus = (typeof SECTION_STATUSES)[number];

/** How a section's run ended: the status of its result. */
export const END_STATUSES = ['completed', 'failed', 'stopped', 'skipped'] as const satisfies readonly SectionStatus[];
export type SectionEndStatus = (typeof END_STATUSES)[number];
