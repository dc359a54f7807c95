/**
 * Jest's global setup and teardown: one temporary directory per test run, as TMPDIR for the run and every
 * worker, removed when the run ends. The stacks' cloud assemblies, rendered scripts and node fixtures live
 * below it, so a run (or a worker that Jest stops) leaves nothing behind in the system's temporary directory.
 * Readable by others (0755): some tests run programs as another user.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

const RUN_DIR = 'ACM_EXPORT_TEST_RUN_DIR';

export async function setup(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'acm-export-tests-'));
  chmodSync(dir, 0o755);
  process.env[RUN_DIR] = dir;
  process.env.TMPDIR = dir;
}

export async function teardown(): Promise<void> {
  const dir = process.env[RUN_DIR];
  if (dir) rmSync(dir, { recursive: true, force: true });
}
