// The run's last line names where the output went; with several output
// directories it names the directory holding them all, by path segments.

import { expect } from 'chai';
import { commonDirectory } from '../../src/cli/common-directory.js';

describe('commonDirectory', () => {
  it('does not take a domain for the parent of a longer domain beside it', () => {
    expect(commonDirectory(['/srv/out/example.com', '/srv/out/example.com.tr'])).to.equal('/srv/out');
    expect(commonDirectory(['/srv/out/example.com.tr', '/srv/out/example.com'])).to.equal('/srv/out');
  });

  it('finds the deepest shared directory of output directories', () => {
    expect(commonDirectory(['/srv/out/example.com/mail/incominglog', '/srv/out/example.com/mail/outgoinglog', '/srv/out/example.com/quarantine'])).to.equal(
      '/srv/out/example.com',
    );
  });

  it('gives a path itself when it holds the others, and / when only the root is shared', () => {
    expect(commonDirectory(['/srv/out', '/srv/out/example.com'])).to.equal('/srv/out');
    expect(commonDirectory(['/srv/out/a', '/var/out/a'])).to.equal('/');
    expect(commonDirectory(['/srv/out/a'])).to.equal('/srv/out/a');
  });

  it('gives nothing for no paths', () => {
    expect(commonDirectory([])).to.equal('');
  });
});
