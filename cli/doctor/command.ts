/**
 * `acm-export doctor URL`: connect like a browser and explain why it would (or would not) show a certificate
 * warning. Exit code 0 when every check passes, 1 when any fails, 2 for warnings only.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as tls from 'node:tls';
import { Option, type Command } from 'commander';
import { field } from '../../lambda/shared/schemas';
import { integerOption, type CommandContext, type CommandModule } from '../command';
import { ApiError, apiErrorToCli, CliError, errorMessage } from '../errors';
import { printJson } from '../output';
import {
  CLOCK_SKEW_WARN_MS,
  checkChain,
  checkClock,
  checkDrift,
  checkHsts,
  checkPinning,
  checkRevocation,
  checkWeakTls,
  checkMixedContent,
  checkName,
  checkProtocol,
  checkRedirect,
  checkSct,
  checkValidity,
  commonName,
  certDates,
  exitCodeOf,
  header,
  serverClock,
  type CheckResult,
  type HttpAnswer,
} from './checks';
import { httpGet, probeWeakTls, tlsHandshake, type Target } from './probe';
import { probeRevocation } from './revocation';

export interface DoctorOptions {
  resolve?: string;
  expectSerial?: string;
  arn?: string;
  timeout: number;
  ca?: string;
  httpPort: number;
}

export interface DoctorReport {
  url: string;
  checks: CheckResult[];
  exitCode: number;
  /** The certificate the server presented (human output only). */
  leaf?: X509Certificate;
}

/** Parses the URL argument (a bare host name means https://host/). */
export function parseDoctorUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `https://${raw}`);
  } catch {
    throw new CliError(
      'reading URL',
      `"${raw.slice(0, 80)}" is not a URL`,
      'Pass the HTTPS address of the site, e.g. https://www.example.com/.',
    );
  }
  if (url.protocol !== 'https:') {
    throw new CliError(
      'reading URL',
      `${url.protocol}// is not HTTPS`,
      `Pass the https:// address (the HTTP redirect is checked too): https://${url.host}${url.pathname}`,
    );
  }
  return url;
}

/** `HOST:PORT:ADDR` like curl's --resolve; ADDR may be an IPv6 address, with or without brackets. */
export function parseResolve(value: string, url: URL): string {
  const match = value.match(/^([^:]+):(\d{1,5}):(.+)$/);
  if (!match)
    throw new CliError(
      'reading --resolve',
      `"${value.slice(0, 80)}" is not HOST:PORT:ADDR`,
      'Use the curl form, e.g. --resolve www.example.com:443:203.0.113.10.',
    );
  const [, host, port, address] = match;
  const urlHost = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const urlPort = url.port || '443';
  if ((host !== '*' && host.toLowerCase() !== urlHost) || port !== urlPort) {
    throw new CliError(
      'reading --resolve',
      `${host}:${port} does not match the URL's ${urlHost}:${urlPort}`,
      `Use --resolve ${urlHost}:${urlPort}:ADDR.`,
    );
  }
  return address.replace(/^\[|\]$/g, '');
}

/** PEM certificates in a file (for --ca, or the file NODE_EXTRA_CA_CERTS names). */
export function readCaFile(file: string, source = '--ca'): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new CliError(
      `reading ${source}`,
      `cannot read ${file} (${errorMessage(error)})`,
      source === '--ca'
        ? 'Pass a PEM file with one or more CA certificates.'
        : `Point ${source} at a readable PEM file with one or more CA certificates, or unset it.`,
    );
  }
  const pems = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (pems.length === 0)
    throw new CliError(
      `reading ${source}`,
      `${file} has no PEM certificate`,
      'Pass a PEM file with one or more CA certificates.',
    );
  for (const pem of pems) {
    try {
      new X509Certificate(pem);
    } catch (error) {
      throw new CliError(
        `reading ${source}`,
        `${file} holds a certificate that does not parse (${errorMessage(error)})`,
        'Pass a PEM file with valid CA certificates.',
      );
    }
  }
  return pems;
}

interface Expected {
  serials: string[];
  source: string;
  certName?: string;
}

async function expectedFromInventory(
  context: CommandContext,
  command: Command,
  arn: string,
): Promise<Expected | CheckResult> {
  const check = field('CertificateArn').safeParse(arn);
  if (!check.success)
    throw new CliError(
      'reading --arn',
      check.error.issues[0]?.message ?? 'not a certificate ARN',
      'Pass the full certificate ARN.',
    );
  const api = await context.api(command);
  let items;
  try {
    items = (await api.allCertificates()).filter((item) => item.certificateArn === arn);
  } catch (error) {
    throw error instanceof ApiError ? apiErrorToCli(error, 'GET /certificates (for --arn)') : error;
  }
  const serials = items.map((item) => item.lastSerial).filter((serial) => serial);
  if (serials.length === 0) {
    return {
      id: 'drift',
      status: 'warn',
      reason: `the inventory has no export of ${arn}, so there is no serial to compare with`,
      fix: 'Export the certificate with "acm-export export", or pass --expect-serial.',
    };
  }
  return { serials, source: `last export of ${arn}`, certName: items[0].certName };
}

/**
 * Runs every check. `env` is the environment of the run: NODE_EXTRA_CA_CERTS adds trust anchors like --ca does
 * (Node applies it only to its default store, which the doctor replaces with its own).
 */
export async function diagnose(
  url: URL,
  options: DoctorOptions,
  expected: Expected | CheckResult | undefined,
  now: () => number,
  env: Record<string, string | undefined> = {},
): Promise<DoctorReport> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = url.port ? Number(url.port) : 443;
  const target: Target = {
    host,
    port,
    address: options.resolve ? parseResolve(options.resolve, url) : host,
    path: `${url.pathname}${url.search}`,
  };
  const extraCa = [
    ...(env.NODE_EXTRA_CA_CERTS ? readCaFile(env.NODE_EXTRA_CA_CERTS, 'NODE_EXTRA_CA_CERTS') : []),
    ...(options.ca ? readCaFile(options.ca) : []),
  ];
  const store = [...tls.rootCertificates, ...extraCa];
  const anchors = new Set(store.map((pem) => new X509Certificate(pem).fingerprint256));
  const publicAnchors = new Set(tls.rootCertificates.map((pem) => new X509Certificate(pem).fingerprint256));
  const where = `${target.address.includes(':') ? `[${target.address}]` : target.address}:${port}`;

  let probe;
  let sent;
  try {
    [probe, sent] = await Promise.all([
      tlsHandshake(target, store, options.timeout),
      tlsHandshake(target, [], options.timeout),
    ]);
  } catch (error) {
    const checks: CheckResult[] = [
      {
        id: 'connect',
        status: 'fail',
        reason: `no TLS connection to ${where} (${errorMessage(error)})`,
        fix: options.resolve
          ? 'Check that the server listens for HTTPS on that address and port, and that a firewall or security group allows it.'
          : 'Check the DNS name, that the server listens for HTTPS on that port, and that a firewall or security group allows it (use --resolve to test one address).',
      },
    ];
    return { url: url.toString(), checks, exitCode: exitCodeOf(checks) };
  }
  const leaf = probe.chain[0];
  const httpUrl = `http://${url.hostname}${options.httpPort === 80 ? '' : `:${options.httpPort}`}${target.path}`;
  const [redirect, page, weak, revocation] = await Promise.all([
    httpGet(target, 'http', options.httpPort, options.timeout),
    fetchPage(target, url, options.timeout),
    probeWeakTls(target, options.timeout),
    probeRevocation(probe.chain, store, probe.stapledOcsp, options.timeout),
  ]);
  const localNow = now();
  const serverNow = serverClock(page) ?? serverClock(redirect);
  const chainView = { ...probe, chain: probe.chain, sent: sent.chain, anchors };
  // With a wrong local clock, intermediates are judged by the server's clock (the clock check reports the skew).
  const chainNow =
    serverNow !== undefined && Math.abs(localNow - serverNow) > CLOCK_SKEW_WARN_MS ? serverNow : localNow;
  const chainCheck = checkChain(
    chainView,
    chainNow,
    expected && 'certName' in expected ? expected.certName : undefined,
  );

  const checks: CheckResult[] = [
    checkName(host, leaf),
    checkValidity(leaf, localNow, serverNow),
    checkClock(localNow, serverNow),
    chainCheck,
    checkRevocation(revocation),
    checkSct(leaf, chainCheck.status === 'fail' ? undefined : privateAnchorOf(probe.chain, anchors, publicAnchors)),
    checkProtocol(probe.protocol),
    checkWeakTls(weak),
    checkRedirect(redirect, httpUrl),
    checkHsts(page),
    checkPinning(page.ok ? page.headers : {}, probe.chain),
    checkMixedContent(page, url.toString()),
  ];
  if (options.expectSerial) checks.push(checkDrift(leaf.serialNumber, [options.expectSerial], '--expect-serial'));
  else if (expected && 'serials' in expected)
    checks.push(checkDrift(leaf.serialNumber, expected.serials, expected.source));
  else if (expected) checks.push(expected);
  return { url: url.toString(), checks, exitCode: exitCodeOf(checks), leaf };
}

/**
 * The common name of the CA a trusted chain is anchored at when that anchor came only from --ca or
 * NODE_EXTRA_CA_CERTS (a private CA), else undefined.
 */
function privateAnchorOf(
  chain: X509Certificate[],
  anchors: Set<string>,
  publicAnchors: Set<string>,
): string | undefined {
  if (chain.some((cert) => publicAnchors.has(cert.fingerprint256))) return undefined;
  const anchor = chain.slice(1).find((cert) => anchors.has(cert.fingerprint256));
  return anchor ? commonName(anchor.subject) : undefined;
}

/** GETs the page over HTTPS, following up to 3 redirects that stay on the same origin. */
async function fetchPage(target: Target, url: URL, timeoutMs: number): Promise<HttpAnswer> {
  let current = target;
  let answer = await httpGet(current, 'https', current.port, timeoutMs);
  for (let hop = 0; hop < 3 && answer.ok && [301, 302, 303, 307, 308].includes(answer.status); hop += 1) {
    const location = header(answer.headers, 'location');
    if (!location) break;
    const next = new URL(location, new URL(current.path, url));
    if (next.origin !== url.origin) break;
    current = { ...current, path: `${next.pathname}${next.search}` };
    answer = await httpGet(current, 'https', current.port, timeoutMs);
  }
  return answer;
}

const LABEL: Record<CheckResult['status'], string> = { pass: 'PASS', note: 'NOTE', warn: 'WARN', fail: 'FAIL' };

export function renderReport(report: DoctorReport): string {
  const lines = [`doctor ${report.url}`];
  if (report.leaf) {
    const { notAfter } = certDates(report.leaf);
    lines.push(
      `  certificate CN=${commonName(report.leaf.subject)}, serial ${report.leaf.serialNumber}, expires ${notAfter.toISOString().slice(0, 10)}, issuer ${commonName(report.leaf.issuer)}`,
    );
  }
  const width = Math.max(...report.checks.map((check) => check.id.length));
  for (const check of report.checks) {
    lines.push(`${LABEL[check.status]}  ${check.id.padEnd(width)}  ${check.reason}`);
    if (check.fix) lines.push(`${' '.repeat(width + 8)}fix: ${check.fix}`);
  }
  const fails = report.checks.filter((check) => check.status === 'fail').length;
  const warns = report.checks.filter((check) => check.status === 'warn').length;
  lines.push(fails || warns ? `${fails} failed, ${warns} warning(s)` : 'all checks passed');
  return `${lines.join('\n')}\n`;
}

export const registerDoctor: CommandModule = (program, context) => {
  program
    .command('doctor')
    .summary('diagnose HTTPS certificate errors on a site')
    .description(
      'Connect to an HTTPS site like a browser and check: host name vs certificate names (a wildcard covers exactly one ' +
        "label), validity dates, this clock vs the server's Date header (over 5 minutes apart: a warning, and an expiry " +
        'seen only because of it is blamed on the clock), chain (self-signed, unknown issuer, missing intermediates), ' +
        'revocation (stapled OCSP response, else the OCSP responder via the openssl command, else the CRL; unreachable: ' +
        'a warning), Certificate Transparency (embedded SCTs; skipped for a chain trusted only through --ca or ' +
        'NODE_EXTRA_CA_CERTS), TLS version, weak offers accepted (TLS 1.0/1.1, RSA key exchange, CBC-SHA1, 3DES, RC4; ' +
        'what this OpenSSL cannot offer is "not checked"), HTTP->HTTPS redirect, HSTS (missing: a warning; max-age under ' +
        'one year: a note), Public-Key-Pins (obsolete; pins matching no key of the chain fail), mixed content (tags, ' +
        'inline scripts, CSS url() and @import), and with --arn/--expect-serial whether the server presents the ' +
        'certificate that was last exported (drift).\n' +
        'Exit code: 0 all checks pass (notes are information only), 1 any check fails, 2 warnings only.',
    )
    .argument('<url>', 'https:// URL of the site (a bare host name means https://host/)')
    .option(
      '--resolve <host:port:addr>',
      'connect to ADDR for HOST:PORT instead of resolving it (like curl), also for the HTTP check',
    )
    .addOption(
      new Option(
        '--expect-serial <serial>',
        'serial the server should present (ACM "0a:1b:..." or OpenSSL "0A1B..." form)',
      ).conflicts('arn'),
    )
    .addOption(
      new Option(
        '--arn <arn>',
        'compare with the serial of the last export of this certificate (needs --endpoint or --stack)',
      ).conflicts('expectSerial'),
    )
    .option('--timeout <ms>', 'timeout of each connection', integerOption('--timeout', 100, 600_000), 10_000)
    .option(
      '--ca <file>',
      'extra trust anchors (PEM), e.g. a private root CA; NODE_EXTRA_CA_CERTS is honoured too, in addition',
    )
    .option('--http-port <port>', 'port of the plain-HTTP redirect check', integerOption('--http-port', 1, 65535), 80)
    .addHelpText(
      'after',
      `
Examples:
  $ acm-export doctor https://www.example.com/
  $ acm-export doctor https://www.example.com/ --resolve www.example.com:443:203.0.113.10 --expect-serial 0a:1b:2c:3d
  $ acm-export --stack AcmExport doctor https://www.example.com/ --arn arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-1111-2222-3333-444455556666 --json`,
    )
    .action(async (rawUrl: string, options: DoctorOptions, command: Command) => {
      const globals = context.globals(command);
      const url = parseDoctorUrl(rawUrl);
      if (options.resolve) parseResolve(options.resolve, url);
      const expected = options.arn ? await expectedFromInventory(context, command, options.arn) : undefined;
      const report = await diagnose(url, options, expected, context.io.now, context.io.env);
      if (globals.json)
        printJson(context.io.stdout, { url: report.url, checks: report.checks, exitCode: report.exitCode });
      else context.io.stdout.write(renderReport(report));
      context.exit(report.exitCode);
    });
};
