// Comments that rest on a fact from outside the code cite a page in the
// repository, by file and heading (docs/decisions.md, "Comments cite pages in
// the repository"). This reads every comment in src/, workers/, test/, bench/
// and bin/ with the TypeScript parser (so strings and regular expressions are
// not mistaken for comments) and fails when a cited Markdown file is not in
// the repository, or a cited heading is not in its page. It also checks that
// the paths and links the docs/ pages name still exist.

import { expect } from 'chai';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { REPO_ROOT } from '../support/harness.js';

const SOURCE_DIRS = ['src', 'workers', 'test', 'bench', 'bin'];
const DOCS = join(REPO_ROOT, 'docs');

interface Comment {
  /** 1-based line of the comment's start. */
  line: number;
  /** The comment's words, markers stripped, whitespace collapsed; adjacent line comments joined. */
  text: string;
  /** Where in `text` each joined line comment starts, and its line: to report the line of a match. */
  starts: { at: number; line: number }[];
}

interface Problem {
  where: string;
  cited: string;
  why: string;
}

/** The comments of one source file, in order. */
function commentsOf(fileName: string, text: string): Comment[] {
  const kind = fileName.endsWith('.ts') ? ts.ScriptKind.TS : ts.ScriptKind.JS;
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, kind);
  const ranges = new Map<number, ts.CommentRange>();
  // Every comment is trivia before or after some token; visiting every token finds them all.
  const visit = (node: ts.Node): void => {
    for (const r of ts.getLeadingCommentRanges(text, node.getFullStart()) ?? []) ranges.set(r.pos, r);
    for (const r of ts.getTrailingCommentRanges(text, node.getEnd()) ?? []) ranges.set(r.pos, r);
    for (const child of node.getChildren(source)) visit(child);
  };
  visit(source);

  const comments: Comment[] = [];
  let previous: ts.CommentRange | undefined;
  for (const r of [...ranges.values()].sort((a, b) => a.pos - b.pos)) {
    const words = stripMarkers(text.slice(r.pos, r.end), r.kind);
    const last = comments[comments.length - 1];
    // A citation may wrap from one `//` line to the next: read such a run as one comment.
    const continues =
      last !== undefined &&
      previous?.kind === ts.SyntaxKind.SingleLineCommentTrivia &&
      r.kind === ts.SyntaxKind.SingleLineCommentTrivia &&
      /^[ \t]*\r?\n[ \t]*$/.test(text.slice(previous.end, r.pos));
    const line = source.getLineAndCharacterOfPosition(r.pos).line + 1;
    if (continues) {
      last.starts.push({ at: last.text.length + 1, line });
      last.text = `${last.text} ${words}`;
    } else {
      comments.push({ line, text: words, starts: [{ at: 0, line }] });
    }
    previous = r;
  }
  return comments;
}

function stripMarkers(raw: string, kind: ts.CommentKind): string {
  if (kind === ts.SyntaxKind.SingleLineCommentTrivia) return collapse(raw.replace(/^\/\/\/?/, ''));
  const body = raw.replace(/^\/\*\*?/, '').replace(/\*\/$/, '');
  return collapse(body.split('\n').map((l) => l.replace(/^\s*\*(?!\/)/, '')).join(' '));
}

/** The line of the character at `index` of a comment's text. */
function lineAt(c: Comment, index: number): number {
  let line = c.line;
  for (const s of c.starts) if (s.at <= index) line = s.line;
  return line;
}

function collapse(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

/** A Markdown file name or path, not part of a longer word, path or URL. */
const MD_FILE = /(?<![\w./-])((?:\.{1,2}\/|\/)?(?:[\w.-]+\/)*[\w.-]+\.md)(?![\w-])/g;
/** A page and one of its headings: the page's path, a comma, the heading in double quotes. */
const MD_HEADING = /(?<![\w./-])((?:[\w.-]+\/)*[\w.-]+\.md),\s*"([^"]+)"/g;
const URL = /\b[a-z][a-z0-9+.-]*:\/\/\S+/gi;

/** The repository file a citation names, from the repository root or the citing file's folder. */
function resolveCited(cited: string, fromFile: string): string | undefined {
  if (isAbsolute(cited)) return undefined;
  for (const candidate of [resolve(REPO_ROOT, cited), resolve(dirname(fromFile), cited)]) {
    const inside = !relative(REPO_ROOT, candidate).startsWith('..');
    if (inside && existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  }
  return undefined;
}

const headingCache = new Map<string, Set<string>>();

/** The headings of a Markdown file, any level, outside fenced code. */
function headingsOf(file: string): Set<string> {
  let headings = headingCache.get(file);
  if (headings) return headings;
  headings = new Set();
  let fenced = false;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    const m = fenced ? null : /^#{1,6}\s+(.+?)\s*#*\s*$/.exec(line);
    if (m?.[1] !== undefined) headings.add(collapse(m[1]));
  }
  headingCache.set(file, headings);
  return headings;
}

interface Scan {
  files: number;
  fileCitations: number;
  headingCitations: number;
  problems: Problem[];
}

/** Checks the citations in one file's comments. */
function checkSource(fileName: string, text: string, scan: Scan): void {
  const shown = relative(REPO_ROOT, fileName);
  for (const c of commentsOf(fileName, text)) {
    // Same length, so match positions still map to lines.
    const words = c.text.replace(URL, (url) => ' '.repeat(url.length));
    for (const m of words.matchAll(MD_FILE)) {
      const cited = m[1] ?? '';
      const where = `${shown}:${lineAt(c, m.index)}`;
      scan.fileCitations++;
      if (!resolveCited(cited, fileName)) scan.problems.push({ where, cited, why: 'no such file in the repository' });
    }
    for (const m of words.matchAll(MD_HEADING)) {
      const cited = m[1] ?? '';
      const heading = collapse(m[2] ?? '');
      const where = `${shown}:${lineAt(c, m.index)}`;
      scan.headingCitations++;
      const file = resolveCited(cited, fileName);
      // A missing file is already reported above.
      if (file && !headingsOf(file).has(heading)) {
        scan.problems.push({ where, cited: `${cited}, "${heading}"`, why: `${cited} has no such heading` });
      }
    }
  }
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(path));
    else if (/\.(ts|js|mjs|cjs)$/.test(entry.name) || relative(REPO_ROOT, dir) === 'bin') out.push(path);
  }
  return out;
}

function scanRepository(): Scan {
  const scan: Scan = { files: 0, fileCitations: 0, headingCitations: 0, problems: [] };
  for (const dir of SOURCE_DIRS) {
    for (const file of sourceFiles(join(REPO_ROOT, dir))) {
      scan.files++;
      checkSource(file, readFileSync(file, 'utf8'), scan);
    }
  }
  return scan;
}

function scanText(fileName: string, text: string): Scan {
  const scan: Scan = { files: 1, fileCitations: 0, headingCitations: 0, problems: [] };
  checkSource(join(REPO_ROOT, fileName), text, scan);
  return scan;
}

const describeProblems = (problems: Problem[]): string => problems.map((p) => `${p.where}: ${p.cited}: ${p.why}`).join('\n');

describe('comments cite pages that exist', () => {
  it('reads comments, and not strings, regular expressions or template literals', () => {
    const source = [
      '#!/usr/bin/env node',
      "const a = 'see MISSING-IN-STRING.md'; // a trailing comment",
      'const re = /\\/\\/ not-a-comment.md/;',
      'const t = `/* not a comment either.md */`;',
      '/**',
      ' * A block comment',
      ' * over two lines.',
      ' */',
      '// A line comment that wraps',
      '// onto the next line.',
      '',
      '// After a blank line.',
      'export { a, re, t };',
    ].join('\n');
    expect(commentsOf('sample.ts', source).map(({ line, text }) => ({ line, text }))).to.deep.equal([
      { line: 2, text: 'a trailing comment' },
      { line: 5, text: 'A block comment over two lines.' },
      { line: 9, text: 'A line comment that wraps onto the next line.' },
      { line: 12, text: 'After a blank line.' },
    ]);
  });

  it('reports a missing file and a missing heading, and accepts a citation wrapped over two lines', () => {
    const scan = scanText(
      'src/sample.ts',
      [
        '// Outside the repository (NOWHERE.md), or at an absolute path (/etc/NOWHERE.md).',
        '// A page without that heading (docs/api.md, "No such heading").',
        '// A real one, wrapped (docs/api.md,',
        '// "Records and event time"), and a URL, https://example.com/GONE.md, which is not a citation.',
        "const s = 'NOWHERE.md in a string is no citation';",
        'export { s };',
      ].join('\n'),
    );
    expect(scan.problems).to.deep.equal([
      { where: 'src/sample.ts:1', cited: 'NOWHERE.md', why: 'no such file in the repository' },
      { where: 'src/sample.ts:1', cited: '/etc/NOWHERE.md', why: 'no such file in the repository' },
      { where: 'src/sample.ts:2', cited: 'docs/api.md, "No such heading"', why: 'docs/api.md has no such heading' },
    ]);
    expect(scan.fileCitations).to.equal(4);
    expect(scan.headingCitations).to.equal(2);
  });

  it('every Markdown file and heading cited in a comment of src/, workers/, test/, bench/ or bin/ exists', () => {
    const scan = scanRepository();
    // A scan that found no citations at all would pass while checking nothing.
    expect(scan.files, 'source files read').to.be.above(50);
    expect(scan.headingCitations, 'citations of a heading found').to.be.above(20);
    expect(scan.problems, describeProblems(scan.problems)).to.deep.equal([]);
  });

  it('the paths and links named in docs/ exist', () => {
    const problems: Problem[] = [];
    let checked = 0;
    for (const name of readdirSync(DOCS).filter((n) => n.endsWith('.md'))) {
      const page = join(DOCS, name);
      readFileSync(page, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          const where = `docs/${name}:${i + 1}`;
          // `src/…`, `test/…` and the like in code spans: files and folders of the repository.
          for (const m of line.matchAll(/`((?:src|workers|test|bench|bin|examples|docs)\/[\w./-]*)`/g)) {
            checked++;
            if (!existsSync(join(REPO_ROOT, m[1] ?? ''))) problems.push({ where, cited: m[1] ?? '', why: 'no such path in the repository' });
          }
          // Relative Markdown links, from the page's folder.
          for (const m of line.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
            const target = m[1] ?? '';
            if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue;
            checked++;
            if (!existsSync(resolve(DOCS, target))) problems.push({ where, cited: target, why: 'the link leads nowhere' });
          }
        });
    }
    expect(checked, 'paths and links checked').to.be.above(20);
    expect(problems, describeProblems(problems)).to.deep.equal([]);
  });
});
