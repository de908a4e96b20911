// The version in package.json, which both command-line tools print for
// --version: one place reads it, relative to this file's place in dist/, or
// built in by the bundle (esbuild.config.mjs), whose files sit elsewhere.

import { readFileSync } from 'node:fs';

/** Set by esbuild.config.mjs in dist/bundle; not defined anywhere else. */
declare const UZP_BUNDLED_VERSION: string | undefined;

export function packageVersion(): string {
  if (typeof UZP_BUNDLED_VERSION === 'string') return UZP_BUNDLED_VERSION;
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}
