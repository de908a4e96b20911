// Precedence, tested alone: the section's own value > [DEFAULT] > built-in.

import { expect } from 'chai';
import { IssueList, SectionIssues } from '../../src/config/config-issues.js';
import { SectionOptions } from '../../src/config/option-lookup.js';
import { OPTIONS } from '../../src/config/config-options.js';

function sectionOptions(own: Record<string, string>, defaults: Record<string, string>): { options: SectionOptions; list: IssueList } {
  const list = new IssueList();
  const section = { name: 'MailLogger:s', line: 1, options: new Map(Object.entries(own)) };
  return { options: new SectionOptions(section, new Map(Object.entries(defaults)), new SectionIssues(section.name, list)), list };
}

describe('option precedence (SectionOptions)', () => {
  it("takes the section's own value over [DEFAULT]", () => {
    const { options } = sectionOptions({ split_interval: '120' }, { split_interval: '60' });
    expect(options.find('split_interval')).to.deep.equal({ raw: '120', from: 'MailLogger:s' });
    expect(options.value('split_interval')).to.equal(120);
  });

  it('takes [DEFAULT] over the built-in default', () => {
    const { options } = sectionOptions({}, { split_interval: '60' });
    expect(options.find('split_interval')).to.deep.equal({ raw: '60', from: 'DEFAULT' });
    expect(options.value('split_interval')).to.equal(60);
  });

  it('falls back to the built-in default when neither sets the option', () => {
    const { options } = sectionOptions({}, {});
    expect(options.find('split_interval')).to.equal(undefined);
    expect(options.value('split_interval')).to.equal(Number(OPTIONS.split_interval.default));
  });

  it('reports a bad inherited value under [DEFAULT] and fails the section', () => {
    const { options, list } = sectionOptions({}, { split_interval: 'soon' });
    expect(options.value('split_interval')).to.equal(undefined);
    expect(options.issues.failed).to.equal(true);
    expect(list.all()).to.have.length(1);
    expect(list.all()[0]).to.include({ section: 'DEFAULT', option: 'split_interval', value: 'soon', severity: 'error' });
  });

  it('leaves the options with rules of their own out of the plain values', () => {
    const { options } = sectionOptions({ api_key: 'k', type: 'hold', url: 'http://x', start_time: '0' }, {});
    const plain = options.plainValues();
    for (const key of ['api_key', 'api_key_env', 'api_key_file', 'type', 'url', 'start_time']) expect(plain, key).to.not.have.property(key);
    expect(plain).to.include({ category: 'mail', split_interval: 300 });
  });
});
