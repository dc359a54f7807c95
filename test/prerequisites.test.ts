/**
 * test/prerequisites.sh, which npm test runs before jest: silent when every command the tests spawn is on
 * PATH; otherwise one line naming what is missing, its package and the install command, and a non-zero
 * exit. ACM_EXPORT_TEST_NO_INSTALL=1 keeps it from installing anything with apt-get here.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

const SCRIPT = path.join(__dirname, 'prerequisites.sh');

/** command → package, read from the script's own list so the test follows it. */
function required(): Map<string, string> {
  const list = /^REQUIRED=\(([^)]*)\)/m.exec(readFileSync(SCRIPT, 'utf8'))?.[1] ?? '';
  return new Map(
    list
      .split(/\s+/)
      .filter(Boolean)
      .map((e) => e.split(':') as [string, string]),
  );
}

let root: string;
beforeAll(() => {
  root = mkdtempSync(path.join(tmpdir(), 'acm-export-prereq-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A PATH of one directory holding only the listed commands (linked to the real ones), so others are missing. */
function pathWith(name: string, commands: string[]): string {
  const dir = path.join(root, name);
  mkdirSync(dir);
  for (const c of commands) {
    const real = spawnSync('sh', ['-c', `command -v ${c}`], { encoding: 'utf8' }).stdout.trim();
    if (!real) throw new Error(`${c} is not on PATH`);
    symlinkSync(real, path.join(dir, c));
  }
  return dir;
}

function run(pathList: string) {
  // By absolute path: the PATH given to the script need not hold bash.
  const bash = spawnSync('sh', ['-c', 'command -v bash'], { encoding: 'utf8' }).stdout.trim();
  return spawnSync(bash, [SCRIPT], {
    env: { PATH: pathList, ACM_EXPORT_TEST_NO_INSTALL: '1' },
    encoding: 'utf8',
  });
}

test('the list names nginx, openssl and shellcheck with their Debian packages', () => {
  const list = required();
  expect(list.get('nginx')).toBe('nginx-light');
  expect(list.get('openssl')).toBe('openssl');
  expect(list.get('shellcheck')).toBe('shellcheck');
});

test('every command present: exit 0, no output', () => {
  const r = run(pathWith('full', [...required().keys()]));
  expect({ status: r.status, stdout: r.stdout, stderr: r.stderr }).toEqual({ status: 0, stdout: '', stderr: '' });
});

test('nginx missing: exit non-zero before anything runs, one line naming nginx, its package and the command', () => {
  const r = run(
    pathWith(
      'no-nginx',
      [...required().keys()].filter((c) => c !== 'nginx'),
    ),
  );
  expect(r.status).not.toBe(0);
  expect(r.stdout).toBe('');
  const lines = r.stderr.split('\n').filter(Boolean);
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/\bnginx\b/);
  expect(lines[0]).toContain('nginx-light');
  expect(lines[0]).toContain('sudo apt-get install -y nginx-light');
  expect(lines[0]).not.toMatch(/\bopenssl\b|\bshellcheck\b/);
});
