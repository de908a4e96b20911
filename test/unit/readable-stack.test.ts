// readableStack: frames in scripts of dist/ that have a source map beside them
// are rewritten to the TypeScript file, line and column; other frames are left
// as they are. The tests use this file's own compiled script and map (tsc
// writes one for each), which is what the bundle's maps are to dist/bundle.

import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { readableStack } from '../../src/common/readable-stack.js';
import { REPO_ROOT } from '../support/harness.js';

const SOURCE = `${REPO_ROOT}test/unit/readable-stack.test.ts`;

/** The 1-based line of `marker` in this file's TypeScript source. */
function sourceLine(marker: string): number {
  return readFileSync(SOURCE, 'utf8').split('\n').findIndex((l) => l.includes(marker)) + 1;
}

describe('readableStack', () => {
  it('points a frame of a mapped script in dist/ at its TypeScript source line', () => {
    const err = new Error('where am I'); // marker: the error is made here
    const stack = readableStack(err.stack!);
    expect(err.stack).to.contain(fileURLToPath(import.meta.url)); // compiled: dist/test/unit/…js
    const line = sourceLine('marker: the error is made here');
    expect(stack.split('\n')[1]).to.match(new RegExp(`${SOURCE.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:${line}:\\d+\\)$`));
    expect(stack.split('\n')[0]).to.equal('Error: where am I');
  });

  it('leaves frames alone that have no map: Node internals, files outside dist/, missing files', () => {
    const stack = [
      'Error: x',
      '    at processTicksAndRejections (node:internal/process/task_queues:95:5)',
      '    at run (/opt/elsewhere/lib/run.js:10:5)',
      `    at gone (file://${REPO_ROOT}dist/src/no-such-file.js:3:1)`,
    ].join('\n');
    expect(readableStack(stack)).to.equal(stack);
    expect(readableStack(undefined)).to.equal(undefined);
  });
});
