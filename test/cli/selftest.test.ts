/**
 * `acm-export selftest --local` against a real local mode: the document is found, the dry run lists the
 * nodes, the preflight runs the real document script on every node, and each node gets one READY / NOT READY
 * line; exit 0 only when every node is ready. The preflight changes nothing on the nodes.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { startLocalMode, type LocalMode } from '../../local/runtime';
import { requestCertificate } from '../e2e/support';
import { runCli, type CliRun } from './helpers/cli-runner';

let local: LocalMode;
let arn: string;

beforeAll(async () => {
  local = await startLocalMode({ nodes: 2, tags: { Role: 'web' }, nginx: 'never' });
  arn = await requestCertificate(local, 'selftest.example.test');
}, 60_000);

afterAll(async () => {
  await local?.close();
});

function selftest(...args: string[]): Promise<CliRun> {
  return runCli(['selftest', '--local', '--state-dir', local.root, ...args], {
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.min(ms, 100))),
  });
}

/** Every file under a node directory with its size and mtime: what the preflight must leave alone. */
function snapshot(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else {
        const st = statSync(p);
        files[path.relative(dir, p)] = `${st.size}:${st.mtimeMs}`;
      }
    }
  };
  walk(dir);
  return files;
}

function nodeLine(run: CliRun, instanceId: string): string {
  return run.stdout.split('\n').find((line) => line.startsWith(`${instanceId} `)) ?? '';
}

test('every node ready: document registered, dry run lists the nodes, one READY line per node, exit 0, nothing changed on the nodes', async () => {
  const before = local.nodes.map((n) => snapshot(n.dir));
  const reloadsBefore = local.nodes.map((n) => n.reloadCount());
  const writes = ['acm:ExportCertificate', 'secretsmanager:CreateSecret', 'secretsmanager:PutSecretValue'];
  const writesBefore = writes.map((op) => local.aws.callCount(op));
  const run = await selftest('--tag', 'Role=web', '--certificate-arn', arn);
  expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
  expect(run.stdout).toMatch(/^document {3}AcmExport-PreflightACMNode: registered \(Active, version 1\)$/m);
  const dryRun = run.stdout.split('\n').find((l) => l.startsWith('dry run')) ?? '';
  expect(dryRun).toMatch(/would install on 2 node\(s\)/);
  for (const node of local.nodes) {
    expect(dryRun).toContain(node.instanceId);
    expect(nodeLine(run, node.instanceId)).toMatch(
      /^mi-[0-9a-f]{17} {2}READY {6}agent 3\.3\.2746\.0, aws-cli 2\.22\.0, openssl \d+\.\d+\.\d+\S*, bash \d+\.\d+, nginx, secret ok, logs not checked$/,
    );
  }
  expect(run.stdout).toMatch(/logs not checked: local mode has no CloudWatch Logs/);
  expect(run.stdout).toMatch(/^READY: 2 of 2 node\(s\) ready$/m);
  // Read-only: no file written, changed or removed on any node (temp dir included), nothing reloaded.
  expect(local.nodes.map((n) => snapshot(n.dir))).toEqual(before);
  expect(local.nodes.map((n) => n.reloadCount())).toEqual(reloadsBefore);
  // The dry run stops before the export: no key exported, no secret written (it would have no target).
  expect(writes.map((op) => local.aws.callCount(op))).toEqual(writesBefore);
  // The canary's value never reaches the output.
  expect(run.stdout).not.toContain('holds no key material');
});

test('without --certificate-arn the dry run is skipped with a line saying how to run it', async () => {
  const run = await selftest('--tag', 'Role=web');
  expect(run.code).toBe(0);
  expect(run.stdout).toMatch(/^dry run {4}skipped: pass --certificate-arn ARN/m);
});

test('a node whose secret read is denied and a node with an old SSM Agent are NOT READY, the others READY, exit 1', async () => {
  const third = await local.addNode({ name: 'node-3', faults: { agentVersion: '3.2.582.0' } });
  local.setFaults({ nodes: { 'node-2': { secretDenied: true } } });
  try {
    const run = await selftest('--tag', 'Role=web');
    expect(run.code).toBe(1);
    expect(nodeLine(run, local.node('node-1').instanceId)).toMatch(/ {2}READY {6}agent 3\.3\.2746\.0, .*secret ok/);
    expect(nodeLine(run, local.node('node-2').instanceId)).toMatch(
      / {2}NOT READY {2}agent 3\.3\.2746\.0, aws-cli 2\.22\.0, .*, secret denied, logs not checked$/,
    );
    expect(nodeLine(run, third.instanceId)).toMatch(
      / {2}NOT READY {2}agent 3\.2\.582\.0 \(needs >= 3\.3\.2746\.0\), parameters did not arrive as environment variables \(SSM Agent too old\)/,
    );
    expect(run.stdout).toMatch(/^NOT READY: 1 of 3 node\(s\) ready$/m);
    // The denial is reported as a class, never with the service's message.
    expect(run.stdout).not.toContain('AccessDeniedException');

    const json = await selftest('--tag', 'Role=web', '--json');
    expect(json.code).toBe(1);
    const body = JSON.parse(json.stdout) as {
      ready: boolean;
      nodes: { instanceId: string; ready: boolean; preflight?: { secret: string } }[];
    };
    expect(body.ready).toBe(false);
    expect(body.nodes.find((n) => n.instanceId === local.node('node-2').instanceId)).toMatchObject({
      ready: false,
      preflight: { secret: 'denied' },
    });
  } finally {
    local.setFaults({ nodes: { 'node-2': {}, 'node-3': { offline: true } } });
  }
});

test('a tag no node carries: the line says so and the exit code is 1', async () => {
  const run = await selftest('--tag', 'Role=nobody');
  expect(run.code).toBe(1);
  expect(run.stdout).toMatch(/^no managed node has the tag Role=nobody$/m);
  expect(run.stdout).toMatch(/^NOT READY: 0 of 0 node\(s\) ready$/m);
});

test('usage: --tag is required, and a deployed check needs --stack', async () => {
  const noTag = await runCli(['selftest', '--local', '--state-dir', local.root]);
  expect(noTag.code).toBe(1);
  expect(noTag.stderr).toMatch(/--tag/);
  const noStack = await runCli(['selftest', '--tag', 'Role=web']);
  expect(noStack.code).toBe(1);
  expect(noStack.stderr).toMatch(/^acm-export: reading the options: selftest needs --stack NAME \(or --local\)\./);
  // The endpoint file local mode wrote names what selftest needs.
  const info = JSON.parse(readFileSync(path.join(local.root, 'endpoint.json'), 'utf8')) as Record<string, string>;
  expect(info).toMatchObject({
    awsEndpoint: local.awsEndpoint,
    preflightDocumentName: 'AcmExport-PreflightACMNode',
    preflightSecretArn: local.preflightSecretArn,
  });
});
