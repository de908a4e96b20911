// The problems found in a config file, collected so that every one is
// reported at once (ConfigError) rather than the first alone.

import type { ConfigIssue } from '../common/errors.js';

/** Issues in the order found; the same issue (e.g. a bad [DEFAULT] value seen from each section) once. */
export class IssueList {
  readonly #issues: ConfigIssue[] = [];
  readonly #seen = new Set<string>();

  add(issue: ConfigIssue): void {
    const id = JSON.stringify([issue.section, issue.option, issue.value, issue.message, issue.severity]);
    if (this.#seen.has(id)) return;
    this.#seen.add(id);
    this.#issues.push(issue);
  }

  hasErrors(): boolean {
    return this.#issues.some((i) => i.severity === 'error');
  }

  all(): ConfigIssue[] {
    return [...this.#issues];
  }
}

/**
 * The issues of one [MailLogger:*] section, remembering whether any was an
 * error: such a section yields no SectionConfig, but the others are still read
 * so that their problems are reported too.
 */
export class SectionIssues {
  #failed = false;

  constructor(
    /** The section being resolved; where its own problems are reported. */
    readonly section: string,
    private readonly list: IssueList,
  ) {}

  get failed(): boolean {
    return this.#failed;
  }

  /**
   * `from` is the section the bad value was read from: [DEFAULT] for an
   * inherited one, so that it is reported once rather than per section.
   */
  error(from: string, option: string | undefined, value: string | undefined, message: string): void {
    this.#failed = true;
    this.list.add({
      section: from,
      ...(option === undefined ? {} : { option }),
      ...(value === undefined ? {} : { value }),
      message,
      severity: 'error',
    });
  }

  warning(from: string, option: string, value: string | undefined, message: string): void {
    this.list.add({ section: from, option, ...(value === undefined ? {} : { value }), message, severity: 'warning' });
  }
}
