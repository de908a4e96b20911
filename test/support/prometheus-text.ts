// A strict reader of the Prometheus text exposition format (version 0.0.4),
// as node_exporter's textfile collector reads a metrics_file: tests assert on
// parsed values, and anything the collector would reject throws here.

export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
  timestamp?: number;
}

export interface PromFamily {
  name: string;
  help?: string;
  type?: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  samples: PromSample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

export class PromParseError extends Error {}

/** Families by name, in file order. */
export function parsePrometheusText(text: string): Map<string, PromFamily> {
  const families = new Map<string, PromFamily>();
  const series = new Set<string>();
  let current: string | undefined; // family whose samples are being read
  const closed = new Set<string>(); // families whose samples ended: they may not come back
  const lines = text.split('\n');
  if (text.length > 0 && !text.endsWith('\n')) throw new PromParseError('the text must end with a newline');
  const family = (name: string): PromFamily => {
    let f = families.get(name);
    if (!f) families.set(name, (f = { name, samples: [] }));
    return f;
  };
  lines.forEach((raw, i) => {
    const where = `line ${i + 1}`;
    const line = raw.trim();
    if (line === '') return;
    if (line.startsWith('#')) {
      const m = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s+(.*))?$/.exec(line);
      if (!m) return; // a plain comment
      const [, kind, name = '', rest = ''] = m;
      if (!METRIC_NAME.test(name) || METRIC_NAME.exec(name)?.[0] !== name) throw new PromParseError(`${where}: bad metric name ${JSON.stringify(name)}`);
      const f = family(name);
      if (kind === 'HELP') {
        if (f.help !== undefined) throw new PromParseError(`${where}: second HELP for ${name}`);
        f.help = unescape(rest, false, where);
      } else {
        if (f.type !== undefined) throw new PromParseError(`${where}: second TYPE for ${name}`);
        if (f.samples.length > 0) throw new PromParseError(`${where}: TYPE for ${name} after its samples`);
        if (!TYPES.has(rest)) throw new PromParseError(`${where}: unknown type ${JSON.stringify(rest)}`);
        f.type = rest as PromFamily['type'];
      }
      return;
    }
    const sample = parseSample(line, where);
    if (current !== sample.name) {
      if (current !== undefined) closed.add(current);
      if (closed.has(sample.name)) throw new PromParseError(`${where}: samples of ${sample.name} are not together`);
      current = sample.name;
    }
    const key = `${sample.name}{${Object.entries(sample.labels).sort().map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}}`;
    if (series.has(key)) throw new PromParseError(`${where}: duplicate series ${key}`);
    series.add(key);
    family(sample.name).samples.push(sample);
  });
  return families;
}

function parseSample(line: string, where: string): PromSample {
  const name = METRIC_NAME.exec(line)?.[0];
  if (!name) throw new PromParseError(`${where}: no metric name in ${JSON.stringify(line)}`);
  let rest = line.slice(name.length);
  const labels: Record<string, string> = {};
  if (rest.startsWith('{')) {
    rest = rest.slice(1);
    for (;;) {
      rest = rest.trimStart();
      if (rest.startsWith('}')) {
        rest = rest.slice(1);
        break;
      }
      const label = LABEL_NAME.exec(rest)?.[0];
      if (!label) throw new PromParseError(`${where}: bad label name at ${JSON.stringify(rest)}`);
      if (label in labels) throw new PromParseError(`${where}: label ${label} twice`);
      rest = rest.slice(label.length).trimStart();
      if (!rest.startsWith('="')) throw new PromParseError(`${where}: label ${label} needs ="value"`);
      rest = rest.slice(2);
      let value = '';
      for (;;) {
        const c = rest[0];
        if (c === undefined) throw new PromParseError(`${where}: unterminated value of label ${label}`);
        rest = rest.slice(1);
        if (c === '"') break;
        if (c === '\\') {
          const e = rest[0];
          rest = rest.slice(1);
          if (e === '\\') value += '\\';
          else if (e === '"') value += '"';
          else if (e === 'n') value += '\n';
          else throw new PromParseError(`${where}: unknown escape \\${e ?? ''} in label ${label}`);
        } else value += c;
      }
      labels[label] = value;
      rest = rest.trimStart();
      if (rest.startsWith(',')) rest = rest.slice(1);
      else if (!rest.startsWith('}')) throw new PromParseError(`${where}: expected , or } after label ${label}`);
    }
  }
  if (!/^[ \t]/.test(rest)) throw new PromParseError(`${where}: no space before the value in ${JSON.stringify(line)}`);
  const parts = rest.trim().split(/[ \t]+/);
  if (parts.length < 1 || parts.length > 2) throw new PromParseError(`${where}: expected a value and an optional timestamp`);
  const value = parseValue(parts[0] ?? '', where);
  const sample: PromSample = { name, labels, value };
  if (parts[1] !== undefined) {
    if (!/^-?\d+$/.test(parts[1])) throw new PromParseError(`${where}: bad timestamp ${parts[1]}`);
    sample.timestamp = Number(parts[1]);
  }
  return sample;
}

function parseValue(text: string, where: string): number {
  if (text === 'NaN') return NaN;
  if (text === '+Inf' || text === 'Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) throw new PromParseError(`${where}: bad value ${JSON.stringify(text)}`);
  return Number(text);
}

function unescape(text: string, quotes: boolean, where: string): string {
  return text.replace(/\\(.?)/g, (_, e: string) => {
    if (e === '\\') return '\\';
    if (e === 'n') return '\n';
    if (quotes && e === '"') return '"';
    throw new PromParseError(`${where}: unknown escape \\${e}`);
  });
}

/** The one sample of `name` whose labels include `labels`; throws unless exactly one matches. */
export function sampleValue(families: Map<string, PromFamily>, name: string, labels: Record<string, string> = {}): number {
  const found = (families.get(name)?.samples ?? []).filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length !== 1) throw new Error(`${found.length} samples of ${name} with ${JSON.stringify(labels)}`);
  return found[0]!.value;
}
