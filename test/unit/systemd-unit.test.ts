// examples/systemd: the unit and timer pass `systemd-analyze verify`, and the
// service keeps the hardening `systemd-analyze security` asks for where it
// does not get in the collector's way (issue 13). Run where systemd-analyze
// is installed; skipped with the reason otherwise.

import { expect } from 'chai';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, REPO_ROOT, tempDir } from '../support/harness.js';
import { requireTool, run } from '../support/installed-tool.js';

const SYSTEMD = join(REPO_ROOT, 'examples', 'systemd');

/** The unit files in a temp dir, ExecStart pointed at this checkout's bin/ (verify wants an executable). */
function unitsHere(): { service: string; timer: string } {
  const dir = tempDir();
  const service = join(dir, 'uzmanposta.service');
  const timer = join(dir, 'uzmanposta.timer');
  const text = readFileSync(join(SYSTEMD, 'uzmanposta.service'), 'utf8');
  expect(text).to.match(/^ExecStart=\/usr\/bin\/uzmanposta /m);
  writeFileSync(service, text.replace(/^ExecStart=\/usr\/bin\/uzmanposta /m, `ExecStart=${BIN} `));
  copyFileSync(join(SYSTEMD, 'uzmanposta.timer'), timer);
  return { service, timer };
}

describe('examples/systemd', () => {
  it('systemd-analyze verify accepts the service and the timer, without a warning', function () {
    const analyze = requireTool(this, 'systemd-analyze', 'systemd is not on this machine');
    const { service, timer } = unitsHere();
    const r = run(analyze, ['verify', service, timer]);
    expect(r.status, r.stdout + r.stderr).to.equal(0);
    expect((r.stdout + r.stderr).trim()).to.equal('');
  });

  it('systemd-analyze security rates the service hardened, with the settings the collector allows', function () {
    const analyze = requireTool(this, 'systemd-analyze', 'systemd is not on this machine');
    const { service } = unitsHere();
    const r = run(analyze, ['security', '--offline=yes', '--no-pager', service]);
    const out = r.stdout + r.stderr;
    const level = /Overall exposure level for uzmanposta\.service: ([0-9.]+)/.exec(out)?.[1];
    expect(level, out).to.be.a('string');
    expect(Number(level), out).to.be.at.most(2.0);
    // What the collector needs is all it keeps: its directory, the network, Node's JIT.
    for (const setting of ['NoNewPrivileges=', 'ProtectSystem=', 'ProtectHome=', 'PrivateTmp=', 'PrivateDevices=', 'ProtectProc=', 'RestrictNamespaces=~user', 'SystemCallArchitectures=', 'ProtectClock=', 'ProtectKernelLogs=', 'CapabilityBoundingSet=~CAP_SYS_ADMIN']) {
      const line = out.split('\n').find((l) => l.includes(` ${setting}`));
      expect(line, setting).to.be.a('string');
      expect(line!.trimStart().startsWith('✓'), line).to.equal(true);
    }
    expect(readFileSync(join(SYSTEMD, 'uzmanposta.service'), 'utf8')).to.match(/^ReadWritePaths=\/opt\/uzmanposta$/m);
  });
});
