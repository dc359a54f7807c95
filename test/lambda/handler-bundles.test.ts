/**
 * The handler bundles as the stack builds them (lib/constructs/node-function.ts's esbuild settings): each
 * carries only the AWS SDK clients its handler imports (a cold start pays for every client in the bundle),
 * no zod classic API, and loads in a fresh Node process with its `handler` export. Every `lambda/<name>/handler.ts`
 * is covered, so a new function is checked without editing this file.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { build, type Metafile } from 'esbuild';
import { HANDLER_BUNDLING } from '../../lib/constructs/node-function';
import { CLIENT_PACKAGES, type AwsClients } from '../../lambda/shared/clients';

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
    absWorkingDir: ROOT,
    entryPoints: Object.fromEntries(HANDLERS.map((name) => [name, `lambda/${name}/handler.ts`])),
    outdir,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: HANDLER_BUNDLING.format,
    minify: HANDLER_BUNDLING.minify,
    keepNames: HANDLER_BUNDLING.keepNames,
    mainFields: [...HANDLER_BUNDLING.mainFields],
    // bundleAwsSDK: nothing is external.
    external: [],
    metafile: true,
    logLevel: 'error',
  });
  metafile = result.metafile;
});

afterAll(() => rmSync(outdir, { recursive: true, force: true }));

function inputsOf(name: string): string[] {
  const output = Object.entries(metafile.outputs).find(([file]) => path.basename(file) === `${name}.js`);
  if (!output) throw new Error(`no bundle for ${name}`);
  return Object.keys(output[1].inputs);
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
