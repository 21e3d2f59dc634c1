// What the README and docs/ point at exists: each relative link names a file of the repository
// (and a heading of it, after `#`), and each test file, script or source file they name in
// backquotes is there. A rename that leaves a page pointing at nothing fails here.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { it } from 'node:test';
import { repoRoot } from './helpers.js';

const pages = ['README.md', ...readdirSync(join(repoRoot, 'docs')).map((name) => `docs/${name}`), 'test/toolchains/README.md', 'plugins/README.md'].filter(
  (page) => page.endsWith('.md'),
);

/** A page's text without its fenced code blocks (their text is code, not links). */
function prose(page: string): string {
  return readFileSync(join(repoRoot, page), 'utf8').replace(/^```[\s\S]*?^```$/gm, '');
}

/** The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces as `-`. */
function headingAnchors(page: string): Set<string> {
  const headings = [...prose(page).matchAll(/^#+\s+(.*)$/gm)].map((match) => match[1]!.trim());
  return new Set(
    headings.map((heading) =>
      heading
        .toLowerCase()
        .replace(/[^\p{L}\p{N}_\- ]/gu, '')
        .replace(/ /g, '-'),
    ),
  );
}

it('has relative links that reach a file and, after #, one of its headings', () => {
  const broken: string[] = [];
  for (const page of pages) {
    for (const [, link] of prose(page).matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/i.test(link!)) continue;
      const [target, anchor] = link!.split('#') as [string, string | undefined];
      const file = target === '' ? page : normalize(join(dirname(page), target));
      if (!existsSync(join(repoRoot, file))) broken.push(`${page}: ${link} (no ${file})`);
      else if (anchor !== undefined && file.endsWith('.md') && !headingAnchors(file).has(anchor)) broken.push(`${page}: ${link} (no such heading)`);
    }
  }
  assert.deepEqual(broken, []);
});

it('names only test files, scripts and sources that exist', () => {
  const missing: string[] = [];
  for (const page of pages) {
    for (const [, path] of prose(page).matchAll(/`((?:test|scripts|src|examples)\/[\w./-]+\.(?:ts|mjs|wat|md|html|js))`/g)) {
      if (!existsSync(join(repoRoot, path!))) missing.push(`${page}: ${path}`);
    }
  }
  assert.deepEqual(missing, []);
});

/** A test title as written in a test file: a literal, or a template whose `${...}` parts match anything. */
function titlePatterns(source: string): RegExp[] {
  const titles = [...source.matchAll(/\b(?:it|test|describe)\(\s*(['"`])((?:\\.|(?!\1).)*)\1/g)].map((match) => match[2]!.replace(/\\(.)/g, '$1'));
  return titles.map(
    (title) =>
      new RegExp(
        `^${title
          .split(/\$\{[^}]*\}/)
          .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
          .join('.*')}$`,
      ),
  );
}

it('names only tests that exist in SECURITY.md ("describe › test", "…" for part of a name)', () => {
  const missing: string[] = [];
  for (const line of prose('docs/SECURITY.md').split('\n')) {
    // `test/x.test.ts`: "a › b", "… c" — each quoted name belongs to the file named before it
    for (const [, file, names] of line.matchAll(/`(test\/[\w./-]+\.ts)`((?:(?!`test\/).)*)/g)) {
      const source = readFileSync(join(repoRoot, file!), 'utf8');
      const patterns = titlePatterns(source);
      for (const [, name] of names!.matchAll(/"([^"]+)"/g)) {
        for (const part of name!.split(' › ')) {
          const partial = part.includes('…');
          const text = part.replace(/…/g, '').trim();
          if (text === '') continue;
          const found =
            source.includes(text) ||
            patterns.some((pattern) => pattern.test(text)) ||
            // part of a parameterized name: its words are all in the file
            (partial && text.split(/\s+/).every((word) => source.includes(word)));
          if (!found) missing.push(`${file}: ${text}`);
        }
      }
    }
  }
  assert.deepEqual(missing, []);
});

it('points at no file outside the repository (the ABI is docs/ABI.md)', () => {
  const skipped = new Set(['node_modules', 'build', 'dist', '.git']);
  // spelled in pieces, so that this file does not name them itself
  const outside = new RegExp(`(^|[^\\w/.-])${'shared'}/ABI\\.md|/${'work'}/`);
  const offenders: string[] = [];
  const visit = (dir: string) => {
    for (const entry of readdirSync(join(repoRoot, dir), { withFileTypes: true })) {
      const path = dir === '' ? entry.name : `${dir}/${entry.name}`;
      if (entry.isDirectory()) {
        if (!skipped.has(entry.name)) visit(path);
      } else if (/\.(md|ts|mjs|js|json|jsonc|wat|c|cpp|h|rs|html)$/.test(entry.name) || entry.name === 'run') {
        const text = readFileSync(join(repoRoot, path), 'utf8');
        if (outside.test(text)) offenders.push(path);
      }
    }
  };
  visit('');
  assert.deepEqual(offenders, []);
});
