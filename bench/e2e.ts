/**
 * 6. End to end in local mode: request an exportable certificate, POST the export through the signed local
 * API, follow it until SUCCEEDED, and check over TLS that every node serves the new serial (then the same
 * for an ACM renewal). Uses the local-mode demo (local/demo.ts) with 1, 3 and 10 nodes.
 */
import { runDemo, type DemoSummary } from '../local/demo';
import { row, type BenchRow } from './report';

const quiet = { write: (): boolean => true };

export async function runLocalDemo(nodes: number): Promise<DemoSummary> {
  return runDemo({ stdout: quiet, fetch: (input, init) => fetch(input, init) }, { nodes, json: false });
}

export async function benchEndToEnd(options: { fleets: number[] }, notes: string[]): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  let server = '';
  for (const n of options.fleets) {
    const s = await runLocalDemo(n);
    if (!s.ok) throw new Error(`local demo with ${n} nodes did not succeed`);
    server = s.server;
    const label = `${n} node${n === 1 ? '' : 's'}`;
    rows.push(
      row(
        'e2e',
        `POST export → every node serves it (TLS-verified), ${label}`,
        'ms',
        s.timingsMs.exportToVerified,
        undefined,
      ),
    );
    rows.push(
      row('e2e', `ACM renewal → every node serves it, ${label}`, 'ms', s.timingsMs.renewalToVerified, undefined),
    );
    rows.push(row('e2e', `local mode start-up, ${label}`, 'ms', s.timingsMs.startup, undefined));
  }
  notes.push(
    `Local mode (\`acm-export local demo\` flow): real handlers, the real definition on aws-local-stepfunctions, the real install document on local nodes (${server === 'nginx' ? 'nginx' : 'built-in HTTPS server'}), signed local API. ` +
      'Workflow waits and SSM timeouts are scaled (1 s = 50 ms), so these are not AWS wall-clock times. No baseline figure: the blog sample cannot run locally.',
  );
  return rows;
}
