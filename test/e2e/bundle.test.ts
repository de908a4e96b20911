// The bundled build bin/uzmanposta runs (docs/decisions.md, "A bundled
// build"): it reports the package's version without package.json beside it,
// and the stack traces it reports (an unexpected error, the error log) name
// the TypeScript files and lines, through the bundle's source maps: read when
// an error is reported (src/common/readable-stack.ts, also tested alone), or
// by Node itself under NODE_OPTIONS=--enable-source-maps.
//
// Every end-to-end test that spawns bin/uzmanposta runs the bundle; this file
// covers what only the bundle can get wrong.

import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, REPO_ROOT } from '../support/harness.js';

const BUNDLE = join(REPO_ROOT, 'dist', 'bundle', 'uzmanposta.js');

/**
 * Runs the bundle's main() in a child whose standard output throws on write,
 * so that `--help` ends in the "unexpected error" path, which prints the
 * error's stack. Returns the exit code main() resolved to and what it wrote
 * on stderr.
 */
function unexpectedErrorTrace(nodeOptions: string): { code: number; stderr: string } {
  const script = `
    const { main } = await import(${JSON.stringify(BUNDLE)});
    const { EventEmitter } = await import('node:events');
    const stdout = Object.assign(new EventEmitter(), { write() { throw new Error('stdout refused the help text'); } });
    let stderr = '';
    const code = await main(['--help'], { stdout, stderr: { write: (s) => { stderr += s; return true; } } });
    process.stdout.write(JSON.stringify({ code, stderr }));
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    env: { ...process.env, NODE_OPTIONS: nodeOptions },
  });
  expect(r.status, r.stderr).to.equal(0);
  return JSON.parse(r.stdout) as { code: number; stderr: string };
}

describe('the bundled command line (dist/bundle)', function () {
  this.timeout(60_000);

  it('is what bin/uzmanposta runs, and prints the version of package.json', () => {
    expect(readFileSync(BIN, 'utf8')).to.match(/import\('\.\.\/dist\/bundle\/uzmanposta\.js'\)/);
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    const r = spawnSync(BIN, ['--version'], { encoding: 'utf8' });
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout.trim()).to.equal(pkg.version);
  });

  for (const [flag, how] of [
    ['--enable-source-maps', "under Node's --enable-source-maps"],
    ['', "without Node's own source maps too, when the error is reported"],
  ] as const) {
    it(`maps a stack trace to the TypeScript sources ${how}`, () => {
      const r = unexpectedErrorTrace(flag);
      expect(r.code).to.equal(1);
      expect(r.stderr).to.contain('unexpected error: Error: stdout refused the help text');
      expect(r.stderr).to.match(/src\/cli\/main\.ts:\d+:\d+/);
      expect(r.stderr).not.to.contain('dist/bundle/uzmanposta.js');
    });
  }
});
