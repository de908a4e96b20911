// Reads INI text as Python's configparser does with the predecessor's settings
// (interpolation=None, encoding utf-8-sig), so a file that worked there reads
// the same here: `key = value` and `key: value`, full-line `#`/`;` comments,
// inline `;`/`#` kept in the value, keys lowercased, values trimmed, indented
// continuation lines, a BOM, any line ending, `%(x)s` and `$` left alone.
//
// The `ini` package groups keys into sections, but on raw configparser text it
// would cut values at `;`/`#`, miss `key: value`, turn `true`/`false`/`null`
// into non-strings, unquote values, keep keys' case and nest sections at each
// dot. So each line is first read by configparser's rules and handed to `ini`
// in a form it reads back unchanged: JSON-quoted keys and values, and section
// names with `.`, `;`, `#` and `\` escaped (a dot it sees unescaped would turn
// [MailLogger:example.com] into section `com` inside `MailLogger:example`).

import ini from 'ini';

export const DEFAULT_SECTION = 'DEFAULT';

export interface IniSection {
  name: string;
  /** 1-based line of its header. */
  line: number;
  /** Lowercased keys; trimmed values, continuation lines joined with '\n'. */
  options: ReadonlyMap<string, string>;
}

export interface IniProblem {
  /** 1-based. */
  line: number;
  /** Section the line is in; '' before the first header. */
  section: string;
  option?: string;
  message: string;
  severity: 'error' | 'warning';
}

export interface IniDocument {
  /** The [DEFAULT] section's options (every [DEFAULT] header in the file, merged). */
  defaults: ReadonlyMap<string, string>;
  /** Every other section, in file order. */
  sections: IniSection[];
  problems: IniProblem[];
}

interface ScannedSection {
  name: string;
  line: number;
  values: Map<string, string[]>;
}

// configparser's SECTCRE: greedy, so the header runs to the last `]`.
const SECTION_RE = /^\[(.+)\]/;
// configparser's OPTCRE: the key ends at the first `=` or `:`.
const OPTION_RE = /^(.*?)\s*([=:])\s*(.*)$/;

export function parseIni(text: string): IniDocument {
  const problems: IniProblem[] = [];
  const scanned = scan(text, problems);
  const decoded = ini.decode(canonicalText(scanned)) as Record<string, unknown>;

  const read = (s: ScannedSection): Map<string, string> => {
    const raw = decoded[s.name];
    const options = new Map<string, string>();
    if (raw !== null && typeof raw === 'object') {
      // ini turns the strings true/false/null into values; String() gives back the text exactly.
      for (const [k, v] of Object.entries(raw)) options.set(k, String(v));
    }
    return options;
  };

  let defaults = new Map<string, string>();
  const sections: IniSection[] = [];
  for (const s of scanned) {
    if (s.name === DEFAULT_SECTION) defaults = read(s);
    else sections.push({ name: s.name, line: s.line, options: read(s) });
  }
  return { defaults, sections, problems };
}

function scan(text: string, problems: IniProblem[]): ScannedSection[] {
  const sections = new Map<string, ScannedSection>();
  let current: ScannedSection | undefined;
  // The value lines of the option being read, or undefined between options.
  // After an error it points at a discarded array, so the bad option's
  // continuation lines are not read as options of their own.
  let valueLines: string[] | undefined;
  let indentLevel = 0;

  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/);
  lines.forEach((line, index) => {
    const lineNo = index + 1;
    const problem = (message: string, more: { section?: string; option?: string; severity?: 'warning' } = {}): void => {
      problems.push({
        line: lineNo,
        section: more.section ?? current?.name ?? '',
        ...(more.option === undefined ? {} : { option: more.option }),
        message: `line ${lineNo}: ${message}`,
        severity: more.severity ?? 'error',
      });
    };
    const stripped = line.trim();
    if (stripped.startsWith('#') || stripped.startsWith(';')) return;
    if (stripped === '') {
      // configparser keeps blank lines inside a multi-line value; trailing ones are trimmed at the end.
      valueLines?.push('');
      return;
    }
    const indent = line.search(/\S/);
    if (valueLines && indent > indentLevel) {
      valueLines.push(stripped);
      return;
    }
    indentLevel = indent;

    const header = SECTION_RE.exec(stripped);
    if (header) {
      valueLines = undefined;
      const name = (header[1] ?? '').trim();
      const unsupported = unsupportedSectionName(name);
      if (unsupported) {
        problem(`section name [${name}] ${unsupported}; its options are ignored`, { section: name });
        current = discardedSection(name, lineNo);
        return;
      }
      const existing = sections.get(name);
      if (existing && name !== DEFAULT_SECTION) {
        problem(`section [${name}] appears again (first on line ${existing.line}); merge the two into one`, { section: name });
        current = discardedSection(name, lineNo);
        return;
      }
      current = existing ?? { name, line: lineNo, values: new Map() };
      sections.set(name, current);
      return;
    }

    // Messages never echo the line: it may be a pasted API key.
    const opt = OPTION_RE.exec(stripped);
    const key = (opt?.[1] ?? '').trimEnd().toLowerCase();
    if (!current) {
      valueLines = [];
      problem('text outside any section; options go under [DEFAULT] or a [MailLogger:NAME] header');
      return;
    }
    if (!opt) {
      valueLines = [];
      problem("not 'key = value', 'key: value', a [section] header or a comment");
      return;
    }
    if (key === '') {
      valueLines = [];
      problem(`'${opt[2] ?? '='}' with no option name before it`);
      return;
    }
    if (current.values.has(key)) {
      valueLines = [];
      problem(`option '${key}' is set twice in [${current.name}]; the first value is used, remove one`, { option: key });
      return;
    }
    if (key === '__proto__' || key.endsWith('[]')) {
      // `ini` cannot carry these names; no option of ours has them.
      valueLines = [];
      problem(`option '${key}' is not a known option and is ignored`, { option: key, severity: 'warning' });
      return;
    }
    valueLines = [opt[3] ?? ''];
    current.values.set(key, valueLines);
  });
  return [...sections.values()];
}

// The header regex `ini` uses stops at the first `]`, and `ini` unquotes a
// name wrapped in quotes; neither can be escaped, so such names are refused
// rather than silently renamed.
function unsupportedSectionName(name: string): string | undefined {
  if (name === '') return 'has an empty name';
  if (name.includes(']')) return "contains ']', which is not supported";
  if (name.length > 1 && /^(["']).*\1$/.test(name)) return 'is wrapped in quotes, which is not supported';
  if (name === '__proto__') return 'is a reserved name';
  return undefined;
}

function discardedSection(name: string, line: number): ScannedSection {
  return { name, line, values: new Map() };
}

function canonicalText(sections: ScannedSection[]): string {
  const out: string[] = [];
  for (const s of sections) {
    out.push(`[${s.name.replace(/[\\.;#]/g, (c) => `\\${c}`)}]`);
    for (const [key, lines] of s.values) {
      // configparser joins continuation lines with '\n' and trims the end.
      out.push(`${JSON.stringify(key)} = ${JSON.stringify(lines.join('\n').trimEnd())}`);
    }
  }
  return out.join('\n');
}
