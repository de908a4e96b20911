import { expect } from 'chai';
import { join } from 'node:path';
import {
  dataFileName,
  expandPlaceholders,
  hasDateTokens,
  strftime,
  strftimeToRegExp,
  unknownPlaceholders,
  unsupportedDirectives,
} from '../../src/config/file-names.js';
import type { SectionConfig } from '../../src/config/section-config.js';

describe('file-names', () => {
  // Local time, as the files are named in local time.
  const date = new Date(2025, 1, 3, 4, 5, 6);

  describe('strftime', () => {
    it('formats every supported directive in local time, zero-padded', () => {
      expect(strftime('%Y|%m|%d|%H|%M|%S|%j|%y|%%', date)).to.equal('2025|02|03|04|05|06|034|25|%');
    });

    it('counts the day of the year from 1 and pads it to three digits', () => {
      expect(strftime('%j', new Date(2024, 0, 1))).to.equal('001');
      expect(strftime('%j', new Date(2024, 11, 31))).to.equal('366');
    });

    it('leaves text without directives alone', () => {
      expect(strftime('example.com_outgoinglog.log', date)).to.equal('example.com_outgoinglog.log');
    });
  });

  describe('hasDateTokens', () => {
    it('is true when the name changes with time', () => {
      expect(hasDateTokens('errors_%Y-%m-%d_%H.log')).to.equal(true);
      expect(hasDateTokens('x_%j')).to.equal(true);
    });

    it('is false for a fixed name, an escaped %% and an unknown directive', () => {
      expect(hasDateTokens('errors.log')).to.equal(false);
      expect(hasDateTokens('100%%Y.log')).to.equal(false);
      expect(hasDateTokens('x_%b.log')).to.equal(false);
    });
  });

  describe('unsupportedDirectives', () => {
    it('names directives strftime would copy literally', () => {
      expect(unsupportedDirectives('a_%Y_%b_%q_%%_%b')).to.deep.equal(['%b', '%q']);
      expect(unsupportedDirectives('trailing%')).to.deep.equal(['%']);
      expect(unsupportedDirectives('%Y-%m-%d_%H%M%S_%j_%y_%%')).to.deep.equal([]);
    });
  });

  describe('expandPlaceholders', () => {
    it('replaces known placeholders, every time they appear', () => {
      expect(expandPlaceholders('{domain}/{type}_{domain}', { domain: 'example.com', type: 'hold' })).to.equal(
        'example.com/hold_example.com',
      );
    });

    it('leaves unknown placeholders and stray braces as written', () => {
      expect(expandPlaceholders('{x}_{domain}_{ }_{', { domain: 'd' })).to.equal('{x}_d_{ }_{');
      expect(expandPlaceholders('{constructor}', {})).to.equal('{constructor}');
    });

    it('finds placeholders that are not known', () => {
      expect(unknownPlaceholders('{section}_{sektion}_{id}_{x}_{x}', ['section', 'id'])).to.deep.equal(['sektion', 'x']);
    });
  });

  describe('strftimeToRegExp (retention)', () => {
    const format = 'errors_%Y-%m-%d_%H.log';

    it('matches every name the format makes', () => {
      const re = strftimeToRegExp(format);
      for (const d of [date, new Date(1999, 11, 31, 23), new Date(2030, 0, 1, 0)]) {
        expect(re.test(strftime(format, d)), strftime(format, d)).to.equal(true);
      }
    });

    it('rejects near misses so other files are never deleted', () => {
      const re = strftimeToRegExp(format);
      for (const name of [
        'errors_2025-13-01_10.log',
        'errors_2025-02-03_24.log',
        'errors_2025-02-03_04.log.gz',
        'old_errors_2025-02-03_04.log',
        'errors_2025-02-03_4.log',
        'errorsX2025-02-03_04.log',
      ]) {
        expect(re.test(name), name).to.equal(false);
      }
    });

    it('fills placeholders from values, as literal text', () => {
      const re = strftimeToRegExp('{domain}_{type}_%Y.log', { domain: 'a.b%H(c)', type: 'auth' });
      expect(re.test('a.b%H(c)_auth_2025.log')).to.equal(true);
      expect(re.test('aXb%H(c)_auth_2025.log')).to.equal(false);
      expect(re.test('a.b07(c)_auth_2025.log')).to.equal(false);
    });
  });

  describe('dataFileName', () => {
    it("puts the formatted name in the section's output directory", () => {
      const cfg = { outputDirectory: join('/srv', 'out', 'example.com', 'mail', 'incominglog'), logFileNameFormat: 'example.com_incominglog_%Y-%m-%d_%H.log' } as SectionConfig;
      expect(dataFileName(cfg, date)).to.equal(join('/srv', 'out', 'example.com', 'mail', 'incominglog', 'example.com_incominglog_2025-02-03_04.log'));
    });
  });
});
