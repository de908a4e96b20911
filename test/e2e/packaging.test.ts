// What `npm pack` ships (issue 13): no install-time script (npm warns about
// them and a global install runs them as root), every file bin/ reaches
// through its imports, and source maps only where their sources ship too.
// The file list is npm's own, from `npm pack --dry-run --json`.

import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { REPO_ROOT, tempDir } from '../support/harness.js';

interface PackResult {
  files: { path: string; mode: number }[];
}

const INSTALL_SCRIPTS = ['preinstall', 'install', 'postinstall', 'prepare', 'preprepare', 'postprepare'];

describe('the npm package', function () {
  this.timeout(60_000);
  let shipped: Set<string>;

  before(() => {
    // --ignore-scripts: prepack would build again; the suite has built already.
    const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: REPO_ROOT, encoding: 'utf8' });
    expect(r.status, r.stderr).to.equal(0);
    const [pack] = JSON.parse(r.stdout) as PackResult[];
    shipped = new Set(pack!.files.map((f) => f.path));
  });

  it('has no install-time script', () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string>; files: string[] };
    expect(Object.keys(pkg.scripts).filter((s) => INSTALL_SCRIPTS.includes(s))).to.deep.equal([]);
    expect(shipped.has('package.json')).to.equal(true);
  });

  it('ships every file bin/ reaches through its imports and the worker file, and no tests', () => {
    const bins = [...shipped].filter((p) => p.startsWith('bin/'));
    expect(bins.sort()).to.deep.equal(['bin/uzmanposta', 'bin/uzmanposta-mock']);
    const seen = new Set<string>();
    const todo = [...bins];
    while (todo.length > 0) {
      const file = todo.pop()!;
      if (seen.has(file)) continue;
      seen.add(file);
      expect(shipped.has(file), `${file}, needed by bin/`).to.equal(true);
      const text = readFileSync(join(REPO_ROOT, file), 'utf8');
      const relative = [
        ...text.matchAll(/^(?:import|export)\b[^;]*?\bfrom ['"](\.{1,2}\/[^'"]+)['"]/gm),
        // (not a JSDoc type, `{import('…')}`, in a bundled dependency)
        ...text.matchAll(/(?<!\{)\bimport\(['"](\.{1,2}\/[^'"]+\.js)['"]\)/g),
        ...text.matchAll(/new URL\(['"](\.{1,2}\/[^'"]+\.js)['"], import\.meta\.url\)/g),
      ].map((m) => m[1]!);
      for (const r of relative) todo.push(normalize(join(dirname(file), r)));
    }
    expect(seen.has('dist/bundle/uzmanposta.js'), 'the bundled command line').to.equal(true);
    expect(seen.has('dist/src/mock-api/cli.js')).to.equal(true);
    expect(seen.has('dist/bundle/section-worker.js'), 'the bundled worker file piscina loads').to.equal(true);
    expect([...shipped].filter((p) => /^dist\/(test|bench)\/|\.tgz$/.test(p))).to.deep.equal([]);
  });

  it('ships a source map only with the sources it names, and every map a script points at', () => {
    let maps = 0;
    for (const file of shipped) {
      if (file.endsWith('.js')) {
        const url = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(readFileSync(join(REPO_ROOT, file), 'utf8'))?.[1];
        if (url) expect(shipped.has(normalize(join(dirname(file), url))), `${file} points at ${url}`).to.equal(true);
      }
      if (file.endsWith('.map')) {
        maps++;
        const map = JSON.parse(readFileSync(join(REPO_ROOT, file), 'utf8')) as { sources: string[]; sourceRoot?: string };
        for (const s of map.sources) {
          const source = normalize(join(dirname(file), map.sourceRoot ?? '', s));
          // The bundle (dist/bundle) also maps code it took from the dependencies
          // (down to their own sources, which some do not publish); an install
          // brings those packages. Everything else must ship.
          const dependency = /^(?:node_modules\/(?:@[^/]+\/)?[^/]+\/)+/.exec(source)?.[0];
          if (dependency) expect(existsSync(join(REPO_ROOT, dependency, 'package.json')), `${file} names ${source}`).to.equal(true);
          else expect(shipped.has(source), `${file} names ${source}`).to.equal(true);
        }
      }
    }
    expect(maps).to.be.greaterThan(10);
  });

  it('carries no scripts at all in the packed package.json (none of them works from the tarball), and the repository keeps its own', () => {
    // The real prepack/postpack chain in a copy of the manifest; only the build is left out (the suite has built already).
    const dir = tempDir('uzp-pack-');
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    const manifest = JSON.stringify({ ...pkg, scripts: { ...pkg.scripts, build: 'true' } }, null, 2) + '\n';
    writeFileSync(join(dir, 'package.json'), manifest);
    for (const f of ['README.md', 'LICENSE']) copyFileSync(join(REPO_ROOT, f), join(dir, f));
    const r = spawnSync('npm', ['pack', '--json'], { cwd: dir, encoding: 'utf8' });
    expect(r.status, r.stderr).to.equal(0);
    const [pack] = JSON.parse(r.stdout) as { filename: string }[];
    const tar = spawnSync('tar', ['-xzOf', join(dir, pack!.filename), 'package/package.json'], { encoding: 'utf8' });
    expect(tar.status, tar.stderr).to.equal(0);
    const packed = JSON.parse(tar.stdout) as Record<string, unknown>;
    expect(packed['scripts'], 'scripts in the tarball').to.equal(undefined);
    expect(packed['bin']).to.deep.equal((pkg as unknown as Record<string, unknown>)['bin']);
    expect(readFileSync(join(dir, 'package.json'), 'utf8'), 'the working copy is restored byte for byte').to.equal(manifest);
    expect(readdirSync(dir).filter((f) => f.endsWith('.orig')), 'no backup left behind').to.deep.equal([]);
  });
});
