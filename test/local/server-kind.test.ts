/**
 * Which HTTPS server local nodes run. The tests set ACM_EXPORT_LOCAL_NGINX=required (test/setup-env.ts), so
 * `auto` means real nginx or a one-line error, never a silent switch to the built-in server; without it (the
 * demo) `auto` falls back to the built-in server. `builtin` is always an explicit choice.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { NGINX_REQUIRED_ENV, resolveServerKind } from '../../local/nodes';
import { startLocalMode } from '../../local/runtime';

let binDir: string;
const realPath = process.env.PATH;

beforeAll(() => {
  // A PATH with what local mode needs except nginx.
  binDir = mkdtempSync(path.join(tmpdir(), 'acm-export-no-nginx-'));
  for (const tool of ['sh', 'bash', 'openssl']) {
    const real = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
    symlinkSync(real, path.join(binDir, tool));
  }
});
afterEach(() => {
  process.env.PATH = realPath;
});
afterAll(() => rmSync(binDir, { recursive: true, force: true }));

test('the tests require nginx', () => {
  expect(process.env[NGINX_REQUIRED_ENV]).toBe('required');
  expect(resolveServerKind('auto')).toBe('nginx');
});

test('nginx missing: auto is an error when required, the built-in server otherwise; builtin is always builtin', () => {
  process.env.PATH = binDir;
  expect(() => resolveServerKind('auto', { [NGINX_REQUIRED_ENV]: 'required' })).toThrow(
    /^nginx is not on PATH and ACM_EXPORT_LOCAL_NGINX=required: install it \(sudo apt-get install -y nginx-light\)[^\n]*$/,
  );
  expect(resolveServerKind('auto', {})).toBe('builtin');
  expect(resolveServerKind('builtin', { [NGINX_REQUIRED_ENV]: 'required' })).toBe('builtin');
});

test('nginx missing: startLocalMode stops at once unless the test asks for the built-in server', async () => {
  process.env.PATH = binDir;
  const outcome = await startLocalMode({ nodes: 1 }).then(
    async (local) => {
      await local.close();
      return 'started';
    },
    (err: Error) => err.message,
  );
  expect(outcome).toMatch(/^nginx is not on PATH[^\n]*$/);
});
