/**
 * export / status / certificates / renew against a local API stand-in that verifies SigV4 signatures.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type {
  CertificateTargetView,
  ExportStatusResponse,
  ListCertificatesResponse,
  StartExportResponse,
} from '../../lambda/export-api/api-types';
import { profileRegion, resolveRegion } from '../../cli/api-client';
import { runCli } from './helpers/cli-runner';
import { startFakeApi, TEST_REGION, type FakeApi, type ReceivedRequest, type Route } from './helpers/fake-api';

const ARN = 'arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-1111-2222-3333-444455556666';
const OTHER_ARN = 'arn:aws:acm:eu-west-1:123456789012:certificate/99999999-1111-2222-3333-444455556666';
const EXEC = 'arn:aws:states:eu-west-1:123456789012:execution:ExportWorkflow';

function started(exportId: string): StartExportResponse {
  return { exportId, executionArn: `${EXEC}:${exportId}`, startDate: '2026-11-20T10:00:00.000Z' };
}

function status(partial: Partial<ExportStatusResponse>): ExportStatusResponse {
  return {
    exportId: 'exp-1',
    executionArn: `${EXEC}:exp-1`,
    status: 'RUNNING',
    phase: 'Exporting',
    startDate: '2026-11-20T10:00:00.000Z',
    phases: { exportStarted: '2026-11-20T10:00:00.000Z' },
    certificateArn: ARN,
    certName: 'www',
    target: 'Role=web',
    nodes: { total: 0, completed: 0, failed: 0 },
    failures: [],
    ...partial,
  };
}

function row(partial: Partial<CertificateTargetView>): CertificateTargetView {
  return {
    certificateArn: ARN,
    certName: 'www',
    target: 'Role=web',
    targetTagKey: 'Role',
    targetTagValue: 'web',
    lastSerial: '0a:1b:2c:3d',
    certExpiryDate: '2027-05-01T00:00:00.000Z',
    daysToExpiry: 160,
    lastExportedDate: '2026-11-20T10:00:00.000Z',
    lastDeployStatus: 'Succeeded',
    lastDeployedDate: '2026-11-20T10:05:00.000Z',
    lastExecutionArn: `${EXEC}:exp-1`,
    certDir: '/etc/ssl/certs',
    keyDir: '/etc/ssl/private',
    service: 'nginx',
    verifyPort: 443,
    maxConcurrency: '10%',
    maxErrors: '0',
    ...partial,
  };
}

const post =
  (path: string, reply: (request: ReceivedRequest) => { status: number; body: unknown }): Route =>
  (request) =>
    request.method === 'POST' && request.path === path ? reply(request) : undefined;
const get =
  (path: string, reply: (request: ReceivedRequest) => { status: number; body: unknown }): Route =>
  (request) =>
    request.method === 'GET' && request.path === path ? reply(request) : undefined;

/** Serves the given status bodies one after the other (the last one repeats). */
function statusSequence(sequence: ExportStatusResponse[]): Route {
  let index = 0;
  return get('/exports/exp-1', () => ({ status: 200, body: sequence[Math.min(index++, sequence.length - 1)] }));
}

/** Temporary directories of this file, removed after the suite. */
const tempDirs: string[] = [];
afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

describe('acm-export API commands', () => {
  let api: FakeApi | undefined;
  afterEach(async () => {
    await api?.close();
    api = undefined;
  });

  describe('export', () => {
    const exportArgs = ['export', '--arn', ARN, '--name', 'www', '--tag', 'Role=web'];

    test('posts a signed, validated request and prints the export id', async () => {
      api = await startFakeApi([post('/exports', () => ({ status: 200, body: started('exp-1') }))]);
      const result = await runCli([
        '--endpoint',
        api.url,
        ...exportArgs,
        '--service',
        'nginx',
        '--verify-port',
        '443',
        '--max-concurrency',
        '2',
      ]);
      expect(result).toMatchObject({ code: 0, stdout: 'exp-1\n', stderr: '' });
      expect(api.rejected).toBe(0);
      expect(api.requests).toEqual([
        {
          method: 'POST',
          path: '/exports',
          query: {},
          body: {
            CertificateArn: ARN,
            CertName: 'www',
            TargetTagKey: 'Role',
            TargetTagValue: 'web',
            Service: 'nginx',
            VerifyPort: 443,
            MaxConcurrency: '2',
          },
        },
      ]);
    });

    test('--json prints the StartExportResponse; --dry-run sets DryRun', async () => {
      api = await startFakeApi([post('/exports', () => ({ status: 200, body: started('exp-9') }))]);
      const result = await runCli(['--endpoint', api.url, '--json', ...exportArgs, '--dry-run']);
      expect(result.code).toBe(0);
      expect(JSON.parse(result.stdout)).toEqual(started('exp-9'));
      expect(api.requests[0].body).toMatchObject({ DryRun: true });
    });

    test.each([
      [['--name', '../etc'], 'CertName: must be a plain file name stem'],
      [['--tag', 'aws:role=web'], 'TargetTagKey: must not start with "aws:"'],
      [['--cert-dir', '/etc/../root'], 'CertDir: must be an absolute directory path'],
      [['--verify-port', '70000'], 'VerifyPort: must be an integer from 0 to 65535'],
      [['--service', 'iis'], 'Service: must be one of auto, none, nginx, apache2, httpd'],
    ])('invalid %j is refused locally with the API message, nothing sent', async (extra, message) => {
      api = await startFakeApi([post('/exports', () => ({ status: 200, body: started('never') }))]);
      const args = ['export', '--arn', ARN, '--name', 'www', '--tag', 'Role=web'];
      for (let i = 0; i < extra.length; i += 2) {
        const at = args.indexOf(extra[i]);
        if (at >= 0) args[at + 1] = extra[i + 1];
        else args.push(extra[i], extra[i + 1]);
      }
      const result = await runCli(['--endpoint', api.url, ...args]);
      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr).toContain(`acm-export: export request is invalid: ${message}`);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(api.requests).toHaveLength(0);
    });

    test('a bad ARN and a tag without "=" are refused before any request', async () => {
      api = await startFakeApi([]);
      const badArn = await runCli([
        '--endpoint',
        api.url,
        'export',
        '--arn',
        'arn:aws:acm:eu-west-1:1:cert/x',
        '--name',
        'www',
        '--tag',
        'Role=web',
      ]);
      expect(badArn.code).toBe(1);
      expect(badArn.stderr).toMatch(/CertificateArn: must be the ARN of an ACM certificate.*Fix --arn/);
      const badTag = await runCli(['--endpoint', api.url, ...exportArgs.slice(0, 5), '--tag', 'Roleweb']);
      expect(badTag.code).toBe(1);
      expect(badTag.stderr).toMatch(
        /^acm-export: reading --tag: "Roleweb" is not Key=Value\. Pass the target tag as --tag Key=Value/,
      );
      expect(api.requests).toHaveLength(0);
    });

    test('a wrong secret key gets 403 from the signature check, reported with credential/region hints', async () => {
      api = await startFakeApi([post('/exports', () => ({ status: 200, body: started('exp-1') }))]);
      const result = await runCli(['--endpoint', api.url, ...exportArgs], {
        env: { AWS_SECRET_ACCESS_KEY: 'not-the-secret' },
      });
      expect(result.code).toBe(1);
      expect(api.rejected).toBe(1);
      expect(result.stderr).toMatch(
        /^acm-export: POST \/exports: the API refused the request \(403: The request signature we calculated does not match/,
      );
      expect(result.stderr).toContain('Check the credentials');
      expect(result.stderr).toContain('--region');
      expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
    });

    test('a signature for another region is refused too', async () => {
      api = await startFakeApi([post('/exports', () => ({ status: 200, body: started('exp-1') }))]);
      const result = await runCli(['--endpoint', api.url, '--region', 'us-east-1', ...exportArgs]);
      expect(result.code).toBe(1);
      expect(api.rejected).toBe(1);
      expect(result.stderr).toContain('403');
    });

    test('a 400 from the API prints the API message', async () => {
      api = await startFakeApi([
        post('/exports', () => ({
          status: 400,
          body: {
            message: 'CertificateArn: must be the ARN of an ACM certificate in eu-west-1 and account 123456789012',
          },
        })),
      ]);
      const result = await runCli(['--endpoint', api.url, ...exportArgs]);
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(
        'acm-export: POST /exports: the API rejected the request: CertificateArn: must be the ARN of an ACM certificate in eu-west-1 and account 123456789012. Fix the request and try again.\n',
      );
    });

    test('--debug adds the stack trace of an unexpected error', async () => {
      api = await startFakeApi([post('/exports', () => ({ status: 200, body: started('exp-1') }))]);
      const quiet = await runCli(['--endpoint', api.url, ...exportArgs], {
        fetch: async () => Promise.reject(new Error('socket hang up')),
      });
      expect(quiet.code).toBe(1);
      expect(quiet.stderr.trim().split('\n')).toHaveLength(1);
      expect(quiet.stderr).toMatch(
        /cannot reach http:\/\/127\.0\.0\.1:\d+ \(socket hang up\)\. Check --endpoint or --stack/,
      );
      const loud = await runCli(['--debug', '--endpoint', api.url, ...exportArgs], {
        fetch: async () => Promise.reject(new Error('socket hang up')),
      });
      expect(loud.stderr).toMatch(/\n\s+at /);
    });

    test('--wait shows progress lines and exits 0 on success, polling with a growing, capped interval', async () => {
      const sequence = [
        status({ phase: 'Exporting' }),
        status({ phase: 'Exporting' }),
        status({ phase: 'Installing', nodes: { total: 3, completed: 0, failed: 0 } }),
        status({ phase: 'Polling', nodes: { total: 3, completed: 1, failed: 0 } }),
        status({ phase: 'Polling', nodes: { total: 3, completed: 1, failed: 0 } }),
        status({ phase: 'Polling', nodes: { total: 3, completed: 1, failed: 0 } }),
        status({ phase: 'Polling', nodes: { total: 3, completed: 1, failed: 0 } }),
        status({
          status: 'SUCCEEDED',
          phase: 'Succeeded',
          stopDate: '2026-11-20T10:01:05.000Z',
          serial: '0a:1b:2c:3d',
          notAfter: '2027-05-01T00:00:00.000Z',
          nodes: { total: 3, completed: 3, failed: 0 },
        }),
      ];
      api = await startFakeApi([
        post('/exports', () => ({ status: 200, body: started('exp-1') })),
        statusSequence(sequence),
      ]);
      const now = Date.parse('2026-11-20T10:00:30.000Z');
      const result = await runCli(['--endpoint', api.url, ...exportArgs, '--wait', '--poll-max', '3'], {
        now: () => now,
      });
      expect(result.code).toBe(0);
      expect(result.stdout.split('\n')).toEqual([
        'export exp-1 started',
        'Exporting   nodes 0/0 done, 0 failed  30s',
        'Installing  nodes 0/3 done, 0 failed  30s',
        'Polling     nodes 1/3 done, 0 failed  30s',
        'Succeeded   nodes 3/3 done, 0 failed  1m05s',
        'export exp-1 succeeded: installed on 3/3 node(s), serial 0a:1b:2c:3d, expires 2027-05-01',
        '',
      ]);
      expect(result.sleeps).toEqual([1000, 1500, 2250, 3000, 3000, 3000, 3000]);
    });

    test('--wait exits 1 on failure and prints the failing nodes', async () => {
      api = await startFakeApi([
        post('/exports', () => ({ status: 200, body: started('exp-1') })),
        statusSequence([
          status({ phase: 'Installing', nodes: { total: 2, completed: 0, failed: 0 } }),
          status({
            status: 'FAILED',
            phase: 'Failed',
            nodes: { total: 2, completed: 1, failed: 1 },
            failures: [
              {
                instanceId: 'i-0abc',
                status: 'Failed',
                line: 'nginx -t failed: rolled back to the previous certificate',
              },
            ],
            error: { name: 'InstallFailed', message: '1 of 2 nodes failed' },
          }),
        ]),
      ]);
      const result = await runCli(['--endpoint', api.url, ...exportArgs, '--wait']);
      expect(result.code).toBe(1);
      expect(result.stdout).toContain(
        'export exp-1 failed: 1 of 2 nodes failed\n  i-0abc: Failed (nginx -t failed: rolled back to the previous certificate)\n',
      );
    });

    test("--wait: a config-test failure reads as the step, the node count and the node's line", async () => {
      const line =
        'nginx configuration test failed: nginx: [emerg] unknown directive "sslx" in /etc/nginx/nginx.conf:12; rolled back to the previous files';
      api = await startFakeApi([
        post('/exports', () => ({ status: 200, body: started('exp-1') })),
        statusSequence([
          status({
            status: 'FAILED',
            phase: 'Failed',
            nodes: { total: 3, completed: 3, failed: 1 },
            outcomes: {
              installed: 2,
              unchanged: 0,
              skipped: 0,
              unreported: 0,
              reloaded: { nginx: 2 },
              noWebServer: 0,
              skips: [],
            },
            failures: [
              {
                instanceId: 'i-0abc',
                status: 'Failed',
                step: 'configtest',
                line: `the install script failed on the node: ${line}`,
              },
            ],
            error: {
              name: 'InstallFailed',
              message: `1 of 3 nodes failed at configtest: ${line}; installed on 2; reloaded nginx on 2`,
            },
          }),
        ]),
      ]);
      const result = await runCli(['--endpoint', api.url, ...exportArgs, '--wait']);
      expect(result.code).toBe(1);
      expect(result.stdout).toContain(
        `export exp-1 failed: 1 of 3 nodes failed at configtest: ${line}; installed on 2; reloaded nginx on 2\n`,
      );
      expect(result.stdout).not.toMatch(/[{]"status"/);
    });

    test('--wait: an export every node skipped is not "installed": one line per node, exit 3', async () => {
      const skips = ['i-0aaa', 'i-0bbb', 'i-0ccc'].map((instanceId) => ({
        instanceId,
        reason: 'older than installed',
        installedSerial: '7F00AA',
        installedNotAfter: '2027-06-01T00:00:00Z',
      }));
      api = await startFakeApi([
        post('/exports', () => ({ status: 200, body: started('exp-1') })),
        statusSequence([
          status({
            status: 'FAILED',
            phase: 'Failed',
            nodes: { total: 3, completed: 3, failed: 0 },
            outcomes: { installed: 0, unchanged: 0, skipped: 3, unreported: 0, reloaded: {}, noWebServer: 0, skips },
            failures: [],
            error: { name: 'InstallFailed', message: 'installed on 0/3 node(s); 3 skipped: ...' },
          }),
        ]),
      ]);
      const result = await runCli(['--endpoint', api.url, ...exportArgs, '--wait']);
      expect(result.code).toBe(3);
      const held = '(the node holds a newer certificate (serial 7F00AA, not after 2027-06-01T00:00:00Z))';
      expect(result.stdout.split('\n').slice(-5)).toEqual([
        'export exp-1: installed on 0/3 node(s); 3 skipped: the node holds a newer certificate (serial 7F00AA, not after 2027-06-01T00:00:00Z)',
        `  i-0aaa: skipped ${held}`,
        `  i-0bbb: skipped ${held}`,
        `  i-0ccc: skipped ${held}`,
        '',
      ]);
      expect(result.stdout).not.toContain('succeeded');
    });

    test('--wait: a success says where it was installed and which web server was reloaded', async () => {
      api = await startFakeApi([
        post('/exports', () => ({ status: 200, body: started('exp-1') })),
        statusSequence([
          status({
            status: 'SUCCEEDED',
            phase: 'Succeeded',
            nodes: { total: 4, completed: 4, failed: 0 },
            outcomes: {
              installed: 2,
              unchanged: 1,
              skipped: 0,
              unreported: 1,
              reloaded: { nginx: 2 },
              noWebServer: 1,
              skips: [],
            },
          }),
        ]),
      ]);
      const result = await runCli(['--endpoint', api.url, ...exportArgs, '--wait']);
      expect(result.code).toBe(0);
      expect(result.stdout).toContain(
        'export exp-1 succeeded: installed on 4/4 node(s) (1 already had it, 1 gave no details)\n' +
          '  reloaded nginx on 2 nodes\n' +
          '  no running web server found on 1 node: files installed, no reload\n',
      );
    });

    test('--wait --json prints only the final status', async () => {
      const final = status({ status: 'SUCCEEDED', phase: 'DryRun', nodes: { total: 4, completed: 0, failed: 0 } });
      api = await startFakeApi([
        post('/exports', () => ({ status: 200, body: started('exp-1') })),
        statusSequence([status({}), final]),
      ]);
      const result = await runCli(['--endpoint', api.url, '--json', ...exportArgs, '--dry-run', '--wait']);
      expect(result.code).toBe(0);
      expect(JSON.parse(result.stdout)).toEqual(final);
    });

    test('on a TTY the progress line is rewritten in place', async () => {
      api = await startFakeApi([
        post('/exports', () => ({ status: 200, body: started('exp-1') })),
        statusSequence([
          status({}),
          status({ status: 'SUCCEEDED', phase: 'Succeeded', nodes: { total: 1, completed: 1, failed: 0 } }),
        ]),
      ]);
      const result = await runCli(['--endpoint', api.url, ...exportArgs, '--wait'], { tty: true });
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('\r\x1b[2KExporting');
      expect(result.stdout).toContain('\r\x1b[2KSucceeded');
    });
  });

  describe('status', () => {
    test('human and JSON output; exit 1 for a failed export', async () => {
      const failed = status({
        status: 'FAILED',
        phase: 'Failed',
        error: { name: 'CertificateNotExportable', message: 'the certificate was not created with export enabled' },
      });
      api = await startFakeApi([get('/exports/exp-1', () => ({ status: 200, body: failed }))]);
      const human = await runCli(['--endpoint', api.url, 'status', 'exp-1']);
      expect(human.code).toBe(1);
      expect(human.stdout).toContain('status      FAILED (Failed)');
      expect(human.stdout).toContain('CertificateNotExportable: the certificate was not created with export enabled');
      const json = await runCli(['--endpoint', api.url, '--json', 'status', 'exp-1']);
      expect(json.code).toBe(1);
      expect(JSON.parse(json.stdout)).toEqual(failed);
    });

    test('a running export exits 0; an unknown id is a one-line 404 error', async () => {
      api = await startFakeApi([
        get('/exports/exp-1', () => ({
          status: 200,
          body: status({ phase: 'Installing', nodes: { total: 5, completed: 2, failed: 0 } }),
        })),
        get('/exports/nope', () => ({ status: 404, body: { message: 'no export nope' } })),
      ]);
      const running = await runCli(['--endpoint', api.url, 'status', 'exp-1']);
      expect(running.code).toBe(0);
      expect(running.stdout).toContain('nodes 2/5 done, 0 failed');
      const missing = await runCli(['--endpoint', api.url, 'status', 'nope']);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toBe(
        'acm-export: GET /exports/nope: not found (404: no export nope). Check the id or ARN, and that --endpoint or --stack points at the right deployment.\n',
      );
    });

    test('status --wait polls until the end', async () => {
      api = await startFakeApi([
        statusSequence([
          status({}),
          status({ status: 'SUCCEEDED', phase: 'Succeeded', nodes: { total: 1, completed: 1, failed: 0 } }),
        ]),
      ]);
      const result = await runCli(['--endpoint', api.url, 'status', 'exp-1', '--wait']);
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('export exp-1 succeeded');
    });
  });

  describe('certificates', () => {
    const page1: ListCertificatesResponse = {
      items: [row({}), row({ target: 'Role=api', targetTagValue: 'api', lastDeployStatus: 'Failed' })],
      nextToken: 'tok+/=',
    };
    const page2: ListCertificatesResponse = {
      items: [
        row({
          certificateArn: OTHER_ARN,
          certName: 'api',
          daysToExpiry: 12,
          lastDeployStatus: undefined,
          lastDeployedDate: undefined,
        }),
      ],
    };
    const pages: Route = get('/certificates', (request) => ({
      status: 200,
      body: request.query.nextToken === 'tok+/=' ? page2 : page1,
    }));

    test('prints a table with a short ARN, and hints at --all when there are more pages', async () => {
      api = await startFakeApi([pages]);
      const result = await runCli(['--endpoint', api.url, 'certificates']);
      expect(result.code).toBe(0);
      const lines = result.stdout.trimEnd().split('\n');
      expect(lines[0]).toMatch(/^NAME\s+ARN\s+TARGET\s+SERIAL\s+EXPIRES\s+DAYS LEFT\s+LAST DEPLOY$/);
      expect(lines[1]).toMatch(
        /^www\s+eu-west-1\/0a1b2c3d…\s+Role=web\s+0a:1b:2c:3d\s+2027-05-01\s+160\s+Succeeded 2026-11-20$/,
      );
      expect(lines[2]).toContain('Failed');
      expect(lines[3]).toBe('(more rows: run with --all to list every page)');
    });

    test('--all follows nextToken; --expiring-within is passed to the API; --json', async () => {
      api = await startFakeApi([pages]);
      const result = await runCli([
        '--endpoint',
        api.url,
        '--json',
        'certificates',
        '--all',
        '--expiring-within',
        '30',
      ]);
      expect(result.code).toBe(0);
      expect(JSON.parse(result.stdout)).toEqual({ items: [...page1.items, ...page2.items] });
      expect(api.requests.map((request) => request.query)).toEqual([
        { expiringWithinDays: '30' },
        { expiringWithinDays: '30', nextToken: 'tok+/=' },
      ]);
      expect(api.rejected).toBe(0);
    });

    test('an invalid --expiring-within is a usage error', async () => {
      const result = await runCli(['--endpoint', 'http://127.0.0.1:9/', 'certificates', '--expiring-within', 'soon']);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/^acm-export: invalid command line: .*--expiring-within must be an integer/);
    });
  });

  describe('renew', () => {
    test('starts one export per stored target of the ARN, with the stored options', async () => {
      const rows = [
        row({}),
        row({ certificateArn: OTHER_ARN, certName: 'other' }),
        row({
          target: 'Env=prod',
          targetTagKey: 'Env',
          targetTagValue: 'prod',
          service: 'none',
          verifyPort: 0,
          certDir: '/opt/certs',
          maxErrors: '10%',
        }),
      ];
      let n = 0;
      api = await startFakeApi([
        get('/certificates', (request) => ({
          status: 200,
          body: request.query.nextToken ? { items: rows.slice(2) } : { items: rows.slice(0, 2), nextToken: 'p2' },
        })),
        post('/exports', () => ({ status: 200, body: started(`exp-${++n}`) })),
      ]);
      const result = await runCli(['--endpoint', api.url, 'renew', ARN]);
      expect(result).toMatchObject({ code: 0, stdout: 'Role=web  exp-1\nEnv=prod  exp-2\n', stderr: '' });
      const posts = api.requests.filter((request) => request.method === 'POST').map((request) => request.body);
      expect(posts).toEqual([
        {
          CertificateArn: ARN,
          CertName: 'www',
          TargetTagKey: 'Role',
          TargetTagValue: 'web',
          CertDir: '/etc/ssl/certs',
          KeyDir: '/etc/ssl/private',
          Service: 'nginx',
          VerifyPort: 443,
          MaxConcurrency: '10%',
          MaxErrors: '0',
        },
        {
          CertificateArn: ARN,
          CertName: 'www',
          TargetTagKey: 'Env',
          TargetTagValue: 'prod',
          CertDir: '/opt/certs',
          KeyDir: '/etc/ssl/private',
          Service: 'none',
          VerifyPort: 0,
          MaxConcurrency: '10%',
          MaxErrors: '10%',
        },
      ]);
    });

    test('--json lists every export; a failed POST exits 1 but the other targets still run', async () => {
      let n = 0;
      api = await startFakeApi([
        get('/certificates', () => ({
          status: 200,
          body: { items: [row({}), row({ target: 'Env=prod', targetTagKey: 'Env', targetTagValue: 'prod' })] },
        })),
        post('/exports', (request) =>
          (request.body as { TargetTagKey: string }).TargetTagKey === 'Role'
            ? { status: 429, body: { message: 'Too Many Requests' } }
            : { status: 200, body: started(`exp-${++n}`) },
        ),
      ]);
      const result = await runCli(['--endpoint', api.url, '--json', 'renew', ARN]);
      expect(result.code).toBe(1);
      const out = JSON.parse(result.stdout) as { exports: { target: string; exportId?: string; error?: string }[] };
      expect(out.exports[0]).toMatchObject({ target: 'Role=web', error: expect.stringContaining('throttling') });
      expect(out.exports[1]).toMatchObject({ target: 'Env=prod', exportId: 'exp-1' });
      expect(result.stderr).toContain(
        'acm-export: POST /exports for target Role=web: the API is throttling requests (429: Too Many Requests). Wait a little and try again.',
      );
    });

    test('a certificate without stored targets is an error; nothing is posted', async () => {
      api = await startFakeApi([
        get('/certificates', () => ({ status: 200, body: { items: [row({ certificateArn: OTHER_ARN })] } })),
      ]);
      const result = await runCli(['--endpoint', api.url, 'renew', ARN]);
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(
        `acm-export: renew ${ARN}: the certificate has no stored targets. Export it once with "acm-export export --arn ARN --name NAME --tag Key=Value"; later renewals reuse that target.\n`,
      );
      expect(api.requests.filter((request) => request.method === 'POST')).toHaveLength(0);
    });

    test('an ARN that is not a certificate ARN is refused before any request', async () => {
      api = await startFakeApi([]);
      const result = await runCli(['--endpoint', api.url, 'renew', 'arn:aws:s3:::bucket']);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/^acm-export: reading ARN: must be the ARN of an ACM certificate/);
      expect(api.requests).toHaveLength(0);
    });
  });

  describe('endpoint, region and usage', () => {
    test('--stack finds the API URL in the stack outputs', async () => {
      api = await startFakeApi([get('/certificates', () => ({ status: 200, body: { items: [] } }))]);
      const url = api.url;
      const lookups: unknown[] = [];
      const result = await runCli(['--stack', 'AcmExport', 'certificates'], {
        stackOutputs: async (...args) => {
          lookups.push(args);
          return { ApiUrl: url };
        },
      });
      expect(result).toMatchObject({ code: 0, stdout: 'no certificates exported yet\n' });
      expect(lookups).toEqual([['AcmExport', TEST_REGION, undefined]]);
    });

    test('--stack without an ApiUrl output, and no endpoint at all, are one-line errors', async () => {
      const noOutput = await runCli(['--stack', 'Other', 'certificates'], {
        stackOutputs: async () => ({ TableName: 't' }),
      });
      expect(noOutput.code).toBe(1);
      expect(noOutput.stderr).toBe(
        'acm-export: looking up stack Other: the stack has no output named ApiUrl. Check that this is the acm-export stack and that it deployed completely, or pass --endpoint.\n',
      );
      const none = await runCli(['certificates']);
      expect(none.stderr).toBe(
        'acm-export: finding the API: no endpoint given. Pass --endpoint URL or --stack NAME (or set ACM_EXPORT_ENDPOINT).\n',
      );
    });

    test('no region anywhere is reported before signing', async () => {
      const result = await runCli(['--endpoint', 'http://127.0.0.1:9/', 'certificates'], {
        env: { AWS_REGION: undefined, AWS_DEFAULT_REGION: undefined },
      });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('no AWS region is set. Pass --region');
    });

    test('region: --region, execute-api host, env, then the profile', () => {
      const dir = mkdtempSync(join(tmpdir(), 'acm-export-cli-'));
      tempDirs.push(dir);
      const config = join(dir, 'config');
      writeFileSync(config, '[default]\nregion = eu-central-1\n\n[profile ops]\n# comment\nregion=ap-southeast-2\n');
      const env = { AWS_CONFIG_FILE: config };
      const apiUrl = new URL('https://abc123.execute-api.us-west-2.amazonaws.com/prod/');
      expect(resolveRegion({ region: 'eu-west-3' }, { AWS_REGION: 'x' }, undefined, apiUrl)).toBe('eu-west-3');
      expect(resolveRegion({}, { AWS_REGION: 'eu-west-1' }, undefined, apiUrl)).toBe('us-west-2');
      expect(resolveRegion({}, { AWS_DEFAULT_REGION: 'eu-north-1', ...env }, undefined, undefined)).toBe('eu-north-1');
      expect(resolveRegion({}, env, 'ops', undefined)).toBe('ap-southeast-2');
      expect(profileRegion(env, undefined)).toBe('eu-central-1');
      expect(profileRegion(env, 'missing')).toBeUndefined();
    });

    test('--help and --version exit 0; every command has help with examples', async () => {
      const help = await runCli(['--help']);
      expect(help.code).toBe(0);
      expect(help.stdout).toContain('Usage: acm-export');
      for (const command of [
        ['export'],
        ['status'],
        ['certificates'],
        ['renew'],
        ['doctor'],
        ['local'],
        ['local', 'up'],
        ['local', 'renew'],
        ['local', 'demo'],
        ['local', 'ca'],
        ['local', 'associations', 'run'],
        ['local', 'drift-check'],
      ]) {
        const result = await runCli([...command, '--help']);
        expect(result.code).toBe(0);
        expect(result.stdout).toContain('Examples:');
      }
      const up = (await runCli(['local', 'up', '--help'])).stdout;
      const stateDirHelp = up.slice(up.indexOf('--state-dir'), up.indexOf('-h, --help'));
      expect(stateDirHelp.match(/default/g)).toHaveLength(1);
      expect((await runCli(['--version'])).stdout).toBe('0.1.0\n');
    });

    test('unknown commands and options are one-line usage errors with exit 1', async () => {
      const unknown = await runCli(['exprot']);
      expect(unknown.code).toBe(1);
      expect(unknown.stderr).toMatch(
        /^acm-export: invalid command line: unknown command 'exprot'.*Run "acm-export --help"/,
      );
      expect(unknown.stderr.trim().split('\n')).toHaveLength(1);
      const missing = await runCli(['export', '--name', 'www']);
      expect(missing.stderr).toMatch(/required option '--arn <arn>' not specified/);
      expect(missing.code).toBe(1);
    });

    test('extra command modules can be registered (hook for other command groups)', async () => {
      const { run } = await import('../../cli/main');
      let out = '';
      const code = await run(
        ['hello', 'world'],
        { stdout: { write: (text: string) => (out += text) }, stderr: { write: () => true } },
        [
          (program, context) => {
            program
              .command('hello')
              .argument('<who>')
              .action((who: string) => {
                context.io.stdout.write(`hello ${who}\n`);
                context.exit(0);
              });
          },
        ],
      );
      expect(code).toBe(0);
      expect(out).toBe('hello world\n');
    });
  });
});
