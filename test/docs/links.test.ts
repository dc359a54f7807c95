/**
 * Every relative link in README.md and docs/*.md points at a file of the repository, and every `#anchor` at a
 * heading of the page it names, so moving a section or renaming a heading cannot leave a dead link behind.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..', '..');
const PAGES = [
  'README.md',
  ...readdirSync(path.join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

/** Markdown text without fenced code blocks, where `#` and brackets mean nothing. */
function withoutFences(markdown: string): string {
  return markdown.replace(/^\s*```[\s\S]*?^\s*```/gm, '');
}

/** ... and without code spans, where brackets are not links either. */
function withoutCode(markdown: string): string {
  return withoutFences(markdown).replace(/`[^`\n]*`/g, '');
}

/** Targets of inline links `[text](target)`, without an optional title. */
function linkTargets(markdown: string): string[] {
  return [...withoutCode(markdown).matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => m[1]);
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const m of withoutFences(markdown).matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const base = m[1]
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  return anchors;
}

/** Links of `page` (repository-relative) that point at no file, or at no heading of the file they name. */
function deadLinks(page: string, markdown: string): string[] {
  const dead: string[] = [];
  for (const target of linkTargets(markdown)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:: not checked offline
    const [file, anchor] = target.split('#', 2);
    const resolved = file === '' ? path.join(ROOT, page) : path.join(ROOT, path.dirname(page), decodeURI(file));
    if (!existsSync(resolved)) {
      dead.push(target);
      continue;
    }
    if (anchor === undefined || !resolved.endsWith('.md')) continue;
    const linked = file === '' ? markdown : readFileSync(resolved, 'utf8');
    if (!anchorsOf(linked).has(anchor)) dead.push(target);
  }
  return dead;
}

test.each(PAGES)('every relative link in %s resolves', (page) => {
  const markdown = readFileSync(path.join(ROOT, page), 'utf8');
  expect(deadLinks(page, markdown)).toEqual([]);
});

test('the pages do link to each other (the check has something to check)', () => {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const local = linkTargets(readme).filter((t) => !/^[a-z]+:/i.test(t));
  expect(local.filter((t) => t.includes('#')).length).toBeGreaterThan(2);
  for (const page of PAGES.filter((p) => p.startsWith('docs/'))) expect(local).toContain(page);
});

test('a missing file, a missing anchor and a link into a code block are told apart', () => {
  const page = [
    '# Title',
    '## Fleet convergence',
    '[ok](#fleet-convergence) [ok](docs/api.md#api) [gone](docs/nope.md) [bad anchor](#no-such-heading)',
    '`[not a link](nowhere.md)`',
    '```',
    '[not a link](nowhere-either.md)',
    '```',
  ].join('\n');
  expect(deadLinks('README.md', page)).toEqual(['docs/nope.md', '#no-such-heading']);
});

test('anchors follow GitHub: punctuation dropped, repeated headings numbered', () => {
  expect([...anchorsOf('# API and CLI\n## What a node may call\n## Costs\n## Costs\n### `x`: y/z')]).toEqual([
    'api-and-cli',
    'what-a-node-may-call',
    'costs',
    'costs-1',
    'x-yz',
  ]);
});
