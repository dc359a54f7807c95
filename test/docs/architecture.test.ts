/**
 * docs/architecture.md says where each concern lives. These facts come from the tree itself: every path the
 * page names exists, and every construct, function folder and local-mode module is named there, so a new
 * file or a move without an update of the page fails here.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { listTree } from '../ssm-documents/fixture';

const ROOT = path.join(__dirname, '..', '..');
const PAGE = readFileSync(path.join(ROOT, 'docs', 'architecture.md'), 'utf8');

/** Code spans that are repository paths: they start with a top-level folder of the repository. */
function namedPaths(page: string): string[] {
  const spans = [...page.matchAll(/`([^`\s]+)`/g)].map((m) => m[1]);
  return spans.filter((s) => /^(bin|lib|lambda|ssm-documents|cli|local|test|bench|docs)\//.test(s));
}

/** Repository-relative files under `dir` that `keep` accepts. */
function filesUnder(dir: string, keep: (file: string) => boolean): string[] {
  return listTree(path.join(ROOT, dir))
    .map((rel) => `${dir}/${rel}`)
    .filter(keep);
}

test('every path the page names exists', () => {
  const paths = namedPaths(PAGE);
  expect(paths.length).toBeGreaterThan(60);
  expect(paths.filter((p) => !existsSync(path.join(ROOT, p)))).toEqual([]);
});

/** Constructs, function folders' files, shared modules, local-mode modules and node-side files the page does not name. */
function unnamed(page: string): string[] {
  const named = new Set(namedPaths(page).map((p) => p.replace(/\/$/, '')));
  const isTs = (f: string): boolean => f.endsWith('.ts') && !f.endsWith('.d.ts');
  const expected = [
    ...filesUnder('lib', isTs),
    ...filesUnder('lambda', isTs),
    // The constraint table's files are one concern, named by their folder.
    ...filesUnder('local', (f) => isTs(f) && !f.startsWith('local/aws-emulator/constraints/')),
    'local/aws-emulator/constraints',
    ...readdirSync(path.join(ROOT, 'ssm-documents')).map((f) => `ssm-documents/${f}`),
  ];
  return expected.filter((p) => !named.has(p));
}

test('every construct, function folder, shared module and local-mode module is named on the page', () => {
  expect(unnamed(PAGE)).toEqual([]);
});

test('a file the page does not name is reported', () => {
  expect(unnamed(PAGE.replace('`lib/constructs/arns.ts`', 'the ARN patterns'))).toEqual(['lib/constructs/arns.ts']);
});
