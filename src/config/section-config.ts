// The resolved, validated settings of one section: what src/config/load-config.ts produces
// from the INI and what a worker receives in its task. Plain data only (it
// crosses postMessage). Paths are absolute; relative ones in the INI resolve
// against the config file's directory, never the working directory.

export type Category = 'mail' | 'quarantine' | 'authentication';

/** Valid `type` values per category (docs/api.md, "Endpoints"). Authentication sends no type. */
export const TYPES_BY_CATEGORY: Record<Category, readonly string[]> = {
  mail: ['incominglog', 'outgoinglog'],
  quarantine: ['quarantine', 'hold'],
  authentication: [],
};

export type FileTime = 'write' | 'event';

export interface SectionConfig {
  /** Full INI section name, e.g. `MailLogger:example.com-in`. */
  section: string;
  /** `{section}` placeholder: the part after `MailLogger:` (the legacy `[MailLogger]` gives `MailLogger`). */
  name: string;
  /** `{id}` placeholder: first 8 hex digits of md5(api_key + domain + type + category + url). */
  id: string;
  apiKey: string;
  domain: string;
  category: Category;
  /** As configured for mail/quarantine; `auth` for authentication (used in file names, never sent). */
  type: string;
  /** Base URL after precedence (section url > [DEFAULT] url for mail only > category default). */
  url: string;
  /** Unix seconds; already defaulted to now − 60 when the INI has none. */
  startTime: number;
  endDelay: number;
  /** Absolute. */
  logDirectory: string;
  /** Absolute: {logDirectory}/{domain or 'global'}/{category}[/{type}]. */
  outputDirectory: string;
  logFileNameFormat: string;
  messageLogFileName: string;
  messageLogRetentionCount: number;
  errorLogFileName: string;
  errorLogRetentionCount: number;
  /** 0: data files are kept forever. */
  dataRetentionDays: number;
  /** Absolute (relative values resolve against outputDirectory, as the Python tool keeps it there). */
  heartbeatFile: string;
  /** Absolute. */
  positionFile: string;
  /** Absolute. */
  lockFilePath: string;
  /** Seconds; 0 = the lock has no lease and a lock from another host is never taken over. */
  lockLease: number;
  splitInterval: number;
  maxTimeGap: number;
  maxRecordsPerPage: number;
  /** Seconds. */
  listTimeout: number;
  detailTimeout: number;
  listRetries: number;
  listSleepTime: number;
  detailRetries: number;
  detailSleepTime: number;
  maxParallelDetails: number;
  /** Seconds from the run's start after which failing requests are not retried; 0 = no limit. */
  maxRunTime: number;
  /** Largest API answer read for one request, MiB (max_response_size). */
  maxResponseSize: number;
  useSession: boolean;
  verbose: boolean;
  fileTime: FileTime;
  /** Create the next period's data file, empty, after each run (file_time = write only). */
  createNextDataFile: boolean;
  /** Hard ceiling of requests per second for this section's key; 0 = none. */
  rateLimit: number;
  /** Absolute path of a Prometheus textfile, or '' for none. */
  metricsFile: string;
  /** Absolute path of an extra CA bundle (PEM), or '' for none. */
  caFile: string;
}
