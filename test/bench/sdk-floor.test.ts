/**
 * The cold-start section's SDK floor (bench/sdk-floor.ts): the clients are those the handler's bundle contains,
 * and the floor bundle constructs exactly them, with the SDK and nothing of ours around it.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { bundledClientModules, buildSdkFloor, clientName } from '../../bench/sdk-floor';

let outdir: string;
beforeAll(() => (outdir = mkdtempSync(path.join(tmpdir(), 'acm-export-sdk-floor-'))));
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

/** What a floor bundle's handler resolves to, run in a fresh process that must write nothing to stderr. */
function handlerResult(file: string): string {
  const run = spawnSync(
    process.execPath,
    ['--no-warnings', '-e', 'require(process.argv[1]).handler().then((n) => console.log(n))', file],
    { env: { PATH: process.env.PATH ?? '', AWS_REGION: 'us-east-1' }, encoding: 'utf8', timeout: 20_000 },
  );
  expect(run.stderr).toBe('');
  return run.stdout.trim();
}

test('the clients of a handler are the client modules its bundle contains', async () => {
  // status-check imports the SSM and DynamoDB clients; execution-end only DynamoDB's.
  expect((await bundledClientModules('lambda/status-check/handler.ts')).map(clientName)).toEqual(['ddb', 'ssm']);
  expect((await bundledClientModules('lambda/execution-end/handler.ts')).map(clientName)).toEqual(['ddb']);
});

test('the floor bundle constructs those clients at load, with no Powertools, zod or handler code', async () => {
  const file = path.join(outdir, 'floor.js');
  const inputs = await buildSdkFloor(['lambda/shared/clients/ddb.ts', 'lambda/shared/clients/ssm.ts'], file);
  const packages = new Set(inputs.map((i) => /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(i)?.[1] ?? i));
  for (const p of ['@aws-sdk/client-ssm', '@aws-sdk/client-dynamodb', '@aws-sdk/lib-dynamodb'])
    expect(packages).toContain(p);
  expect(
    [...packages].filter((p) =>
      /^@aws-lambda-powertools\/|^zod$|^aws-xray-sdk|^lambda\/(?!shared\/(clients\/|lambda-credentials))/.test(p),
    ),
  ).toEqual([]);
  // One client per module: the document client (ddb) and the SSM client.
  expect(handlerResult(file)).toBe('2');
});

test('the libraries floor adds Powertools and zod/mini, and the clients built as the handlers build them, no handler code', async () => {
  const file = path.join(outdir, 'libraries.js');
  const inputs = await buildSdkFloor(['lambda/shared/clients/ddb.ts'], file, { libraries: true });
  const packages = new Set(inputs.map((i) => /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(i)?.[1] ?? i));
  for (const p of [
    '@aws-sdk/client-dynamodb',
    '@aws-lambda-powertools/logger',
    '@aws-lambda-powertools/metrics',
    'zod',
    'lambda/shared/clients.ts',
    'lambda/shared/powertools.ts',
  ])
    expect(packages).toContain(p);
  expect([...packages].filter((p) => /^lambda\/(?!shared\/)/.test(p))).toEqual([]);
  // The document client, then the logger, the metrics and the schema.
  expect(handlerResult(file)).toBe('4');
});
