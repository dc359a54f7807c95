/**
 * `acm-export local demo`: local mode with 3 nodes; request an exportable certificate; POST an export through
 * the signed API with the CLI's own client; follow it per phase and per node; check over TLS that every
 * node serves the new serial; renew; check again; print a summary (`--json`: the last line is JSON).
 */
import { ACMClient, RequestCertificateCommand } from '@aws-sdk/client-acm';
import { DEFAULT_EXPORT_TAG } from '../lambda/shared/export-opt-in';
import { ListCommandInvocationsCommand, SSMClient } from '@aws-sdk/client-ssm';
import * as path from 'node:path';
import type { ExportStatusResponse, StartExportResponse } from '../lambda/export-api/api-types';
import { ApiClient } from '../cli/api-client';
import type { CliIo } from '../cli/context';
import { validateExportRequest } from '../cli/export';
import { nginxAvailable } from './nodes';
import { rootCaLines } from './root-ca';
import type { LocalModeOptions } from './options';
import { startLocalMode, type LocalMode } from './runtime';

export interface DemoSummary {
  ok: boolean;
  server: 'nginx' | 'builtin';
  nodes: { name: string; instanceId: string; port: number; files: string[] }[];
  certificateArn: string;
  serials: { exported: string; renewed: string };
  timingsMs: {
    startup: number;
    requestCertificate: number;
    exportToVerified: number;
    renewalToVerified: number;
    total: number;
  };
  exports: { exportId: string; phases: ExportStatusResponse['phases'] }[];
}

export interface DemoOptions extends Pick<LocalModeOptions, 'nginx' | 'stateDir' | 'waitScale'> {
  json?: boolean;
  nodes?: number;
  /** Called with the start of local mode as it begins (the CLI closes it on Ctrl-C, even mid-start). */
  onStart?: (starting: Promise<LocalMode>) => void;
}

const POLL_MS = 50;
const DEMO_DOMAIN = 'www.demo.acm-export.test';
const TIMEOUT_MS = 60_000;

/** Colon hex as ACM shows it → the upper-case hex Node's TLS reports. */
const plainSerial = (serial: string): string => serial.replace(/:/g, '').toUpperCase();

/**
 * Requests an exportable public certificate in (local) ACM, opted in to export (the tag the API requires
 * before it accepts a certificate); resolves with its ARN.
 */
export async function requestExportableCertificate(acm: ACMClient, domainName: string): Promise<string> {
  const requested = await acm.send(
    new RequestCertificateCommand({
      DomainName: domainName,
      Options: { Export: 'ENABLED' },
      Tags: [{ Key: DEFAULT_EXPORT_TAG.key, Value: DEFAULT_EXPORT_TAG.value }],
    }),
  );
  if (!requested.CertificateArn) throw new Error(`ACM returned no certificate ARN for ${domainName}`);
  return requested.CertificateArn;
}

export async function runDemo(io: Pick<CliIo, 'stdout' | 'fetch'>, options: DemoOptions = {}): Promise<DemoSummary> {
  const say = (line: string): void => {
    io.stdout.write(`${line}\n`);
  };
  const t0 = Date.now();
  const starting = startLocalMode({
    nodes: options.nodes ?? 3,
    tags: { Role: 'web' },
    nginx: options.nginx ?? 'auto',
    stateDir: options.stateDir,
    waitScale: options.waitScale,
  });
  options.onStart?.(starting);
  const local = await starting;
  const acm = new ACMClient(local.aws.clientConfig());
  const ssm = new SSMClient(local.aws.clientConfig());
  try {
    const startup = Date.now() - t0;
    const serverName =
      local.serverKind === 'nginx'
        ? 'nginx'
        : `the built-in Node HTTPS server (${nginxAvailable() ? 'nginx not used' : 'nginx is not installed'})`;
    say(
      `local mode up in ${ms(startup)}: ${local.nodes.length} nodes tagged Role=web, each serving HTTPS with ${serverName}`,
    );
    for (const n of local.nodes) say(`  ${n.name}  ${n.instanceId}  https://127.0.0.1:${n.port}/`);
    say(
      `  API ${local.apiEndpoint} (region ${local.region}, SigV4 with the local key ${local.credentials.accessKeyId})`,
    );
    for (const line of rootCaLines(local.rootCaFile, local.rootCaFingerprint, local.nodes[0]?.port, DEMO_DOMAIN))
      say(line);

    // 1. An exportable public certificate from (local) ACM.
    const t1 = Date.now();
    const certificateArn = await requestExportableCertificate(acm, DEMO_DOMAIN);
    const requestCertificate = Date.now() - t1;
    say(`certificate requested (${ms(requestCertificate)}): ${certificateArn}`);

    // 2. Export through the signed API, with the CLI's own client and validation.
    const api = new ApiClient({
      endpoint: new URL(local.apiEndpoint),
      region: local.region,
      credentials: { ...local.credentials },
      fetch: io.fetch,
    });
    const t2 = Date.now();
    const body = validateExportRequest({
      CertificateArn: certificateArn,
      CertName: local.certName,
      TargetTagKey: 'Role',
      TargetTagValue: 'web',
      Service: 'nginx',
      VerifyPort: 443,
      MaxConcurrency: '100%',
    });
    const released = await releaseCertName(api, { target: 'Role=web', certName: local.certName, keep: certificateArn });
    if (released.length > 0)
      say(`CertName ${local.certName} on Role=web was held by an earlier run: deleted ${released.join(', ')}`);
    const started = await api.request<StartExportResponse>('POST', '/exports', { body });
    say(`export ${started.exportId} started`);
    const exported = await follow(local, api, ssm, started.exportId, say);
    const serial = local.aws.acm.current(certificateArn)!.serial;
    await verifyServed(local, serial, say);
    const exportToVerified = Date.now() - t2;
    say(`export verified on every node in ${ms(exportToVerified)}: serial ${serial}`);

    // 3. Renewal: ACM re-issues, the renewal event starts one export per stored target.
    const t3 = Date.now();
    const { result } = await local.renew(certificateArn);
    const renewedSerial = local.aws.acm.current(certificateArn)!.serial;
    say(
      `certificate renewed by ACM: new serial ${renewedSerial}; "ACM Certificate Available" delivered, ${result.started} export(s) started`,
    );
    const renewals: ExportStatusResponse[] = [];
    for (const arn of result.executionArns)
      renewals.push(await follow(local, api, ssm, arn.slice(arn.lastIndexOf(':') + 1), say));
    await verifyServed(local, renewedSerial, say);
    const renewalToVerified = Date.now() - t3;
    say(`renewal verified on every node in ${ms(renewalToVerified)}`);

    const summary: DemoSummary = {
      ok: true,
      server: local.serverKind,
      nodes: local.nodes.map((n) => ({
        name: n.name,
        instanceId: n.instanceId,
        port: n.port,
        files: ['crt', 'chain.pem', 'fullchain.pem']
          .map((ext) => path.join(n.certDir, `${local.certName}.${ext}`))
          .concat(path.join(n.keyDir, `${local.certName}.key`)),
      })),
      certificateArn,
      serials: { exported: serial, renewed: renewedSerial },
      timingsMs: { startup, requestCertificate, exportToVerified, renewalToVerified, total: Date.now() - t0 },
      exports: [exported, ...renewals].map((s) => ({ exportId: s.exportId, phases: s.phases })),
    };
    say('');
    say('summary');
    say(`  startup              ${ms(startup)}`);
    say(`  request certificate  ${ms(requestCertificate)}`);
    say(`  export → verified    ${ms(exportToVerified)}  (serial ${serial})`);
    say(`  renewal → verified   ${ms(renewalToVerified)}  (serial ${renewedSerial})`);
    say(`  total                ${ms(summary.timingsMs.total)}`);
    say(`  files on each node (${local.nodes[0].name} shown):`);
    for (const f of summary.nodes[0].files) say(`    ${f}`);
    if (options.json) io.stdout.write(`${JSON.stringify(summary)}\n`);
    return summary;
  } finally {
    acm.destroy();
    ssm.destroy();
    await local.close();
  }
}

function ms(n: number): string {
  return n < 1000 ? `${n} ms` : `${(n / 1000).toFixed(1)} s`;
}

/** Polls GET /exports/{id}, printing each phase once and each node when it finishes. */
async function follow(
  local: LocalMode,
  api: ApiClient,
  ssm: SSMClient,
  exportId: string,
  say: (line: string) => void,
): Promise<ExportStatusResponse> {
  const deadline = Date.now() + TIMEOUT_MS;
  let phase = '';
  const reported = new Set<string>();
  for (;;) {
    const status = await api.request<ExportStatusResponse>('GET', `/exports/${encodeURIComponent(exportId)}`);
    if (status.phase !== phase) {
      phase = status.phase;
      say(`  ${exportId.slice(0, 18)}  ${phase}${status.serial ? `  serial ${status.serial}` : ''}`);
    }
    if (status.commandId) {
      const inv = await ssm.send(new ListCommandInvocationsCommand({ CommandId: status.commandId }));
      for (const i of inv.CommandInvocations ?? []) {
        if (
          !i.InstanceId ||
          reported.has(i.InstanceId) ||
          !['Success', 'Failed', 'TimedOut', 'Cancelled'].includes(i.Status ?? '')
        )
          continue;
        reported.add(i.InstanceId);
        const node = local.nodes.find((n) => n.instanceId === i.InstanceId);
        say(`    ${node?.name ?? i.InstanceId}  ${i.InstanceId}  ${i.StatusDetails}`);
      }
    }
    if (status.status !== 'RUNNING') {
      if (status.status !== 'SUCCEEDED') {
        const why = status.error ? `${status.error.name}: ${status.error.message}` : status.status;
        for (const f of status.failures)
          say(
            `    ${local.nodes.find((n) => n.instanceId === f.instanceId)?.name ?? f.instanceId}  ${f.status}: ${f.line}`,
          );
        throw new Error(`export ${exportId} ended ${status.status}: ${why}`);
      }
      return status;
    }
    if (Date.now() > deadline) throw new Error(`export ${exportId} did not finish within ${TIMEOUT_MS / 1000} s`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

async function verifyServed(local: LocalMode, serial: string, say: (line: string) => void): Promise<void> {
  const wanted = plainSerial(serial);
  for (const node of local.nodes) {
    const served = await node.servedCertificate(DEMO_DOMAIN, local.aws.ca.rootPem);
    if (served.serialNumber.toUpperCase() !== wanted)
      throw new Error(`${node.name} serves serial ${served.serialNumber}, expected ${wanted}`);
    if (!served.authorized)
      throw new Error(
        `${node.name}: the served chain does not verify against the local CA (${served.authorizationError ?? 'unknown'})`,
      );
    say(`    ${node.name}  TLS 127.0.0.1:${node.port}  serves ${serial}  chain OK`);
  }
}

/**
 * Frees `certName` on `target` for the certificate `keep`: one certificate per (target, CertName), so the
 * targets of other certificates holding it (an earlier run with the same state directory) are deleted first
 * (their files stay; the new export replaces them). Returns the certificate ARNs whose target was deleted.
 */
export async function releaseCertName(
  api: ApiClient,
  claim: { target: string; certName: string; keep: string },
): Promise<string[]> {
  const released: string[] = [];
  let nextToken: string | undefined;
  do {
    const page = await api.listCertificates({ nextToken });
    for (const item of page.items) {
      if (item.target !== claim.target || item.certName !== claim.certName || item.certificateArn === claim.keep)
        continue;
      await api.deleteTarget(item.certificateArn, item.target);
      released.push(item.certificateArn);
    }
    nextToken = page.nextToken;
  } while (nextToken);
  return released;
}
