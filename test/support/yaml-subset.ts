// A reader for the strict subset of YAML our examples are written in: block
// mappings and block sequences by indentation, plain scalars and
// double-quoted ones (read as JSON strings), whole-line comments. Anything
// else (flow collections, anchors, multi-line scalars, tabs, inline comments
// after a value) is refused with the line number, so an example that drifts
// out of the subset fails its test instead of being misread.
// Not a YAML parser: no package needed for what the examples use.

export type YamlValue = string | YamlValue[] | { [key: string]: YamlValue };

interface Line {
  n: number;
  indent: number;
  text: string;
}

export function readYamlSubset(source: string): YamlValue {
  const lines: Line[] = [];
  source.split('\n').forEach((raw, i) => {
    if (raw.includes('\t')) throw new Error(`line ${i + 1}: tabs are outside the subset`);
    const text = raw.trimEnd();
    const body = text.trimStart();
    if (body === '' || body.startsWith('#')) return;
    lines.push({ n: i + 1, indent: text.length - body.length, text: body });
  });
  let pos = 0;

  function scalar(raw: string, n: number): string {
    if (raw.startsWith('"')) {
      try {
        return JSON.parse(raw) as string;
      } catch {
        throw new Error(`line ${n}: a double-quoted scalar must be one JSON string: ${raw}`);
      }
    }
    if (/^['[{&*!|>%@`]/.test(raw) || / #/.test(raw)) throw new Error(`line ${n}: outside the subset: ${raw}`);
    return raw;
  }

  function block(indent: number): YamlValue {
    const first = lines[pos];
    if (!first || first.indent !== indent) throw new Error(`line ${first?.n ?? 'end'}: expected a block at indent ${indent}`);
    if (first.text === '-' || first.text.startsWith('- ')) {
      const items: YamlValue[] = [];
      while (lines[pos] && lines[pos]!.indent === indent && lines[pos]!.text.startsWith('- ')) {
        const line = lines[pos]!;
        // "- key: value" opens a mapping whose keys sit two columns in.
        lines[pos] = { n: line.n, indent: indent + 2, text: line.text.slice(2).trimStart() };
        if (/^[^"]*:( |$)/.test(lines[pos]!.text)) items.push(block(indent + 2));
        else {
          items.push(scalar(lines[pos]!.text, line.n));
          pos++;
        }
      }
      return items;
    }
    const map: { [key: string]: YamlValue } = {};
    while (lines[pos] && lines[pos]!.indent === indent && !lines[pos]!.text.startsWith('- ')) {
      const line = lines[pos]!;
      const m = /^([A-Za-z0-9_.$-]+):(?: (.*))?$/.exec(line.text);
      if (!m) throw new Error(`line ${line.n}: expected "key: value" or "key:", got ${line.text}`);
      const key = m[1]!;
      if (key in map) throw new Error(`line ${line.n}: duplicate key ${key}`);
      pos++;
      if (m[2] !== undefined && m[2] !== '') {
        map[key] = scalar(m[2], line.n);
      } else {
        const next = lines[pos];
        if (!next || next.indent < indent || (next.indent === indent && !next.text.startsWith('- '))) {
          throw new Error(`line ${line.n}: ${key} has no value`);
        }
        map[key] = block(next.indent);
      }
    }
    if (lines[pos] && lines[pos]!.indent > indent) throw new Error(`line ${lines[pos]!.n}: unexpected indentation`);
    return map;
  }

  const doc = block(lines[0]?.indent ?? 0);
  if (pos !== lines.length) throw new Error(`line ${lines[pos]!.n}: unexpected content`);
  return doc;
}
