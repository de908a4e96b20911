// Second step of `npm run build` (after tsc): bundles what a cron tick loads
// into dist/bundle/, so that Node reads and links a few files instead of
// several hundred (docs/decisions.md, "A bundled build").
//
// - dist/bundle/uzmanposta.js: the command line (bin/uzmanposta imports it).
//   Code splitting keeps the commands lazy: a run never loads --check's
//   modules, and the reverse.
// - dist/bundle/section-worker.js: what a Piscina worker thread loads, in one
//   file, built apart from the command line. Piscina's worker require()s it,
//   so Node reads it as a string at once; split into chunks, the chunks went
//   through the ES module loader, which decodes each file's bytes itself
//   (~10 ms a thread for undici's chunk, measured).
//
// Piscina stays outside the bundle: it starts its threads from its own
// worker script, found next to its package files. Everything else (undici,
// winston, yargs, ini, write-file-atomic, lockfile) is bundled. Source maps
// point into src/ and workers/; src/common/readable-stack.ts maps the frames
// of the stacks the collector reports, so they name the TypeScript files and lines.
//
// The bundle is built from the TypeScript sources, not from tsc's output:
// tsc type-checks and builds dist/src, dist/workers and dist/test (the tests
// import modules one by one); the bundle is what the installed command runs.

import { build } from 'esbuild';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

/**
 * How anything of ours is bundled: the collector below, and the bench's floor
 * of the stack (bench/stack-floor/), which must load its packages the same way
 * for the comparison to mean something.
 */
export function bundleOptions({ entryPoints, outdir, define = {} }) {
  return {
    entryPoints,
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    sourcemap: 'linked',
    sourcesContent: false,
    // Folds what the defines decide (the unbundled branches), keeps names and lines readable.
    minifySyntax: true,
    external: ['piscina'],
    // Bundled CommonJS packages (winston, lockfile, ...) call require() for Node's
    // own modules; an ES module has no require, so each output file makes one.
    banner: { js: "import { createRequire as __uzpCreateRequire } from 'node:module'; const require = __uzpCreateRequire(import.meta.url);" },
    define: {
      // CommonJS code in an ES module: write-file-atomic names its temporary
      // files after __filename (Node 20.11+ has import.meta.filename).
      __filename: 'import.meta.filename',
      ...define,
    },
    logLevel: 'warning',
    metafile: true,
  };
}

/** Builds `options` into a fresh outdir; returns false when esbuild reported errors. */
export async function bundle(options) {
  // Chunk names carry a content hash: start empty so old chunks do not pile up.
  rmSync(options.outdir, { recursive: true, force: true });
  return bundleInto(options);
}

/** Builds `options` into its outdir beside what is there. */
async function bundleInto(options) {
  const result = await build(options);
  if (result.errors.length > 0) return false;

  // esbuild escapes non-ASCII characters in strings and regular expressions
  // (charset "ascii") but keeps the comments it carries over, and undici's and
  // winston's hold a few (curly apostrophes, dashes). One such character makes
  // Node decode the whole file into a two-byte string: ~10 ms more and a few
  // MB per thread for undici's chunk. A comment loses nothing by an ASCII
  // stand-in of the same length in UTF-16 units, so source-map columns stay right.
  for (const file of Object.keys(result.metafile.outputs)) {
    if (!file.endsWith('.js')) continue;
    const text = readFileSync(file, 'utf8');
    const ascii = text.replace(/[^\x00-\x7f]/gu, (c) => '?'.repeat(c.length));
    if (ascii !== text) writeFileSync(file, ascii);
  }
  return true;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));
  // The bundle's files sit in one folder, so paths computed from a module's
  // own place in dist/src do not hold there: the version is built in, and the
  // coordinator finds the worker next to itself (src/common/package-version.ts,
  // src/engine/main/coordinator.ts).
  const define = {
    UZP_BUNDLED_VERSION: JSON.stringify(pkg.version),
    UZP_BUNDLED_WORKER: JSON.stringify('./section-worker.js'),
  };
  const outdir = 'dist/bundle';
  const ok =
    (await bundle(bundleOptions({ entryPoints: { uzmanposta: 'src/cli/main.ts' }, outdir, define }))) &&
    (await bundleInto({ ...bundleOptions({ entryPoints: { 'section-worker': 'workers/section-worker.ts' }, outdir, define }), splitting: false }));
  if (!ok) process.exit(1);
}
