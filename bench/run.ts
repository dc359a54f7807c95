/**
 * `npm run bench`: the project's figures side by side with the baseline design (the AWS blog sample:
 * renewal lookup by Scan, a fixed 15-second status loop, per-invocation status listing).
 *
 *   npm run bench                     every section, full sizes
 *   npm run bench -- --quick          smaller sizes and fewer runs
 *   npm run bench -- --only renewal   one section (repeat --only, or comma-separate, for several)
 *   npm run bench -- --only test-suite   the npm test wall time (opt-in: runs only when named)
 *   npm run bench -- --only runs      script runs, secret fetches and decrypts per node per renewal
 *   npm run bench -- --only node-aws     CPU per call of a local node's aws (opt-in)
 *   npm run bench -- --json           also print one JSON object as the last line
 *
 * Loopback only: dynalite, the local AWS emulator, local nodes. Progress goes to stderr.
 */
import './start-env';
import { availableParallelism, cpus } from 'node:os';
import { benchColdStart } from './cold-start';
import { benchCompletion, FINISH_TIMES } from './completion';
import { benchControlPlane } from './control-plane';
import { benchEndToEnd } from './e2e';
import { benchAwsShim } from './aws-shim';
import { benchInstall } from './install';
import { benchRenewal } from './renewal';
import { benchRuns } from './runs';
import { benchTestSuite } from './test-suite';
import { renderTable, type BenchRow, type SectionResult } from './report';

interface Options {
  json: boolean;
  quick: boolean;
  only: string[];
}

type SectionRunner = (notes: string[]) => Promise<BenchRow[] | string>;

export interface Section {
  name: string;
  title: string;
  run: (quick: boolean) => SectionRunner;
  /** Runs only when named with --only (it takes minutes). */
  optIn?: boolean;
}

export const SECTIONS: readonly Section[] = [
  {
    name: 'renewal',
    title: 'Renewal lookup (Query vs Scan)',
    run: (quick) => (notes) =>
      benchRenewal({ sizes: quick ? [1_000, 10_000] : [1_000, 10_000, 50_000], runs: quick ? 3 : 7 }, notes),
  },
  {
    name: 'completion',
    title: 'Completion detection (backoff vs fixed 15 s)',
    run: (quick) => (notes) => benchCompletion({ msPerSecond: quick ? 20 : 50, finishTimes: FINISH_TIMES }, notes),
  },
  {
    name: 'control-plane',
    title: 'Control-plane calls per poll, transitions per export',
    run: (quick) => (notes) =>
      benchControlPlane(
        { fleets: [1, 50, 500, 2_000], polls: quick ? 5 : 15, msPerSecond: quick ? 20 : 50, rolloutSeconds: 60 },
        notes,
      ),
  },
  {
    name: 'install',
    title: 'Node install',
    run: (quick) => (notes) => benchInstall({ runs: quick ? 5 : 20 }, notes),
  },
  {
    name: 'cold-start',
    title: 'Lambda cold start proxy',
    run: (quick) => (notes) => benchColdStart({ runs: quick ? 3 : 10 }, notes),
  },
  {
    name: 'e2e',
    title: 'End to end in local mode',
    run: (quick) => (notes) => benchEndToEnd({ fleets: quick ? [1, 3] : [1, 3, 10] }, notes),
  },
  {
    name: 'test-suite',
    title: 'Test suite wall time (npm test)',
    run: () => (notes) => benchTestSuite(notes),
    optIn: true,
  },
  {
    name: 'runs',
    title: 'Runs, secret fetches and decrypts per node per renewal',
    run: (quick) => (notes) => benchRuns({ nodes: quick ? 2 : 3 }, notes),
  },
  {
    name: 'node-aws',
    title: "Local node's aws, CPU per call",
    run: (quick) => (notes) => benchAwsShim({ runs: quick ? 5 : 20 }, notes),
    optIn: true,
  },
];

/** The sections a run covers: the named ones, or every section that is not opt-in. */
export function selectSections(only: readonly string[]): Section[] {
  return SECTIONS.filter((s) => (only.length === 0 ? !s.optIn : only.includes(s.name)));
}

export function parseArgs(argv: readonly string[]): Options {
  const options: Options = { json: false, quick: false, only: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--json') options.json = true;
    else if (arg === '--quick') options.quick = true;
    else if (arg === '--only' || arg.startsWith('--only=')) {
      const value = arg === '--only' ? argv[++i] : arg.slice('--only='.length);
      if (!value) throw new Error('--only needs a section name');
      options.only.push(
        ...value
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
      );
    } else throw new Error(`unknown argument ${arg} (use --json, --quick, --only <section>)`);
  }
  const known = new Set(SECTIONS.map((s) => s.name));
  const unknown = options.only.filter((n) => !known.has(n));
  if (unknown.length) throw new Error(`unknown section ${unknown.join(', ')}; sections: ${[...known].join(', ')}`);
  return options;
}

export function machine(): { date: string; nproc: number; cpu: string; node: string; platform: string } {
  return {
    date: new Date().toISOString().slice(0, 10),
    nproc: availableParallelism(),
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  };
}

async function main(): Promise<number> {
  const options = parseArgs(process.argv.slice(2));
  const host = machine();
  const selected = selectSections(options.only);
  const results: SectionResult[] = [];
  let failed = false;
  for (const section of selected) {
    process.stderr.write(`bench: ${section.name} ...\n`);
    const notes: string[] = [];
    const start = Date.now();
    let rows: BenchRow[] = [];
    let skipped: string | undefined;
    try {
      const out = await section.run(options.quick)(notes);
      if (typeof out === 'string') skipped = out;
      else rows = out;
    } catch (error) {
      failed = true;
      skipped = `failed: ${error instanceof Error ? error.message : String(error)}`.slice(0, 300);
    }
    const durationMs = Date.now() - start;
    process.stderr.write(
      `bench: ${section.name} ${skipped ? skipped : 'done'} in ${(durationMs / 1000).toFixed(1)} s\n`,
    );
    results.push({
      name: section.name,
      title: section.title,
      rows,
      notes,
      durationMs,
      ...(skipped ? { skipped } : {}),
    });
  }
  const out = process.stdout;
  out.write(
    `\nacm-export benchmarks, ${host.date}: ${host.nproc} CPUs (${host.cpu}), Node ${host.node}, ${host.platform}${options.quick ? ', --quick sizes' : ''}\n\n`,
  );
  out.write(`${renderTable(results)}\n`);
  if (options.json) out.write(`${JSON.stringify({ machine: host, quick: options.quick, sections: results })}\n`);
  return failed ? 1 : 0;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(2);
    },
  );
}
