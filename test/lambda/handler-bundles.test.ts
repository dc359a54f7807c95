/**
 * The handler bundles as the stack builds them (lib/constructs/node-function.ts's esbuild settings): each
 * carries only the AWS SDK clients its handler imports (a cold start pays for every client in the bundle),
 * no zod classic API, no credential provider but the environment's, and loads in a fresh Node process with its
 * `handler` export (and signs its requests with the environment's credentials). Every `lambda/<name>/handler.ts`
 * is covered, so a new function is checked without editing this file.
 */
import { execFile, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { build, type Metafile } from 'esbuild';
import { handlerBuildOptions } from '../../lib/constructs/node-function';
import { CLIENT_PACKAGES, type AwsClients } from '../../lambda/shared/clients';
import { REGION, executionStatusEvent } from './support';

const ROOT = path.join(__dirname, '..', '..');
const HANDLERS = readdirSync(path.join(ROOT, 'lambda')).filter((dir) =>
  existsSync(path.join(ROOT, 'lambda', dir, 'handler.ts')),
);
/** The SDK packages that are one service's client (not the shared core). */
const SERVICE_PACKAGE = /node_modules\/(@aws-sdk\/(?:client-[a-z0-9-]+|lib-dynamodb))\//;

let outdir: string;
let metafile: Metafile;

beforeAll(async () => {
  outdir = mkdtempSync(path.join(tmpdir(), 'acm-export-bundles-'));
  const result = await build({
    ...handlerBuildOptions(),
    entryPoints: Object.fromEntries(HANDLERS.map((name) => [name, `lambda/${name}/handler.ts`])),
    outdir,
    metafile: true,
  });
  metafile = result.metafile;
});

afterAll(() => rmSync(outdir, { recursive: true, force: true }));

/** The source files that put code into a handler's bundle. */
function inputsOf(name: string): string[] {
  const output = Object.entries(metafile.outputs).find(([file]) => path.basename(file) === `${name}.js`);
  if (!output) throw new Error(`no bundle for ${name}`);
  return Object.entries(output[1].inputs)
    .filter(([, input]) => input.bytesInOutput > 0)
    .map(([file]) => file);
}

/** The clients a handler imports: `../shared/clients/<client>`. */
function importedClients(name: string): (keyof AwsClients)[] {
  const source = readFileSync(path.join(ROOT, 'lambda', name, 'handler.ts'), 'utf8');
  return [...source.matchAll(/from '\.\.\/shared\/clients\/([a-z]+)'/g)].map((m) => m[1] as keyof AwsClients);
}

test('every function has a handler to check', () => {
  expect(HANDLERS).toEqual(expect.arrayContaining(['acm-export', 'ssm-run', 'status-check', 'export-api']));
});

test.each(HANDLERS)('%s bundles only the SDK clients its handler imports', (name) => {
  const clients = importedClients(name);
  for (const c of clients) expect(Object.keys(CLIENT_PACKAGES)).toContain(c);
  const expected = [...new Set(clients.flatMap((c) => CLIENT_PACKAGES[c]))].sort();
  const bundled = [
    ...new Set(
      inputsOf(name)
        .map((input) => SERVICE_PACKAGE.exec(input)?.[1])
        .filter((p): p is string => p !== undefined),
    ),
  ].sort();
  expect(bundled).toEqual(expected);
});

test.each(HANDLERS)('%s bundles zod/mini, not the classic zod API, and English only of its locales', (name) => {
  const inputs = inputsOf(name);
  expect(inputs.filter((input) => /node_modules\/zod\/v4\/classic\//.test(input))).toEqual([]);
  expect(inputs.filter((input) => /node_modules\/zod\/v4\/locales\/(?!en\.c?js$)/.test(input))).toEqual([]);
});

test('each bundle loads in a fresh node process and exports a handler function', () => {
  const script = `for (const f of process.argv.slice(1)) { const m = require(f); if (typeof m.handler !== 'function') { console.error(f + ': no handler'); process.exit(3); } }`;
  const files = HANDLERS.map((name) => path.join(outdir, `${name}.js`));
  const run = spawnSync(process.execPath, ['-e', script, ...files], {
    env: { PATH: process.env.PATH ?? '', AWS_REGION: 'us-east-1' },
    encoding: 'utf8',
    timeout: 30_000,
  });
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
});

/** The SDK's credential providers other than the environment's, and the clients only they use. */
const OTHER_CREDENTIAL_SOURCES =
  /node_modules\/(@aws-sdk\/(credential-provider-(?!env\/)[a-z-]+|nested-clients|token-providers)|@smithy\/credential-provider-imds)\//;

test.each(HANDLERS)('%s bundles the environment credential provider only, not the default chain', (name) => {
  const inputs = inputsOf(name);
  expect(inputs.filter((input) => OTHER_CREDENTIAL_SOURCES.test(input))).toEqual([]);
  expect(inputs).toContain('lambda/shared/lambda-credentials.ts');
});

describe('credentials of a bundled handler (execution-end, which writes to DynamoDB)', () => {
  const event = executionStatusEvent('FAILED', { error: 'States.Timeout' });

  const requests: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    requests.push(req.headers);
    req.resume();
    req.on('end', () => {
      res.setHeader('content-type', 'application/x-amz-json-1.0');
      res.end('{}');
    });
  });
  let endpoint: string;
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
  beforeEach(() => (requests.length = 0));

  /** Runs the bundled handler on the event in a fresh process: its error message, or '' when it resolved. */
  function invoke(credentials: Record<string, string>): Promise<string> {
    const script = `require(process.argv[1]).handler(${JSON.stringify(event)}).then(() => {}, (e) => { console.error(e.message); process.exitCode = 4; })`;
    return new Promise((resolve, reject) =>
      execFile(
        process.execPath,
        ['--no-warnings', '-e', script, path.join(outdir, 'execution-end.js')],
        {
          // HOME points nowhere: a default chain would find no profile either way.
          env: {
            PATH: process.env.PATH ?? '',
            HOME: outdir,
            AWS_REGION: REGION,
            TABLE_NAME: 'inventory',
            AWS_ENDPOINT_URL: endpoint,
            ...credentials,
          },
          timeout: 20_000,
        },
        (error, _stdout, stderr) => {
          if (error && error.code !== 4) reject(new Error(`${error.message}: ${stderr}`));
          else resolve(stderr.trim());
        },
      ),
    );
  }

  test('signs its requests with the environment credentials the Lambda runtime sets', async () => {
    const stderr = await invoke({
      AWS_ACCESS_KEY_ID: 'ASIAENVONLYEXAMPLE01',
      AWS_SECRET_ACCESS_KEY: 'secret-of-the-test',
      AWS_SESSION_TOKEN: 'session-token-of-the-test',
    });
    expect(stderr).toBe('');
    expect(requests.length).toBeGreaterThan(0);
    expect(requests[0].authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=ASIAENVONLYEXAMPLE01\//);
    expect(requests[0]['x-amz-security-token']).toBe('session-token-of-the-test');
  });

  test('without them, fails at the first call naming the missing variables, and sends nothing', async () => {
    const stderr = await invoke({});
    expect(stderr).toMatch(/AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY not set/);
    expect(requests).toEqual([]);
  });
});

describe('errors of a bundled handler (status-check, given a payload that is not a task payload)', () => {
  /** Runs a bundled handler on `{}` in a fresh process: the name and trace of the error it rejects with. */
  function failure(bundle: string): { name: string; stack: string[] } {
    const script = `require(process.argv[1]).handler({}).then(() => process.exit(5), (e) => { process.stdout.write(JSON.stringify({ name: e.name, stack: e.stack.split('\\n') })); })`;
    const run = spawnSync(process.execPath, ['--no-warnings', '-e', script, bundle], {
      env: { PATH: process.env.PATH ?? '', AWS_REGION: REGION, TABLE_NAME: 'inventory' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(run.status).toBe(0);
    return JSON.parse(run.stdout) as { name: string; stack: string[] };
  }

  /** The source line a trace frame names, as `lambda/<path>:<line>:<column>`. */
  function sourceAt(frame: string): string {
    const m = /\((lambda\/[^:]+):(\d+):(\d+)\)$/.exec(frame);
    if (!m) throw new Error(`no source position in: ${frame}`);
    const lines = readFileSync(path.join(ROOT, m[1]), 'utf8').split('\n');
    return lines[Number(m[2]) - 1].slice(Number(m[3]) - 1);
  }

  test('rejects with the typed error by its literal name (the workflow matches it), its trace naming our sources', () => {
    const { name, stack } = failure(path.join(outdir, 'status-check.js'));
    expect(name).toBe('InvalidInput');
    expect(stack[0]).toMatch(/^InvalidInput: payload: /);
    // The throw site, then the handler that called it: mapped through the map beside the bundle when the
    // trace was formatted (no --enable-source-maps).
    // With the source name of the function, as Node's own source-map support writes it.
    expect(stack[1]).toMatch(/^ {4}at parsePayload \(lambda\/shared\/workflow\.ts:\d+:\d+\)$/);
    expect(sourceAt(stack[1])).toMatch(/^new InvalidInput\(/);
    expect(stack[2]).toMatch(/ \(?lambda\/status-check\/handler\.ts:\d+:\d+\)?$/);
    expect(stack.join('\n')).not.toContain('status-check.js:');
  });

  test('without its map beside it, or with a map that cannot be read, the trace names the bundle and nothing is lost', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'acm-export-bundle-maps-'));
    try {
      const bare = path.join(dir, 'no-map.js');
      copyFileSync(path.join(outdir, 'status-check.js'), bare);
      const broken = path.join(dir, 'broken-map.js');
      copyFileSync(path.join(outdir, 'status-check.js'), broken);
      writeFileSync(`${broken}.map`, '{ not json');
      for (const bundle of [bare, broken]) {
        const { name, stack } = failure(bundle);
        expect(name).toBe('InvalidInput');
        expect(stack[0]).toMatch(/^InvalidInput: payload: /);
        expect(stack[1]).toContain(`${bundle}:`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
