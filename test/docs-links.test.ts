// Every relative link in the docs leads somewhere: each link and image in
// README.md, CONTRIBUTING.md, docs/*.md and bench/RESULTS.md names a file or
// directory of the repository, and each `#anchor` names a heading of the
// page it points into (with GitHub's heading ids) or an explicit id.
// Links to other sites are not fetched: the tests run without network.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from './helpers/env.js';

const PAGES = [
  'README.md',
  'CONTRIBUTING.md',
  'bench/RESULTS.md',
  ...readdirSync(path.join(repoRoot, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
];

/** The page without fenced code blocks and inline code, whose brackets are not links. */
function prose(markdown: string): string {
  return markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '').replace(/`[^`\n]*`/g, 'code');
}

/** Link targets: [text](target "title"), ![alt](target), <img src="target">, <a href="target">. */
function linkTargets(markdown: string): string[] {
  const text = prose(markdown);
  const targets: string[] = [];
  for (const m of text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) targets.push(m[1]!);
  for (const m of text.matchAll(/<(?:img|a)\b[^>]*\b(?:src|href)="([^"]+)"/g)) targets.push(m[1]!);
  return targets;
}

/** GitHub's heading ids: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function headingIds(markdown: string): Set<string> {
  const ids = new Set<string>();
  const seen = new Map<string, number>();
  const withoutFences = markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');
  for (const m of withoutFences.matchAll(/^#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$/gm)) {
    const plain = m[1]!
      .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // a link in a heading counts by its text
      .replace(/<[^>]+>/g, '');
    const base = plain
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\p{M}\p{Pc} -]/gu, '')
      .replace(/ /g, '-');
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    ids.add(count === 0 ? base : `${base}-${count}`);
  }
  for (const m of markdown.matchAll(/<a\b[^>]*\b(?:id|name)="([^"]+)"/g)) ids.add(m[1]!);
  return ids;
}

/** What is wrong with one link of `page` (a path relative to the repository), or null. */
function checkLink(page: string, target: string, read: (file: string) => string): string | null {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target)) return null; // https:, mailto:, ...: another site
  const hash = target.indexOf('#');
  const filePart = decodeURIComponent(hash === -1 ? target : target.slice(0, hash));
  const anchor = hash === -1 ? null : decodeURIComponent(target.slice(hash + 1));
  if (filePart.startsWith('/')) return `${target}: absolute path (links must be relative to the page)`;
  const file = filePart === '' ? page : path.posix.normalize(path.posix.join(path.posix.dirname(page), filePart));
  if (file.startsWith('..')) return `${target}: leads outside the repository`;
  const absolute = path.join(repoRoot, file);
  if (!existsSync(absolute)) return `${target}: ${file} does not exist`;
  if (anchor === null || anchor === '') return null;
  if (statSync(absolute).isDirectory() || !file.endsWith('.md')) return `${target}: an anchor into ${file}, which is not a markdown page`;
  if (!headingIds(read(file)).has(anchor)) return `${target}: ${file} has no heading #${anchor}`;
  return null;
}

const read = (file: string): string => readFileSync(path.join(repoRoot, file), 'utf8');

describe('relative links in the docs', () => {
  test('the pages checked include the README, CONTRIBUTING.md and docs/', () => {
    assert.ok(PAGES.includes('README.md') && PAGES.includes('CONTRIBUTING.md'));
    assert.ok(PAGES.filter((p) => p.startsWith('docs/')).length >= 2, PAGES.join(', '));
  });

  for (const page of PAGES) {
    test(`${page}: every relative link and #anchor resolves`, () => {
      const targets = linkTargets(read(page));
      const broken = targets.map((t) => checkLink(page, t, read)).filter((problem) => problem !== null);
      assert.deepEqual(broken, [], `broken links in ${page}`);
    });
  }

  test('the checker itself: headings, repeats, code and broken targets', () => {
    const ids = headingIds('# Server API\n## `switchboard serve`\n## Options\n### Options\n```\n# not a heading\n```\n');
    assert.deepEqual([...ids], ['server-api', 'switchboard-serve', 'options', 'options-1']);
    assert.deepEqual(linkTargets('[a](x.md#y) `[b](not-a-link)` ![c](img.png "t") <img src="n.png" width="3">'), [
      'x.md#y',
      'img.png',
      'n.png',
    ]);
    const fake = (): string => '# Only heading\n';
    assert.equal(checkLink('README.md', 'CHANGELOG.md', fake), null);
    assert.equal(checkLink('README.md', 'https://example.test/#x', fake), null);
    assert.match(checkLink('README.md', 'docs/missing.md', fake) ?? '', /does not exist/);
    assert.match(checkLink('README.md', 'CHANGELOG.md#nowhere', fake) ?? '', /no heading #nowhere/);
    assert.equal(checkLink('README.md', 'CHANGELOG.md#only-heading', fake), null);
    assert.match(checkLink('docs/x.md', '../../outside.md', fake) ?? '', /outside the repository/);
  });
});
