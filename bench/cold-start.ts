/**
 * 5. Lambda cold start proxy: each handler bundled by the stack's own NodejsFunction bundling (local
 * esbuild, the options of lib/constructs/node-function.ts), then the time for a fresh Node process to load
 * the bundle (`require`) and exit, median of N, with the function's literal environment (NODE_OPTIONS
 * --enable-source-maps and the Powertools settings). The AWS SDK is external, as in the deployed bundle
 * (the Lambda runtime provides it), and resolves from the project's node_modules here.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import { AcmExportStack } from '../lib/acm-export-stack';
import type { NodeFunction } from '../lib/constructs/node-function';
import { row, type BenchRow } from './report';
import { median } from './stats';

const ROOT = path.join(__dirname, '..');

interface Bundle {
  name: string;
  file: string;
  bytes: number;
  mapBytes: number;
  env: Record<string, string>;
}

/** Synthesizes the stack with real bundling into `outdir`; returns each function's bundle. */
export function bundleHandlers(outdir: string): Bundle[] {
  const app = new App({ outdir, context: { 'aws:cdk:enable-asset-metadata': true } });
  const stack = new AcmExportStack(app, 'AcmExport', { env: { account: '111111111111', region: 'us-east-1' } });
  const w = stack.workflow;
  const functions: Record<string, NodeFunction> = {
    'acm-export': w.acmExportFunction,
    'ssm-run': w.ssmRunFunction,
    'status-check': w.statusCheckFunction,
    'acm-renew': stack.renewalTrigger.function,
    'export-api': stack.exportApi.function,
  };
  app.synth();
  return Object.entries(functions).map(([name, fn]) => {
    const cfn = fn.node.defaultChild as CfnFunction;
    const assetPath = cfn.getMetadata('aws:asset:path') as string | undefined;
    if (!assetPath) throw new Error(`${name}: no asset path in the function's metadata`);
    const dir = path.join(outdir, assetPath);
    const file = path.join(dir, 'index.js');
    const map = readdirSync(dir).find((f) => f.endsWith('.map'));
    const variables =
      (Stack.of(fn).resolve(cfn.environment) as { variables?: Record<string, unknown> } | undefined)?.variables ?? {};
    const env = Object.fromEntries(
      Object.entries(variables).filter((e): e is [string, string] => typeof e[1] === 'string'),
    );
    return { name, file, bytes: statSync(file).size, mapBytes: map ? statSync(path.join(dir, map)).size : 0, env };
  });
}

/** Milliseconds for `node -e <code>` in a fresh process, median of `runs` (after one untimed run). */
export function processTime(code: string, args: string[], env: Record<string, string>, runs: number): number {
  const times: number[] = [];
  for (let i = 0; i <= runs; i++) {
    const start = process.hrtime.bigint();
    const r = spawnSync(process.execPath, ['-e', code, ...args], {
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
      throw new Error(`node -e failed (${r.status}): ${r.stderr.toString().trim().split('\n').slice(-2).join(' | ')}`);
    if (i > 0) times.push(ms);
  }
  return median(times);
}

const LOAD =
  "const m = require(process.argv[1]); if (typeof m.handler !== 'function') { console.error('no handler export'); process.exit(3); }";

export async function benchColdStart(options: { runs: number }, notes: string[]): Promise<BenchRow[]> {
  const outdir = mkdtempSync(path.join(tmpdir(), 'acm-export-bench-bundles-'));
  try {
    const started = Date.now();
    const bundles = bundleHandlers(outdir);
    const bundleSeconds = (Date.now() - started) / 1000;
    const empty = processTime('0', [], {}, options.runs);
    const rows: BenchRow[] = [
      row(
        'cold-start',
        'fresh node process, nothing loaded (reference)',
        'ms',
        Math.round(empty),
        undefined,
        `median of ${options.runs}`,
      ),
    ];
    for (const b of bundles) {
      const ms = processTime(LOAD, [b.file], b.env, options.runs);
      rows.push(
        row(
          'cold-start',
          `load bundled handler in a fresh node, ${b.name}`,
          'ms',
          Math.round(ms),
          undefined,
          `median of ${options.runs}; ${(b.bytes / 1024).toFixed(0)} KiB minified`,
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
      "No baseline figure: the blog sample's Lambdas are Python, and no Python runtime comparison can be made offline here. On AWS, the Lambda runtime's init phase also includes sandbox start-up, not measured here.",
    );
    return rows;
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}
