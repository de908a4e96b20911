// Shards (issue 12): which copy of the collector owns which sections, from
// --shard I/N or the scheduler's environment, by rendezvous hashing.

import { expect } from 'chai';
import { ownerShard, ownsSection, shardFromArgs, shardUnit, splitKeys, type ShardSpec } from '../../src/cli/shard-assignment.js';
import { UsageError } from '../../src/common/errors.js';
import type { SectionConfig } from '../../src/config/section-config.js';
import { catchError } from '../support/harness.js';

function section(name: string, apiKey: string): SectionConfig {
  return { section: `MailLogger:${name}`, name, apiKey } as SectionConfig;
}

const UNITS = Array.from({ length: 600 }, (_, i) => `key\0customer-${i}`);

describe('shard assignment', () => {
  describe('where the shard comes from', () => {
    it('reads --shard I/N, with spaces allowed around the slash', () => {
      expect(shardFromArgs({ shard: '2/5' }, {})).to.deep.equal({ index: 2, count: 5, by: 'key' });
      expect(shardFromArgs({ shard: ' 0 / 1 ' }, {})).to.deep.equal({ index: 0, count: 1, by: 'key' });
    });

    it('reads a Kubernetes Indexed Job: JOB_COMPLETION_INDEX with the count from --shard-count or UZP_SHARD_COUNT', () => {
      expect(shardFromArgs({ shardCount: 3 }, { JOB_COMPLETION_INDEX: '1' })).to.deep.equal({ index: 1, count: 3, by: 'key' });
      expect(shardFromArgs({}, { JOB_COMPLETION_INDEX: '2', UZP_SHARD_COUNT: '3' })).to.deep.equal({ index: 2, count: 3, by: 'key' });
      expect(shardFromArgs({}, { UZP_SHARD_INDEX: '0', JOB_COMPLETION_INDEX: '2', UZP_SHARD_COUNT: '3' }), 'UZP_SHARD_INDEX wins').to.deep.equal({ index: 0, count: 3, by: 'key' });
      expect(shardFromArgs({}, { UZP_SHARD: '1/4', UZP_SHARD_BY: 'section' })).to.deep.equal({ index: 1, count: 4, by: 'section' });
      expect(shardFromArgs({ shard: '0/2' }, { UZP_SHARD: '1/4' }), 'the flag wins over the environment').to.deep.equal({ index: 0, count: 2, by: 'key' });
    });

    it('is no shard at all when neither flags nor environment name one', () => {
      expect(shardFromArgs({}, {})).to.equal(undefined);
      expect(shardFromArgs({}, { UZP_SHARD_COUNT: '3' }), 'a count alone, left in a shared environment').to.equal(undefined);
    });

    it('refuses what cannot be a shard, saying what is expected', () => {
      const cases: [Parameters<typeof shardFromArgs>[0], Record<string, string>, RegExp][] = [
        [{ shard: '3/3' }, {}, /shard index 3 is not below the shard count 3 \(shards are numbered from 0\)/],
        [{ shard: '1/0' }, {}, /shard count must be from 1/],
        [{ shard: '1-3' }, {}, /--shard must be I\/N/],
        [{ shard: '-1/3' }, {}, /--shard must be I\/N/],
        [{ shard: '0/3', shardCount: 3 }, {}, /leave out --shard-count/],
        [{ shardCount: 3 }, {}, /--shard-count needs the shard index/],
        [{}, { JOB_COMPLETION_INDEX: '1' }, /JOB_COMPLETION_INDEX=1 names this copy's shard but not how many there are/],
        [{}, { JOB_COMPLETION_INDEX: 'x', UZP_SHARD_COUNT: '3' }, /JOB_COMPLETION_INDEX must be a whole number, got 'x'/],
        [{ shard: '0/2', shardBy: 'domain' }, {}, /--shard-by must be 'key' or 'section', got 'domain'/],
      ];
      for (const [flags, env, message] of cases) {
        const err = catchError(() => shardFromArgs(flags, env));
        expect(err, JSON.stringify({ flags, env })).to.be.instanceOf(UsageError);
        expect((err as Error).message).to.match(message);
      }
    });
  });

  describe('rendezvous hashing', () => {
    it('gives every unit exactly one owner among N, the same on every call', () => {
      for (const unit of UNITS.slice(0, 50)) {
        const owner = ownerShard(unit, 7);
        expect(owner).to.be.within(0, 6);
        expect(ownerShard(unit, 7)).to.equal(owner);
      }
      expect(ownerShard('anything', 1)).to.equal(0);
    });

    it('spreads units over the shards (600 keys on 4 shards: each between 100 and 200)', () => {
      const counts = [0, 0, 0, 0];
      for (const unit of UNITS) counts[ownerShard(unit, 4)]!++;
      for (const c of counts) expect(c).to.be.within(100, 200);
    });

    it('going from N to N+1 shards moves units only onto the new shard, and about 1/(N+1) of them', () => {
      for (const n of [1, 2, 3, 5]) {
        let moved = 0;
        for (const unit of UNITS) {
          const before = ownerShard(unit, n);
          const after = ownerShard(unit, n + 1);
          if (after !== before) {
            expect(after, `${unit}: from ${n} to ${n + 1} shards`).to.equal(n);
            moved++;
          }
        }
        const expected = UNITS.length / (n + 1);
        expect(moved, `units moved going from ${n} to ${n + 1}`).to.be.within(expected * 0.7, expected * 1.3);
      }
    });

    it('going from N to N-1 shards moves only the units of the removed shard', () => {
      for (const unit of UNITS) {
        const before = ownerShard(unit, 4);
        if (before !== 3) expect(ownerShard(unit, 3), unit).to.equal(before);
      }
    });
  });

  describe('sections', () => {
    const sections = [
      ...['in', 'out', 'quarantine', 'auth'].map((t) => section(`alpha-${t}`, 'key-alpha')),
      ...['in', 'out', 'quarantine', 'auth'].map((t) => section(`beta-${t}`, 'key-beta')),
      ...Array.from({ length: 20 }, (_, i) => section(`solo-${i}`, `key-solo-${i}`)),
    ];

    it('by key (the default): every section of a key on the same shard, each section on exactly one', () => {
      const spec = (index: number): ShardSpec => ({ index, count: 3, by: 'key' });
      for (const s of sections) {
        const owners = [0, 1, 2].filter((i) => ownsSection(spec(i), s));
        expect(owners, s.section).to.have.length(1);
      }
      for (const prefix of ['alpha-', 'beta-']) {
        const owners = new Set(sections.filter((s) => s.section.includes(prefix)).map((s) => [0, 1, 2].find((i) => ownsSection(spec(i), s))));
        expect(owners.size, `sections of ${prefix}`).to.equal(1);
      }
      expect(splitKeys(sections, spec(0))).to.deep.equal([]);
    });

    it('by section: sections of one key may land on several shards, and splitKeys names them', () => {
      const spec: ShardSpec = { index: 0, count: 4, by: 'section' };
      const split = splitKeys(sections, spec);
      // Computed, not assumed: a key is split exactly when its sections' owners differ.
      for (const key of ['key-alpha', 'key-beta']) {
        const group = sections.filter((s) => s.apiKey === key);
        const owners = [...new Set(group.map((s) => ownerShard(shardUnit(s, 'section'), 4)))].sort((a, b) => a - b);
        const entry = split.find((e) => e.sections[0] === group[0]!.section);
        if (owners.length > 1) expect(entry, key).to.deep.equal({ sections: group.map((s) => s.section), shards: owners });
        else expect(entry, key).to.equal(undefined);
      }
      expect(split.length, 'with 4 sections each on 4 shards, at least one of the two keys is split').to.be.greaterThan(0);
      expect(split.every((e) => !e.sections.some((n) => n.startsWith('MailLogger:solo-'))), 'a one-section key is never split').to.equal(true);
    });

    it('never puts the key itself in what it hands out', () => {
      const spec: ShardSpec = { index: 0, count: 4, by: 'section' };
      expect(JSON.stringify(splitKeys(sections, spec))).not.to.include('key-alpha');
    });
  });
});
