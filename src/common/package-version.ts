// The version in package.json, which both command-line tools print for
// --version: one place reads it, relative to this file's place in dist/.

import { readFileSync } from 'node:fs';

export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}
