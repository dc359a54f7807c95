/**
 * Ctrl-C and SIGTERM on `acm-export local demo` / `local up` (the real CLI in a child process): local mode
 * is stopped (no nginx of the run left), its temporary state dir with the CA and private keys is removed,
 * the endpoint file is gone, and the exit code is 130 / 143. Each run gets its own TMPDIR, so the test can
 * see exactly what the run left behind.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

const BIN = path.join(__dirname, '..', '..', 'cli', 'bin.cjs');
const ARN = 'arn:aws:acm:us-east-1:000000000000:certificate/0a1b2c3d-1111-2222-3333-444455556666';

interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function cli(args: string[], tmp: string): Run {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, TMPDIR: tmp },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  );
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

async function until(what: string, condition: () => boolean, run: Run, timeoutMs = 45_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (run.child.exitCode !== null || Date.now() > deadline)
      throw new Error(`gave up waiting for ${what}\nstdout:\n${run.stdout()}\nstderr:\n${run.stderr()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Processes whose command line mentions `dir` (nginx masters and workers run with `-p <node dir>`). */
function processesUnder(dir: string): string[] {
  return spawnSync('pgrep', ['-af', dir], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
}

/** Temporary local-mode roots (CA, keys, secrets) in the run's TMPDIR. */
const localRoots = (tmp: string): string[] => readdirSync(tmp).filter((e) => e.startsWith('acm-export-local-'));

function endpointFiles(tmp: string): string[] {
  return readdirSync(tmp)
    .filter((e) => e.startsWith('acm-export-run-'))
    .flatMap((d) => readdirSync(path.join(tmp, d)).map((f) => path.join(tmp, d, f)));
}

let tmp: string;
let running: Run | undefined;
beforeEach(() => {
  tmp = mkdtempSync(path.join(tmpdir(), 'acm-export-signals-'));
});
afterEach(async () => {
  if (running && running.child.exitCode === null && running.child.signalCode === null) {
    running.child.kill('SIGKILL');
    await running.exited;
  }
  running = undefined;
  rmSync(tmp, { recursive: true, force: true });
});

test('Ctrl-C during "local demo" after the export started: nginx stopped, temporary state removed, exit 130', async () => {
  const run = (running = cli(['local', 'demo'], tmp));
  await until('the export to start', () => /^export \S+ started$/m.test(run.stdout()), run);
  expect(localRoots(tmp)).toHaveLength(1);
  run.child.kill('SIGINT');
  expect(await run.exited).toEqual({ code: 130, signal: null });
  expect(run.stderr()).toContain('SIGINT: stopping local mode');
  expect(run.stderr()).toContain('local mode stopped');
  expect(run.stderr()).not.toMatch(/running the demo failed|unexpected failure/);
  expect(processesUnder(tmp)).toEqual([]);
  expect(localRoots(tmp)).toEqual([]);
});

test('SIGTERM on "local up": stopped, exit 143, endpoint file removed, then "local renew" says no local mode runs', async () => {
  const run = (running = cli(['local', 'up', '--nodes', '2'], tmp));
  await until('local mode to be up', () => run.stdout().includes('Press Ctrl-C to stop.'), run);
  expect(run.stdout()).toContain('temporary: removed on exit');
  expect(endpointFiles(tmp)).toHaveLength(1);
  run.child.kill('SIGTERM');
  expect(await run.exited).toEqual({ code: 143, signal: null });
  expect(processesUnder(tmp)).toEqual([]);
  expect(localRoots(tmp)).toEqual([]);
  expect(endpointFiles(tmp)).toEqual([]);

  const renew = cli(['local', 'renew', ARN], tmp);
  expect(await renew.exited).toEqual({ code: 1, signal: null });
  expect(renew.stderr()).toContain('no running local mode');
});

test('Ctrl-C while "local up" is still starting its nodes: whatever started is stopped, exit 130', async () => {
  const run = (running = cli(['local', 'up', '--nodes', '3'], tmp));
  await until('the nodes to start', () => localRoots(tmp).some((r) => existsSync(path.join(tmp, r, 'nodes'))), run);
  run.child.kill('SIGINT');
  expect(await run.exited).toEqual({ code: 130, signal: null });
  expect(processesUnder(tmp)).toEqual([]);
  expect(localRoots(tmp)).toEqual([]);
  expect(endpointFiles(tmp)).toEqual([]);
});
