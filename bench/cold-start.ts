/**
 * 5. Lambda cold start proxy: each handler bundled by the stack's own NodejsFunction bundling (local
 * esbuild, the options of lib/constructs/node-function.ts), then the time for a fresh Node process to load
 * the bundle (`require`) and exit, median of N, with the function's literal environment (the Powertools
 * settings; the source map ships beside the bundle and is read only when a trace is formatted). The AWS SDK is bundled, as deployed. Every function of the
 * stack is measured (found by its metadata, so a new function is measured without editing this file), each as a
 * ratio to a bare `node` start in the same run, and once more as in Lambda with X-Ray tracing active. Beside each
 * handler, its SDK floor (bench/sdk-floor.ts): a bundle with the same options that only constructs the SDK
 * clients the handler's bundle contains, so the goal can be read against what the SDK alone costs, and its
 * libraries floor: the same clients plus Powertools and zod/mini, what every handler loads before its own code. The
 * baseline design's functions are Python: `import boto3` and its two clients beside a bare `python3`.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import { AcmExportStack } from '../lib/acm-export-stack';
import { FUNCTION_METADATA } from '../lib/constructs/node-function';
import { row, type BenchRow } from './report';
import { bundledClientModules, buildSdkFloor, clientName } from './sdk-floor';
import { median } from './stats';

const ROOT = path.join(__dirname, '..');

interface Bundle {
  name: string;
  /** The handler's source, repository-relative (`lambda/<name>/handler.ts`). */
  entry: string;
  file: string;
  bytes: number;
  mapBytes: number;
  env: Record<string, string>;
}

/** Synthesizes the stack with real bundling into `outdir`; returns each function's bundle. */
export function bundleHandlers(outdir: string): Bundle[] {
  const app = new App({ outdir, context: { 'aws:cdk:enable-asset-metadata': true } });
  const stack = new AcmExportStack(app, 'AcmExport', { env: { account: '111111111111', region: 'us-east-1' } });
  // Every function of the stack, by the name NodeFunction records in its metadata.
  const functions = stack.node
    .findAll()
    .filter((c): c is CfnFunction => c instanceof CfnFunction)
    .map((cfn) => [cfn.getMetadata(FUNCTION_METADATA.name) as string | undefined, cfn] as const)
    .filter((e): e is readonly [string, CfnFunction] => e[0] !== undefined);
  app.synth();
  return functions.map(([name, cfn]) => {
    const entry = cfn.getMetadata(FUNCTION_METADATA.entry) as string | undefined;
    if (!entry) throw new Error(`${name}: no handler entry in the function's metadata`);
    const assetPath = cfn.getMetadata('aws:asset:path') as string | undefined;
    if (!assetPath) throw new Error(`${name}: no asset path in the function's metadata`);
    const dir = path.join(outdir, assetPath);
    const file = path.join(dir, 'index.js');
    const map = readdirSync(dir).find((f) => f.endsWith('.map'));
    const variables =
      (Stack.of(cfn).resolve(cfn.environment) as { variables?: Record<string, unknown> } | undefined)?.variables ?? {};
    const env = Object.fromEntries(
      Object.entries(variables).filter((e): e is [string, string] => typeof e[1] === 'string'),
    );
    return {
      name,
      entry,
      file,
      bytes: statSync(file).size,
      mapBytes: map ? statSync(path.join(dir, map)).size : 0,
      env,
    };
  });
}

/** Milliseconds for `node -e <code>` in a fresh process, median of `runs` (after one untimed run). */
export function processTime(code: string, args: string[], env: Record<string, string>, runs: number): number {
  return commandTime(process.execPath, ['-e', code, ...args], env, runs);
}

/** Milliseconds for `command args` in a fresh process, median of `runs` (after one untimed run). */
export function commandTime(command: string, args: string[], env: Record<string, string>, runs: number): number {
  const times: number[] = [];
  for (let i = 0; i <= runs; i++) {
    const start = process.hrtime.bigint();
    const r = spawnSync(command, args, {
      env: {
        PATH: process.env.PATH ?? '',
        NODE_PATH: path.join(ROOT, 'node_modules'),
        AWS_REGION: 'us-east-1',
        ...env,
      },
      stdio: ['ignore', 'ignore', 'pipe'],
      timeout: 60_000,
    });
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    if (r.status !== 0)
      throw new Error(
        `${path.basename(command)} failed (${r.status}): ${r.stderr.toString().trim().split('\n').slice(-2).join(' | ')}`,
      );
    if (i > 0) times.push(ms);
  }
  return median(times);
}

/** The baseline design's function start: boto3 and the two clients its export function builds. */
const PYTHON_BASELINE = "import boto3; boto3.client('acm'); boto3.client('secretsmanager')";

/** The baseline's start and a bare python3's, or why they cannot be measured here. */
function pythonTimes(runs: number): { bare: number; boto3: number } | { missing: string } {
  const probe = spawnSync('python3', ['-c', 'import boto3'], { stdio: 'ignore', timeout: 60_000 });
  if (probe.error) return { missing: 'python3 is not installed' };
  if (probe.status !== 0) return { missing: 'python3 has no boto3' };
  return {
    bare: commandTime('python3', ['-c', '0'], {}, runs),
    // Lambda sets AWS_DEFAULT_REGION for Python; boto3 does not read AWS_REGION.
    boto3: commandTime('python3', ['-c', PYTHON_BASELINE], { AWS_DEFAULT_REGION: 'us-east-1' }, runs),
  };
}

/** Inside Lambda: the runtime sets AWS_EXECUTION_ENV, and with active tracing the X-Ray Tracer loads at init. */
const LAMBDA_TRACING_ENV = { AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x' };

/**
 * A handler's load time, its floors' (when given) and a bare node start measured alternately (bare, load,
 * floors, bare, load, floors, ...), so that all see the same machine load: medians of `runs` each.
 */
function sideBySide(
  file: string,
  env: Record<string, string>,
  runs: number,
  floorFiles: readonly string[] = [],
): { bare: number; load: number; floors: number[] } {
  const bare: number[] = [];
  const load: number[] = [];
  const floors: number[][] = floorFiles.map(() => []);
  for (let i = 0; i < runs; i++) {
    bare.push(processTime('0', [], {}, 1));
    load.push(processTime(LOAD, [file], env, 1));
    floorFiles.forEach((f, k) => floors[k].push(processTime(LOAD, [f], env, 1)));
  }
  return { bare: median(bare), load: median(load), floors: floors.map(median) };
}

interface SdkFloor {
  file: string;
  /** The libraries floor: the same clients plus Powertools and zod/mini, as every handler loads them. */
  librariesFile: string;
  /** The client names, e.g. `ddb, ssm`. */
  clients: string;
  bytes: number;
}

/** Builds each handler's SDK floor bundle into `outdir`. */
async function buildSdkFloors(bundles: readonly Bundle[], outdir: string): Promise<Map<string, SdkFloor>> {
  const floors = new Map<string, SdkFloor>();
  for (const b of bundles) {
    const modules = await bundledClientModules(b.entry);
    const file = path.join(outdir, `sdk-floor-${b.name}.js`);
    await buildSdkFloor(modules, file);
    const librariesFile = path.join(outdir, `libraries-floor-${b.name}.js`);
    await buildSdkFloor(modules, librariesFile, { libraries: true });
    floors.set(b.name, {
      file,
      librariesFile,
      clients: modules.map(clientName).join(', ') || 'none',
      bytes: statSync(file).size,
    });
  }
  return floors;
}

const LOAD =
  "const m = require(process.argv[1]); if (typeof m.handler !== 'function') { console.error('no handler export'); process.exit(3); }";

export async function benchColdStart(options: { runs: number }, notes: string[]): Promise<BenchRow[]> {
  const outdir = mkdtempSync(path.join(tmpdir(), 'acm-export-bench-bundles-'));
  try {
    const started = Date.now();
    const bundles = bundleHandlers(outdir);
    const bundleSeconds = (Date.now() - started) / 1000;
    const floors = await buildSdkFloors(bundles, outdir);
    const empty = processTime('0', [], {}, options.runs);
    const python = pythonTimes(options.runs);
    const pythonNote = 'missing' in python ? `baseline n/a: ${python.missing}` : undefined;
    const rows: BenchRow[] = [
      row(
        'cold-start',
        'fresh node process, nothing loaded (reference; baseline: bare python3 -c 0)',
        'ms',
        Math.round(empty),
        'missing' in python ? undefined : Math.round(python.bare),
        [`median of ${options.runs}`, pythonNote].filter(Boolean).join('; '),
      ),
    ];
    const ratios: string[] = [];
    const floorRatios: string[] = [];
    const librariesRatios: string[] = [];
    for (const b of bundles) {
      const sdk = floors.get(b.name);
      const {
        bare,
        load: ms,
        floors: [floor, librariesFloor],
      } = sideBySide(b.file, b.env, options.runs, sdk ? [sdk.file, sdk.librariesFile] : []);
      const x = ms / bare;
      ratios.push(`${b.name} ${x.toFixed(2)}x`);
      rows.push(
        row(
          'cold-start',
          `load bundled handler in a fresh node, ${b.name} (baseline: python3 importing boto3 and two clients)`,
          'ms',
          Math.round(ms),
          'missing' in python ? undefined : Math.round(python.boto3),
          `median of ${options.runs}; ${x.toFixed(2)}x a bare node start of ${Math.round(bare)} ms beside it (goal 2.5x); ${(b.bytes / 1024).toFixed(0)} KiB minified`,
        ),
      );
      if (sdk && floor !== undefined && librariesFloor !== undefined) {
        const f = floor / bare;
        const l = librariesFloor / bare;
        floorRatios.push(`${b.name} ${f.toFixed(2)}x (handler ${x.toFixed(2)}x)`);
        librariesRatios.push(`${b.name} ${l.toFixed(2)}x (handler ${x.toFixed(2)}x)`);
        rows.push(
          row(
            'cold-start',
            `SDK floor of ${b.name}: a bundle with the same options that only constructs its SDK clients (${sdk.clients})`,
            'ms',
            Math.round(floor),
            undefined,
            `median of ${options.runs}; ${f.toFixed(2)}x the same bare node start; the handler adds ${Math.round(ms - floor)} ms (${(x - f).toFixed(2)}x) to it; ${(sdk.bytes / 1024).toFixed(0)} KiB minified`,
          ),
          row(
            'cold-start',
            `libraries floor of ${b.name}: its SDK floor plus Powertools and zod/mini, as every handler loads them`,
            'ms',
            Math.round(librariesFloor),
            undefined,
            `median of ${options.runs}; ${l.toFixed(2)}x the same bare node start; the handler's own code adds ${Math.round(ms - librariesFloor)} ms (${(x - l).toFixed(2)}x) to it`,
          ),
        );
      }
    }
    for (const b of bundles) {
      const { bare, load: ms } = sideBySide(b.file, { ...b.env, ...LAMBDA_TRACING_ENV }, options.runs);
      rows.push(
        row(
          'cold-start',
          `load bundled handler in a fresh node with X-Ray tracing active (as in Lambda), ${b.name}`,
          'ms',
          Math.round(ms),
          undefined,
          `median of ${options.runs}; ${(ms / bare).toFixed(2)}x a bare node start beside it`,
        ),
      );
    }
    if (!('missing' in python)) {
      rows.push(
        row(
          'cold-start',
          'baseline start as a ratio to a bare start of its own runtime (python3 with boto3 and two clients / python3 -c 0)',
          'x',
          undefined,
          Number((python.boto3 / python.bare).toFixed(2)),
          `median of ${options.runs}`,
        ),
      );
    }
    const sizes = bundles
      .map((b) => `${b.name} ${(b.bytes / 1024).toFixed(0)} KiB (+${(b.mapBytes / 1024).toFixed(0)} KiB map)`)
      .join(', ');
    notes.push(
      `Bundles (cdk synth with the stack's NodejsFunction bundling, ${bundleSeconds.toFixed(1)} s for all): ${sizes}. An empty \`node -e 0\` takes ${Math.round(empty)} ms here (${process.version}), so the handler's own load time is the difference.`,
    );
    notes.push(
      `Load time as a ratio to a bare \`node\` start in this run (goal: at most 2.5x): ${ratios.join(', ')}. Without tracing the X-Ray SDK is not loaded; in Lambda (tracing active) it is, see the "X-Ray tracing active" rows.`,
    );
    notes.push(
      `SDK floor (a bundle with the handler bundles' esbuild options and the function's environment that only constructs the SDK clients the handler's bundle contains, found from its esbuild metafile) as a ratio to the same bare start: ${floorRatios.join(', ')}. The floor is the SDK's; above it come Powertools, zod and the handler's own code (the libraries floor below separates them).`,
    );
    notes.push(
      `Libraries floor (the SDK floor's clients built through lambda/shared/clients.ts, with Powertools as lambda/shared/powertools.ts sets it up and zod/mini with one schema: what every handler loads before any code of its own) as a ratio to the same bare start: ${librariesRatios.join(', ')}. What the handler adds above it is its own code.`,
    );
    notes.push(
      `Baseline: the blog sample's Lambdas are Python; its start is \`python3 -c "${PYTHON_BASELINE}"\` beside a bare \`python3 -c 0\`${'missing' in python ? ` (not measured: ${python.missing})` : ''}. On AWS, the Lambda runtime's init phase also includes sandbox start-up, not measured here.`,
    );
    return rows;
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}
