// The container image and the scheduler examples (issue 12). Neither docker
// nor a cluster is available to the suite, so it checks what the README and
// the comments rely on: the image copies files that exist and runs the
// package's own binary under an init, as a non-root user; the manifests'
// config loads with the real config loader, its paths sit on the mounted
// volumes, and the shard count agrees everywhere.

import { expect } from 'chai';
import fs from 'node:fs';
import { join } from 'node:path';
import * as yaml from 'js-yaml';
import { REPO_ROOT, tempDir } from '../support/harness.js';
import { loadConfig } from '../../src/config/load-config.js';
import { shardFromArgs } from '../../src/cli/shard-assignment.js';

const read = (path: string): string => fs.readFileSync(join(REPO_ROOT, path), 'utf8');

interface Instruction {
  op: string;
  args: string;
}

/** Dockerfile instructions, continuation lines joined, comments dropped. */
function dockerInstructions(text: string): Instruction[] {
  const joined = text.replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const m = /^(\S+)\s+(.*)$/.exec(l);
      if (!m) throw new Error(`not a Dockerfile instruction: ${l}`);
      return { op: m[1]!.toUpperCase(), args: m[2]! };
    });
}

/** .dockerignore as a predicate over repository paths (its simple forms: names, globs with *, ! to re-include). */
function dockerIgnored(text: string): (path: string) => boolean {
  const rules = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => ({ negate: l.startsWith('!'), re: globToRegExp(l.replace(/^!/, '')) }));
  return (path) => {
    let ignored = false;
    for (const r of rules) if (r.re.test(path)) ignored = !r.negate;
    return ignored;
  };
}

function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*');
  // A bare name matches at the top level and everything below it.
  return new RegExp(`^${body}(/.*)?$`);
}

function iniFromManifest(text: string, replacements: [string, string][]): string {
  let ini = text;
  for (const [from, to] of replacements) ini = ini.split(from).join(to);
  return ini;
}

describe('deployment examples (Dockerfile, Kubernetes, Nomad)', () => {
  describe('Dockerfile', () => {
    const steps = dockerInstructions(read('Dockerfile'));
    const pkg = JSON.parse(read('package.json')) as { bin: Record<string, string>; files: string[]; scripts: Record<string, string> };
    const lastFrom = steps.map((s) => s.op).lastIndexOf('FROM');
    const finalStage = steps.slice(lastFrom);

    it('is multi-stage on Node 20: a build stage, then a runtime stage', () => {
      const froms = steps.filter((s) => s.op === 'FROM').map((s) => s.args);
      expect(froms.length).to.be.greaterThanOrEqual(2);
      for (const f of froms) expect(f).to.match(/^node:20(-slim|-bookworm-slim)?\b/);
    });

    it('copies into the build only files that exist and that .dockerignore lets through, including everything tsconfig compiles', () => {
      const ignored = dockerIgnored(read('.dockerignore'));
      const sources = steps
        .filter((s) => s.op === 'COPY' && !s.args.startsWith('--from'))
        .flatMap((s) => s.args.split(/\s+/).slice(0, -1));
      expect(sources.length).to.be.greaterThan(3);
      for (const src of sources) {
        expect(fs.existsSync(join(REPO_ROOT, src)), `${src} exists`).to.equal(true);
        expect(ignored(src), `${src} is not in .dockerignore`).to.equal(false);
      }
      const tsconfig = JSON.parse(read('tsconfig.json').replace(/^\s*\/\/.*$/gm, '')) as { include?: string[] };
      for (const inc of tsconfig.include ?? []) {
        const top = inc.split('/')[0]!;
        expect(sources, `tsconfig includes ${inc}`).to.include(top);
      }
      // What the published package ships must reach the build too.
      for (const f of pkg.files.filter((f) => !f.startsWith('dist'))) {
        expect(sources, `package.json files: ${f}`).to.include(f);
      }
    });

    it('keeps local state, installs, builds and INI files (keys) out of the build context', () => {
      const ignored = dockerIgnored(read('.dockerignore'));
      for (const p of ['node_modules', 'dist', '.git', 'output', 'uzmanposta.ini', 'secret.ini', 'uzmanposta-0.1.0.tgz']) {
        expect(ignored(p), p).to.equal(true);
      }
      expect(ignored('examples/uzmanposta.ini'), 'the example INI is re-included').to.equal(false);
    });

    it('runs the package binary under tini as a non-root user', () => {
      const entry = finalStage.find((s) => s.op === 'ENTRYPOINT');
      expect(entry, 'an ENTRYPOINT in the final stage').to.not.equal(undefined);
      const argv = JSON.parse(entry!.args) as string[];
      expect(argv.slice(0, 2)).to.deep.equal(['/usr/bin/tini', '--']);
      expect(Object.keys(pkg.bin)).to.include(argv[2]);
      expect(finalStage.some((s) => s.op === 'RUN' && /apt-get install\b.*\btini\b/.test(s.args)), 'tini is installed in the final stage').to.equal(true);
      const user = finalStage.filter((s) => s.op === 'USER').map((s) => s.args).pop();
      expect(user, 'USER in the final stage').to.be.a('string');
      expect(user).not.to.match(/^(root|0)(:|$)/);
    });

    it('installs from the packed tarball without running install scripts it does not need', () => {
      const build = steps.slice(0, lastFrom);
      expect(build.some((s) => s.op === 'RUN' && /npm ci\b.*--ignore-scripts/.test(s.args))).to.equal(true);
      // npm pack with its scripts: prepack builds and packs a manifest without the dev scripts.
      expect(build.some((s) => s.op === 'RUN' && /^npm pack\b(?!.*--ignore-scripts)/.test(s.args))).to.equal(true);
      expect(pkg.scripts.prepack).to.match(/^npm run build\b/);
      expect(finalStage.some((s) => s.op === 'RUN' && /npm install -g --omit=dev\b/.test(s.args))).to.equal(true);
    });
  });

  describe('Kubernetes CronJob', () => {
    const docs = yaml.loadAll(read('examples/kubernetes/uzmanposta.yaml')) as Record<string, any>[];
    const volume = yaml.load(read('examples/kubernetes/volume.yaml')) as Record<string, any>;
    const cronJob = docs.find((d) => d.kind === 'CronJob')!;
    const configMap = docs.find((d) => d.kind === 'ConfigMap')!;
    const job = cronJob.spec.jobTemplate.spec;
    const pod = job.template.spec;
    const container = pod.containers[0];
    const mountOf = (volumeName: string): string => container.volumeMounts.find((m: { name: string }) => m.name === volumeName).mountPath;
    const volumeNamed = (name: string): Record<string, any> => pod.volumes.find((v: { name: string }) => v.name === name);

    it('runs one Indexed Job per tick, never two at once, with completions = parallelism = the shard count', () => {
      expect(cronJob.apiVersion).to.equal('batch/v1');
      expect(cronJob.spec.concurrencyPolicy).to.equal('Forbid');
      expect(job.completionMode).to.equal('Indexed');
      expect(job.parallelism).to.equal(job.completions);
      const env = Object.fromEntries(container.env.map((e: { name: string; value: string }) => [e.name, e.value])) as Record<string, string>;
      // The pod's view: Kubernetes sets JOB_COMPLETION_INDEX; the CLI turns it into a shard.
      const last = job.completions - 1;
      expect(shardFromArgs({}, { ...env, JOB_COMPLETION_INDEX: String(last) })).to.deep.equal({ index: last, count: job.completions, by: 'key' });
      expect(pod.restartPolicy).to.equal('Never');
    });

    it('runs as a non-root user with resources set', () => {
      expect(pod.securityContext.runAsNonRoot).to.equal(true);
      expect(pod.securityContext.runAsUser).to.be.greaterThan(0);
      const mib = (q: string): number => {
        const m = /^(\d+)(Mi|Gi)$/.exec(q);
        expect(m, q).to.not.equal(null);
        return Number(m![1]) * (m![2] === 'Gi' ? 1024 : 1);
      };
      // The cron-tick bench's highest peak RSS (1,000 sections) is 195 MiB: the request covers it.
      expect(mib(container.resources.requests.memory)).to.be.at.least(195);
      expect(mib(container.resources.limits.memory)).to.be.at.least(mib(container.resources.requests.memory));
    });

    it("the config mounted from the ConfigMap loads, with the key from the Secret's file and all state on the shared volume", () => {
      const configPath: string = container.args[container.args.indexOf('--config') + 1];
      const cmMount = mountOf('config');
      expect(volumeNamed('config').configMap.name).to.equal(configMap.metadata.name);
      expect(configPath.startsWith(`${cmMount}/`)).to.equal(true);
      const iniText: string = configMap.data[configPath.slice(cmMount.length + 1)];
      expect(iniText, 'the ConfigMap holds the file --config names').to.be.a('string');

      const keyMount = mountOf('api-key');
      const dataMount = mountOf('data');
      expect(volumeNamed('data').persistentVolumeClaim.claimName).to.equal(volume.metadata.name);
      expect(volume.spec.accessModes).to.deep.equal(['ReadWriteMany']);
      expect(volumeNamed('api-key').secret.secretName).to.be.a('string');

      // Load it as the pod would, with the mounts moved into a temp dir.
      const root = tempDir();
      fs.mkdirSync(join(root, 'key'));
      fs.writeFileSync(join(root, 'key', 'api_key'), 'k8s-example-key-0123456789\n', { mode: 0o600 });
      const ini = iniFromManifest(iniText, [[keyMount, join(root, 'key')], [dataMount, join(root, 'data')]]);
      expect(ini, 'the INI names the Secret key file').to.include(join(root, 'key', 'api_key'));
      const iniPath = join(root, 'uzmanposta.ini');
      fs.writeFileSync(iniPath, ini, { mode: 0o644 });
      const cfg = loadConfig(iniPath, { env: {} });
      expect(cfg.sections.length).to.be.greaterThan(0);
      expect(cfg.warnings, 'no warning: the ConfigMap holds no key').to.deep.equal([]);
      for (const s of cfg.sections) {
        expect(s.apiKey).to.equal('k8s-example-key-0123456789');
        for (const p of [s.outputDirectory, s.positionFile, s.lockFilePath, s.heartbeatFile]) {
          expect(p.startsWith(join(root, 'data') + '/'), `${s.section}: ${p} on the shared volume`).to.equal(true);
        }
      }
    });
  });

  describe('Nomad periodic job', () => {
    const hcl = read('examples/nomad/uzmanposta.nomad.hcl');

    it('never overlaps, and its group count equals --shard-count, with the shard index from NOMAD_ALLOC_INDEX', () => {
      expect(hcl).to.match(/prohibit_overlap\s*=\s*true/);
      const count = Number(/\bcount\s*=\s*(\d+)/.exec(hcl)?.[1]);
      const args = JSON.parse(/\bargs\s*=\s*(\[[^\]]*\])/.exec(hcl)![1]!) as string[];
      expect(Number(args[args.indexOf('--shard-count') + 1])).to.equal(count);
      expect(hcl).to.match(/UZP_SHARD_INDEX\s*=\s*"\$\{NOMAD_ALLOC_INDEX\}"/);
      expect(shardFromArgs({ shardCount: count }, { UZP_SHARD_INDEX: String(count - 1) })).to.deep.equal({ index: count - 1, count, by: 'key' });
    });

    it('its INI template loads with the key file the other template writes, state on the shared volume', () => {
      const iniText = /data\s*=\s*<<-INI\n([\s\S]*?)\n\s*INI\n/.exec(hcl)![1]!.replace(/^ {10}/gm, '');
      const keyDest = /destination\s*=\s*"secrets\/api_key"/.test(hcl);
      expect(keyDest, 'a template writes secrets/api_key').to.equal(true);
      const dataMount = /volume_mount\s*\{[^}]*destination\s*=\s*"([^"]+)"/.exec(hcl)![1]!;
      const root = tempDir();
      fs.mkdirSync(join(root, 'secrets'));
      fs.writeFileSync(join(root, 'secrets', 'api_key'), 'nomad-example-key-0123456789', { mode: 0o600 });
      const iniPath = join(root, 'uzmanposta.ini');
      fs.writeFileSync(iniPath, iniFromManifest(iniText, [['/secrets/', `${join(root, 'secrets')}/`], [dataMount, join(root, 'data')]]));
      const cfg = loadConfig(iniPath, { env: {} });
      expect(cfg.sections.length).to.be.greaterThan(0);
      for (const s of cfg.sections) {
        expect(s.apiKey).to.equal('nomad-example-key-0123456789');
        expect(s.positionFile.startsWith(join(root, 'data') + '/')).to.equal(true);
        expect(s.lockFilePath.startsWith(join(root, 'data') + '/')).to.equal(true);
      }
    });
  });
});
