/**
 * CPU cost of a local node's `aws` (local/nodes/shims.ts): `aws --version`, `get-secret-value` and
 * `describe-secret` against the local emulator, each called `runs` times in one bash whose `times` builtin
 * gives the children's user + system CPU. Wall time includes the emulator's answer on the same machine.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { startAwsEmulator } from '../local/aws-emulator';
import { writeAwsShim } from '../local/nodes/shims';
import { row, type BenchRow } from './report';

export interface ShimCost {
  /** CPU (user + system) per call, ms. */
  cpuMs: number;
  /** Wall time per call, ms. */
  wallMs: number;
}

export interface ShimCosts {
  version: ShimCost;
  getSecretValue: ShimCost;
  /** Absent for a shim without describe-secret (the one before it). */
  describeSecret?: ShimCost;
}

/** Seconds from bash `times` ("0m0.123s"). */
function seconds(text: string): number {
  const m = /^(\d+)m([\d.]+)s$/.exec(text);
  if (!m) throw new Error(`unexpected times output ${text}`);
  return Number(m[1]) * 60 + Number(m[2]);
}

async function measure(bin: string, env: NodeJS.ProcessEnv, args: string[], runs: number): Promise<ShimCost> {
  const started = process.hrtime.bigint();
  // Asynchronous: the emulator answering the calls runs in this process.
  const { stdout: out } = await promisify(execFile)(
    'bash',
    [
      // --norc: bash reads ~/.bashrc when its stdin is a socket (as here), and that may put another aws first.
      '--norc',
      '-c',
      'n=$1; shift; for ((i = 0; i < n; i++)); do aws "$@" >/dev/null || exit 1; done; times',
      'bench',
      String(runs),
      ...args,
    ],
    { env: { ...env, PATH: `${bin}:${env.PATH ?? '/usr/bin:/bin'}` }, encoding: 'utf8' },
  );
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6 / runs;
  const children = out.trim().split('\n').pop()!.trim().split(/\s+/);
  return { cpuMs: ((seconds(children[0]) + seconds(children[1])) * 1000) / runs, wallMs };
}

/** Measures the shim `write` produces (default: the current one); `env` adds to the node's environment. */
export async function measureAwsShim(
  runs: number,
  write: (file: string) => void = writeAwsShim,
  env: Record<string, string> = {},
  withDescribe = true,
): Promise<ShimCosts> {
  const dir = mkdtempSync(path.join(tmpdir(), 'acm-export-shim-bench-'));
  const aws = await startAwsEmulator({ faults: { throttle: {}, notExportable: [], pending: [], nodes: {} } });
  try {
    const sm = new SecretsManagerClient(aws.clientConfig());
    await sm.send(new CreateSecretCommand({ Name: 'bench/shim', SecretString: 'x'.repeat(6000) }));
    write(path.join(dir, 'aws'));
    const nodeEnv: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      AWS_REGION: aws.region,
      AWS_ENDPOINT_URL: aws.endpoint,
      AWS_ACCESS_KEY_ID: aws.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: aws.credentials.secretAccessKey,
      ...env,
    };
    const id = ['--region', aws.region, '--secret-id', 'bench/shim'];
    return {
      version: await measure(dir, nodeEnv, ['--version'], runs),
      getSecretValue: await measure(
        dir,
        nodeEnv,
        ['secretsmanager', 'get-secret-value', ...id, '--query', 'SecretString', '--output', 'text'],
        runs,
      ),
      ...(withDescribe
        ? {
            describeSecret: await measure(
              dir,
              nodeEnv,
              ['secretsmanager', 'describe-secret', ...id, '--query', 'VersionIdsToStages', '--output', 'json'],
              runs,
            ),
          }
        : {}),
    };
  } finally {
    await aws.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Rows for `npm run bench -- --only node-aws`: CPU and wall time per call of the local node's `aws`. */
export async function benchAwsShim(options: { runs: number }, notes: string[]): Promise<BenchRow[]> {
  const c = await measureAwsShim(options.runs);
  notes.push(
    "CPU (user + system of the call and its children) per call of the local node's aws against the local emulator. Before it signed requests itself it loaded the AWS SDK on every call and started Node for `aws --version`: 90 ms and 23 ms of CPU per call on the same machine (2026-12-05).",
  );
  const calls: [string, ShimCost | undefined][] = [
    ['aws --version', c.version],
    ['get-secret-value --query SecretString --output text', c.getSecretValue],
    ['describe-secret --query VersionIdsToStages --output json', c.describeSecret],
  ];
  return calls.flatMap(([call, cost]) =>
    cost
      ? [
          row(
            'node-aws',
            `${call}: CPU per call`,
            'ms',
            cost.cpuMs,
            undefined,
            `mean of ${options.runs}; wall ${cost.wallMs.toFixed(1)} ms`,
          ),
        ]
      : [],
  );
}
