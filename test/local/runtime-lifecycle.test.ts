/**
 * Local mode start and stop: a start that fails part-way leaves nothing behind (servers, nodes' nginx,
 * environment, temporary root, endpoint file); close() is idempotent and removes the endpoint file.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ENV } from '../../lambda/shared/contract';
import { ENDPOINT_FILE } from '../../local/endpoint-file';
import { LocalModeError } from '../../local/errors';
import { startLocalMode } from '../../local/runtime';

/** Processes whose command line mentions `dir` (nginx masters and workers run with `-p <node dir>`). */
function processesUnder(dir: string): string[] {
  const r = spawnSync('pgrep', ['-af', dir], { encoding: 'utf8' });
  return r.stdout.split('\n').filter(Boolean);
}

/** Listening TCP servers of this process (after the close callbacks of the last tick have run). */
async function listeningServers(): Promise<number> {
  await new Promise((resolve) => setImmediate(resolve));
  return process.getActiveResourcesInfo().filter((r) => r === 'TCPServerWrap').length;
}

let scratch: string;
beforeEach(() => {
  scratch = mkdtempSync(path.join(tmpdir(), 'acm-export-lifecycle-'));
});
afterEach(() => {
  rmSync(scratch, { recursive: true, force: true });
});

/** The handlers' environment variables local mode sets. */
function handlerEnv(): Record<string, string | undefined> {
  return Object.fromEntries(['AWS_REGION', ...Object.values(ENV)].map((k) => [k, process.env[k]]));
}

async function expectNothingLeft(
  dir: string,
  serversBefore: number,
  envBefore: Record<string, string | undefined>,
): Promise<void> {
  expect(processesUnder(dir)).toEqual([]);
  expect(await listeningServers()).toBe(serversBefore);
  expect(handlerEnv()).toEqual(envBefore);
}

test('a node that fails to start: the nodes, dynalite and emulator already started are stopped, env restored', async () => {
  const stateDir = path.join(scratch, 'state');
  // node-2's directory exists with a file where its server directory must be: its start fails, 1 and 3 start.
  const broken = path.join(stateDir, 'nodes', 'mi-0000000000000000b');
  mkdirSync(broken, { recursive: true });
  writeFileSync(
    path.join(broken, 'node.json'),
    JSON.stringify({ instanceId: 'mi-0000000000000000b', name: 'node-2', tags: { Role: 'web' } }),
  );
  writeFileSync(path.join(broken, 'server'), 'not a directory');
  const servers = await listeningServers();
  const env = handlerEnv();

  const start = startLocalMode({ nodes: 3, stateDir });
  await expect(start).rejects.toThrow(LocalModeError);
  await expect(start).rejects.toThrow(/node-2 failed to start/);

  // node-1 and node-3 did start their servers (nginx leaves its error log, the built-in server its config)
  const nodesDir = path.join(stateDir, 'nodes');
  const others = readdirSync(nodesDir).filter((d) => path.join(nodesDir, d) !== broken);
  expect(
    others.filter((d) => ['error.log', 'server.json'].some((f) => existsSync(path.join(nodesDir, d, 'server', f)))),
  ).toHaveLength(2);
  await expectNothingLeft(stateDir, servers, env);
  expect(existsSync(path.join(stateDir, ENDPOINT_FILE))).toBe(false);
});

test('the API port is taken: everything is stopped and the temporary root is removed', async () => {
  const blocker: Server = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const port = (blocker.address() as AddressInfo).port;
  const servers = await listeningServers();
  const env = handlerEnv();
  const savedTmp = process.env.TMPDIR;
  process.env.TMPDIR = scratch; // the temporary root goes here, so the test can see it is gone
  try {
    await expect(startLocalMode({ nodes: 2, port })).rejects.toThrow(/cannot listen on 127\.0\.0\.1:\d+/);
  } finally {
    if (savedTmp === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = savedTmp;
    await new Promise<void>((resolve) => blocker.close(() => resolve()));
  }
  await expectNothingLeft(scratch, servers - 1, env);
  expect(readdirSync(scratch)).toEqual([]);
});

test('close() is idempotent and removes the endpoint files first', async () => {
  const stateDir = path.join(scratch, 'state');
  const endpointFile = path.join(scratch, 'runtime.json');
  const servers = await listeningServers();
  const local = await startLocalMode({ nodes: 1, stateDir, endpointFile });
  expect(existsSync(path.join(stateDir, ENDPOINT_FILE))).toBe(true);
  expect(existsSync(endpointFile)).toBe(true);
  const first = local.close();
  const second = local.close();
  expect(existsSync(endpointFile)).toBe(false);
  await second; // resolves only when everything is stopped
  expect(processesUnder(stateDir)).toEqual([]);
  expect(await listeningServers()).toBe(servers);
  await first;
  expect(existsSync(path.join(stateDir, ENDPOINT_FILE))).toBe(false);
  // the state itself stays (persisted state dir)
  expect(existsSync(path.join(stateDir, 'nodes'))).toBe(true);
});
