// Stack traces in terms of the TypeScript sources. The installed command runs
// the bundle (docs/decisions.md, "A bundled build"), whose frames name chunk
// files in dist/bundle. Where a frame's file has its source map beside it, the
// frame is rewritten to the source file, line and column it came from. Done
// only when an error is reported (the error log, a failed section, an
// unexpected error), so a run without errors never reads a map; Node's own
// --enable-source-maps would parse every map as each module loads.

import { readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Parsed maps by script path; null when a script has none (or it cannot be read). */
const maps = new Map<string, SourceMap | null>();

function mapOf(script: string): SourceMap | null {
  let map = maps.get(script);
  if (map === undefined) {
    try {
      map = new SourceMap(JSON.parse(readFileSync(`${script}.map`, 'utf8')) as ConstructorParameters<typeof SourceMap>[0]);
    } catch {
      map = null;
    }
    maps.set(script, map);
  }
  return map;
}

/** `file:///…/dist/….js:LINE:COLUMN` or `/…/dist/….js:LINE:COLUMN` inside a stack frame. */
const FRAME_LOCATION = /(file:\/\/\/[^\s()]+?\/dist\/[^\s()]+?\.js|\/[^\s()]*?\/dist\/[^\s()]+?\.js):(\d+):(\d+)/g;

/** `stack` with every frame in a mapped script of dist/ pointing at its source instead. */
export function readableStack(stack: string): string;
export function readableStack(stack: string | undefined): string | undefined;
export function readableStack(stack: string | undefined): string | undefined {
  // Node maps the frames itself when asked to (NODE_OPTIONS=--enable-source-maps).
  if (stack === undefined || process.sourceMapsEnabled) return stack;
  return stack.replace(FRAME_LOCATION, (whole: string, file: string, line: string, column: string) => {
    const script = file.startsWith('file://') ? fileURLToPath(file) : file;
    const entry = mapOf(script)?.findEntry(Number(line) - 1, Number(column) - 1);
    if (!entry || !('originalSource' in entry) || typeof entry.originalSource !== 'string') return whole;
    const source = entry.originalSource.startsWith('file://') ? fileURLToPath(entry.originalSource) : resolve(dirname(script), entry.originalSource);
    return `${source}:${entry.originalLine + 1}:${entry.originalColumn + 1}`;
  });
}
