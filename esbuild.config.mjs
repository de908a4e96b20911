// Second step of `npm run build` (after tsc): bundles what a cron tick loads
// into dist/bundle/, so that Node reads and links a few files instead of
// several hundred (docs/decisions.md, "A bundled build").
//
// - dist/bundle/uzmanposta.js: the command line (bin/uzmanposta imports it).
//   Code splitting keeps the commands lazy: a run never loads --check's
//   modules, and the reverse.
// - dist/bundle/section-worker.js: what a Piscina worker thread loads.
//
// Piscina stays outside the bundle: it starts its threads from its own
// worker script, found next to its package files. Everything else (undici,
// winston, yargs, ini, write-file-atomic, lockfile) is bundled. Source maps
// point into src/ and workers/; bin/uzmanposta turns them on, so stack traces
// name the TypeScript files and lines.
//
// The bundle is built from the TypeScript sources, not from tsc's output:
// tsc type-checks and builds dist/src, dist/workers and dist/test (the tests
// import modules one by one); the bundle is what the installed command runs.

import { build } from 'esbuild';
import { readFileSync, rmSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));

// Chunk names carry a content hash: start empty so old chunks do not pile up.
rmSync('dist/bundle', { recursive: true, force: true });

const result = await build({
  entryPoints: {
    uzmanposta: 'src/cli/main.ts',
    'section-worker': 'workers/section-worker.ts',
  },
  outdir: 'dist/bundle',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: 'linked',
  sourcesContent: false,
  // Folds what the defines below decide (the unbundled branches), keeps names and lines readable.
  minifySyntax: true,
  external: ['piscina'],
  // Bundled CommonJS packages (winston, lockfile, …) call require() for Node's
  // own modules; an ES module has no require, so each output file makes one.
  banner: { js: "import { createRequire as __uzpCreateRequire } from 'node:module'; const require = __uzpCreateRequire(import.meta.url);" },
  // The bundle's files sit in one folder, so paths computed from a module's
  // own place in dist/src do not hold there: the version is built in, and the
  // coordinator finds the worker next to itself (src/common/package-version.ts,
  // src/engine/main/coordinator.ts).
  define: {
    // CommonJS code in an ES module: write-file-atomic names its temporary
    // files after __filename (Node 20.11+ has import.meta.filename).
    __filename: 'import.meta.filename',
    UZP_BUNDLED_VERSION: JSON.stringify(pkg.version),
    UZP_BUNDLED_WORKER: JSON.stringify('./section-worker.js'),
  },
  logLevel: 'warning',
  metafile: true,
});

if (result.errors.length > 0) process.exit(1);
