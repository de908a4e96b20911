// The small strftime subset the collector's file names use, in local time as
// the Python tool's time.strftime does. Retention needs the reverse too: which
// names a format can produce, and the time a name encodes, so both directions
// live here and share one token table.

/** Tokens understood by `strftime`; any other `%x` is copied literally. */
export const STRFTIME_TOKENS = ['Y', 'm', 'd', 'H', 'M', 'S', 'j', 'y'] as const;
export type StrftimeToken = (typeof STRFTIME_TOKENS)[number];

// Patterns are as strict as the values strftime can emit, so a near-miss such
// as `errors_2025-13-01_10.log` is not taken for one of ours.
const TOKEN_PATTERN: Record<StrftimeToken, string> = {
  Y: '\\d{4}',
  m: '0[1-9]|1[0-2]',
  d: '0[1-9]|[12]\\d|3[01]',
  H: '[01]\\d|2[0-3]',
  M: '[0-5]\\d',
  S: '[0-5]\\d|60',
  j: '00[1-9]|0[1-9]\\d|[12]\\d\\d|3[0-5]\\d|36[0-6]',
  y: '\\d{2}',
};

function isToken(c: string | undefined): c is StrftimeToken {
  return c !== undefined && (STRFTIME_TOKENS as readonly string[]).includes(c);
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

function dayOfYear(date: Date): number {
  // Date.UTC on local calendar fields sidesteps DST-length days.
  const start = Date.UTC(date.getFullYear(), 0, 1);
  const today = Date.UTC(date.getFullYear(), date.getMonth(), date.getDate());
  return Math.round((today - start) / 86_400_000) + 1;
}

function tokenValue(token: StrftimeToken, date: Date): string {
  switch (token) {
    case 'Y':
      return pad(date.getFullYear(), 4);
    case 'm':
      return pad(date.getMonth() + 1, 2);
    case 'd':
      return pad(date.getDate(), 2);
    case 'H':
      return pad(date.getHours(), 2);
    case 'M':
      return pad(date.getMinutes(), 2);
    case 'S':
      return pad(date.getSeconds(), 2);
    case 'j':
      return pad(dayOfYear(date), 3);
    case 'y':
      return pad(date.getFullYear() % 100, 2);
    default: {
      const never: never = token;
      throw new Error(`unhandled strftime token %${String(never)}`);
    }
  }
}

type Piece = { literal: string } | { token: StrftimeToken };

function parse(format: string): Piece[] {
  const pieces: Piece[] = [];
  let literal = '';
  for (let i = 0; i < format.length; i++) {
    const c = format[i];
    if (c === '%') {
      const next = format[i + 1];
      if (next === '%') {
        literal += '%';
        i++;
        continue;
      }
      if (isToken(next)) {
        if (literal) pieces.push({ literal });
        literal = '';
        pieces.push({ token: next });
        i++;
        continue;
      }
    }
    literal += c;
  }
  if (literal) pieces.push({ literal });
  return pieces;
}

/** Formats `date` in local time. Supports %Y %m %d %H %M %S %j %y %%. */
export function strftime(format: string, date: Date): string {
  return parse(format)
    .map((p) => ('token' in p ? tokenValue(p.token, date) : p.literal))
    .join('');
}

/** True when the format contains at least one date/time token (so its names change over time). */
export function hasDateTokens(format: string): boolean {
  return parse(format).some((p) => 'token' in p);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}

/**
 * An anchored RegExp matching exactly the names `strftime(format, someDate)`
 * can produce. Each token becomes a named group (`Y`, `m`, …); a token used
 * twice is matched but only its first occurrence is captured.
 */
export function strftimeToRegExp(format: string): RegExp {
  const seen = new Set<StrftimeToken>();
  const source = parse(format)
    .map((p) => {
      if ('literal' in p) return escapeRegExp(p.literal);
      const pattern = TOKEN_PATTERN[p.token];
      if (seen.has(p.token)) return `(?:${pattern})`;
      seen.add(p.token);
      return `(?<${p.token}>${pattern})`;
    })
    .join('');
  return new RegExp(`^${source}$`);
}

/**
 * The local time a name produced by `format` encodes, in epoch milliseconds,
 * or null when the name is not one of the format's. Fields the format lacks
 * take their smallest value; a two-digit year is taken as 20yy.
 */
export function strftimeParse(format: string, name: string): number | null {
  const match = strftimeToRegExp(format).exec(name);
  if (!match) return null;
  const g = match.groups ?? {};
  const num = (k: StrftimeToken): number | undefined => (g[k] === undefined ? undefined : Number(g[k]));
  const year = num('Y') ?? (num('y') !== undefined ? 2000 + (num('y') ?? 0) : 1970);
  let month = (num('m') ?? 1) - 1;
  let day = num('d') ?? 1;
  const yday = num('j');
  if (yday !== undefined && num('m') === undefined && num('d') === undefined) {
    month = 0;
    day = yday;
  }
  return new Date(year, month, day, num('H') ?? 0, num('M') ?? 0, num('S') ?? 0).getTime();
}

/** ISO 8601 in local time with its UTC offset, e.g. `2025-01-01T10:00:00.123+03:00`. */
export function localIsoString(date: Date): string {
  const offsetMin = -date.getTimezoneOffset();
  const sign = offsetMin >= 0 ? '+' : '-';
  const abs = Math.abs(offsetMin);
  return (
    `${pad(date.getFullYear(), 4)}-${pad(date.getMonth() + 1, 2)}-${pad(date.getDate(), 2)}` +
    `T${pad(date.getHours(), 2)}:${pad(date.getMinutes(), 2)}:${pad(date.getSeconds(), 2)}` +
    `.${pad(date.getMilliseconds(), 3)}${sign}${pad(Math.floor(abs / 60), 2)}:${pad(abs % 60, 2)}`
  );
}
