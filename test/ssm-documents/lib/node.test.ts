/**
 * lib/node.sh's path cache on its own: what `path_info` answers for paths a scan listed, paths it did not list,
 * and names whose text would break a line-per-field reading of find's output.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

const LIB = path.join(__dirname, '..', '..', '..', 'ssm-documents', 'lib');

/** Runs `body` after the prelude and node.sh, with the arguments as "$@"; returns stdout lines. */
function inBash(body: string, args: string[]): string[] {
  const script = [`source ${LIB}/prelude.sh`, `source ${LIB}/node.sh`, 'WORK=""', body].join('\n');
  const r = spawnSync('bash', ['-c', script, 'node-test', ...args], { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return r.stdout.trim().split('\n');
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'acm-export-node-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

test('path_info: a listed file, a listed absent name, and an absent path no scan listed (read alone)', () => {
  writeFileSync(path.join(dir, 'file'), 'x');
  const out = inBash(
    [
      'scan_paths "$1" "$2"',
      'for p in "$@"; do if path_info "$p"; then echo "$PI_TYPE $PI_SIZE"; else echo "absent $PI_TYPE"; fi; done',
    ].join('\n'),
    [path.join(dir, 'file'), path.join(dir, 'gone'), path.join(dir, 'never-listed', 'x')],
  );
  expect(out).toEqual(['f 1', 'absent -', 'absent -']);
});

test('a link text or a name with newlines cannot make the scan record another path', () => {
  const tree = path.join(dir, 'tree');
  mkdirSync(tree);
  writeFileSync(path.join(dir, 'plain'), 'plain');
  // Read a line per field, each would add a line pair for `plain` saying it is a root-owned directory.
  const forged = `${path.join(dir, 'plain')}\nT d 0 0 755 2 1 1.0 4096 1.0`;
  symlinkSync(`x\n${forged}`, path.join(tree, 'link'));
  // A name holds no /, but its newline would shift every pair after it.
  writeFileSync(path.join(tree, 'name\nT d 0 0 755 2 1 1.0 4096 1.0'), '');
  const out = inBash(
    [
      'scan_paths -t 1 "$1" "$2"',
      'path_info "$2"; echo "$PI_TYPE"',
      'path_info "$1/link"; echo "$PI_TYPE ${#PI_LINK}"',
    ].join('\n'),
    [tree, path.join(dir, 'plain')],
  );
  expect(out).toEqual(['f', `l ${`x\n${forged}`.length}`]);
});
