/**
 * `acm-export doctor` against local HTTPS servers with certificates generated here: a root CA (trusted via --ca),
 * an intermediate, and one leaf per failure case, plus one site that passes every check.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CertificateTargetView } from '../../lambda/export-api/api-types';
import { escapeRegExp } from '../../lambda/shared/regexp';
import { runCli, type CliRun } from './helpers/cli-runner';
import { makeCrl, startCrlServer, type CrlServer } from './helpers/crl';
import { ocspResponse, startOcspResponder, testSerial } from './helpers/ocsp';
import { startFakeApi } from './helpers/fake-api';
import { daysFromNow, intermediate, leaf, selfSigned, type Issued, type LeafOptions } from './helpers/pki';
import { closedPort, startSite, type Site, type SiteOptions } from './helpers/sites';

const HOST = 'www.example.test';
const ARN = 'arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-1111-2222-3333-444455556666';

interface Report {
  url: string;
  checks: { id: string; status: 'pass' | 'warn' | 'fail'; reason: string; fix: string | null }[];
  exitCode: number;
}

let root: Issued;
let inter: Issued;
let caFile: string;
const sites: Site[] = [];
/** Temporary directories of this file, removed after the suite. */
const tempDirs: string[] = [];
const tempDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'acm-export-doctor-'));
  tempDirs.push(dir);
  return dir;
};

beforeAll(async () => {
  root = await selfSigned('Doctor Test Root CA');
  inter = await intermediate(root, 'Doctor Test Intermediate CA');
  caFile = join(tempDir(), 'root.pem');
  writeFileSync(caFile, root.certPem);
});

afterAll(async () => {
  await Promise.all(sites.map((site) => site.close()));
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

/** A site whose leaf is issued by the intermediate, served with the intermediate, 2 SCTs, redirecting HTTP. */
async function site(
  leafOptions: LeafOptions = {},
  options: Partial<SiteOptions> & { chain?: 'full' | 'leaf' } = {},
): Promise<{ site: Site; cert: Issued }> {
  const cert = await leaf(inter, { dnsNames: [HOST], scts: 2, ...leafOptions });
  const started = await startSite({
    key: cert.keyPem,
    cert: options.chain === 'leaf' ? cert.certPem : cert.certPem + inter.certPem,
    ...options,
  });
  sites.push(started);
  return { site: started, cert };
}

async function doctor(
  target: Site,
  extra: string[] = [],
  host = HOST,
  withCa = true,
  overrides: Parameters<typeof runCli>[1] = {},
): Promise<{ run: CliRun; report: Report; status: Record<string, string> }> {
  const url = `https://${host}:${target.httpsPort}/`;
  const run = await runCli(
    [
      '--json',
      'doctor',
      url,
      '--resolve',
      `${host}:${target.httpsPort}:127.0.0.1`,
      ...(withCa ? ['--ca', caFile] : []),
      '--http-port',
      String(target.httpPort),
      '--timeout',
      '5000',
      ...extra,
    ],
    overrides,
  );
  const report = JSON.parse(run.stdout) as Report;
  return { run, report, status: Object.fromEntries(report.checks.map((check) => [check.id, check.status])) };
}

function check(report: Report, id: string) {
  const found = report.checks.find((c) => c.id === id);
  if (!found) throw new Error(`no ${id} check`);
  return found;
}

/** A well-configured site under a private CA: SCTs and revocation do not apply (notes, exit 0). */
const ALL_PASS = {
  name: 'pass',
  validity: 'pass',
  clock: 'pass',
  chain: 'pass',
  revocation: 'note',
  sct: 'note',
  protocol: 'pass',
  'weak-tls': 'pass',
  'http-redirect': 'pass',
  hsts: 'pass',
  pinning: 'pass',
  'mixed-content': 'pass',
};

describe('acm-export doctor', () => {
  test('a correctly configured site passes every check (exit 0)', async () => {
    const { site: s } = await site();
    const { run, report, status } = await doctor(s);
    expect(status).toEqual(ALL_PASS);
    expect(report.exitCode).toBe(0);
    expect(run.code).toBe(0);
    expect(report.url).toBe(`https://${HOST}:${s.httpsPort}/`);
    for (const c of report.checks) expect(c.fix).toBeNull();
    expect(check(report, 'chain').reason).toContain('Doctor Test Intermediate CA <- Doctor Test Root CA');
    expect(check(report, 'http-redirect').reason).toMatch(/answers 301 -> https:\/\//);
  });

  test('human output lists each check with its status, and fixes for the others', async () => {
    const { site: s } = await site({}, { http: 'serve' });
    const url = `https://${HOST}:${s.httpsPort}/`;
    const run = await runCli([
      'doctor',
      url,
      '--resolve',
      `${HOST}:${s.httpsPort}:127.0.0.1`,
      '--ca',
      caFile,
      '--http-port',
      String(s.httpPort),
    ]);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(`doctor ${url}\n  certificate CN=${HOST}, serial `);
    expect(run.stdout).toMatch(
      /^PASS {2}name {11}www\.example\.test matches the certificate name www\.example\.test$/m,
    );
    expect(run.stdout).toMatch(
      /^FAIL {2}http-redirect {2}http:\/\/www\.example\.test:\d+\/ answers 200 without redirecting/m,
    );
    expect(run.stdout).toMatch(/^ {21}fix: Answer plain HTTP with a permanent redirect/m);
    expect(run.stdout).toMatch(/1 failed, 0 warning\(s\)\n$/);
  });

  test('wrong name: the certificate is for another host (fail)', async () => {
    const { site: s } = await site({ dnsNames: ['other.example.test'] });
    const { run, report, status } = await doctor(s);
    expect(status).toEqual({ ...ALL_PASS, name: 'fail' });
    expect(run.code).toBe(1);
    expect(check(report, 'name').reason).toBe(
      'www.example.test does not match any certificate name (other.example.test)',
    );
    expect(check(report, 'name').fix).toContain('subject alternative name');
  });

  test('a wildcard covers exactly one label: *.example.test passes for www, fails for a.b', async () => {
    const { site: s } = await site({ dnsNames: ['*.example.test'] });
    expect((await doctor(s)).status.name).toBe('pass');
    const deep = await doctor(s, [], 'a.b.example.test');
    expect(deep.status.name).toBe('fail');
    expect(deep.run.code).toBe(1);
    expect(check(deep.report, 'name').reason).toBe(
      'a.b.example.test is not covered: the wildcard *.example.test covers exactly one label (like x.example.test), not a.b.example.test',
    );
    const apex = await doctor(s, [], 'example.test');
    expect(check(apex.report, 'name').reason).toContain('does not cover the bare domain example.test');
  });

  test('expired certificate: validity fails, the chain itself is still trusted', async () => {
    const { site: s } = await site({ notBefore: daysFromNow(-100), notAfter: daysFromNow(-2) });
    const { run, report, status } = await doctor(s);
    expect(status).toEqual({ ...ALL_PASS, validity: 'fail' });
    expect(run.code).toBe(1);
    expect(check(report, 'validity').reason).toMatch(/^the certificate expired .* \(2 day\(s\) ago\)$/);
    expect(check(report, 'validity').fix).toContain('acm-export renew');
  });

  test('not yet valid certificate (fail)', async () => {
    const { site: s } = await site({ notBefore: daysFromNow(2), notAfter: daysFromNow(90) });
    const { report, status } = await doctor(s);
    expect(status.validity).toBe('fail');
    expect(check(report, 'validity').reason).toMatch(/^the certificate is not valid yet: it starts /);
    expect(report.exitCode).toBe(1);
  });

  test('expiring within 30 days is a warning only (exit 2)', async () => {
    const { site: s } = await site({ notAfter: daysFromNow(10.5) });
    const { run, report, status } = await doctor(s);
    expect(status).toEqual({ ...ALL_PASS, validity: 'warn' });
    expect(check(report, 'validity').reason).toMatch(/^the certificate expires in 10 day\(s\)/);
    expect(run.code).toBe(2);
  });

  test('self-signed certificate (chain fails)', async () => {
    const self = await selfSigned(HOST, { ca: false, dnsNames: [HOST] });
    const s = await startSite({ key: self.keyPem, cert: self.certPem });
    sites.push(s);
    const { report, status } = await doctor(s);
    expect(status.chain).toBe('fail');
    expect(check(report, 'chain').reason).toBe(`self-signed certificate (${HOST} issued itself): no browser trusts it`);
    expect(report.exitCode).toBe(1);
  });

  test('missing intermediate: the server sends only the leaf (chain fails, fullchain suggested)', async () => {
    const { site: s } = await site({}, { chain: 'leaf' });
    const { report, status } = await doctor(s);
    // An untrusted chain is not known to be private, so its SCTs are counted (2: pass).
    expect(status).toEqual({ ...ALL_PASS, chain: 'fail', sct: 'pass' });
    expect(check(report, 'chain').reason).toBe(
      'incomplete chain: the server sent only the leaf certificate (no intermediates), and its issuer Doctor Test Intermediate CA is not a trusted root',
    );
    expect(check(report, 'chain').fix).toContain('.fullchain.pem');
  });

  test('leaf only, but the intermediate is in the local trust store: a warning that other clients will fail', async () => {
    const { site: s } = await site({}, { chain: 'leaf' });
    const bundle = join(tempDir(), 'bundle.pem');
    writeFileSync(bundle, root.certPem + inter.certPem);
    const url = `https://${HOST}:${s.httpsPort}/`;
    const run = await runCli([
      '--json',
      'doctor',
      url,
      '--resolve',
      `${HOST}:${s.httpsPort}:127.0.0.1`,
      '--ca',
      bundle,
      '--http-port',
      String(s.httpPort),
    ]);
    const report = JSON.parse(run.stdout) as Report;
    expect(check(report, 'chain')).toMatchObject({
      status: 'warn',
      reason: expect.stringContaining('the server sent only the leaf certificate (no intermediates)'),
    });
    expect(run.code).toBe(2);
  });

  test('an IP address URL is checked against IP names (no SNI)', async () => {
    const cert = await leaf(inter, { dnsNames: [HOST], ipAddresses: ['127.0.0.1'], scts: 2 });
    const s = await startSite({ key: cert.keyPem, cert: cert.certPem + inter.certPem });
    sites.push(s);
    const run = await runCli([
      '--json',
      'doctor',
      `https://127.0.0.1:${s.httpsPort}/`,
      '--ca',
      caFile,
      '--http-port',
      String(s.httpPort),
    ]);
    const report = JSON.parse(run.stdout) as Report;
    expect(check(report, 'name')).toMatchObject({
      status: 'pass',
      reason: '127.0.0.1 is an IP address in the certificate',
    });
    expect(run.code).toBe(0);
  });

  test('unknown issuer: a private CA the client does not trust (chain fails)', async () => {
    const { site: s } = await site();
    const { report, status } = await doctor(s, [], HOST, false);
    expect(status.chain).toBe('fail');
    expect(check(report, 'chain').reason).toMatch(
      /^unknown issuer: .* ends at Doctor Test Root CA, which is neither sent by the server nor a trusted root \(the server sent 2 certificates\)$/,
    );
    expect(check(report, 'chain').fix).toContain('--ca FILE');
  });

  test('a root the server sends itself is still not trusted', async () => {
    const { site: s } = await site({}, {});
    const cert = await leaf(inter, { dnsNames: [HOST], scts: 2 });
    const withRoot = await startSite({ key: cert.keyPem, cert: cert.certPem + inter.certPem + root.certPem });
    sites.push(withRoot);
    const { report } = await doctor(withRoot, [], HOST, false);
    expect(check(report, 'chain').reason).toMatch(
      /^untrusted root: the chain ends at the self-signed Doctor Test Root CA/,
    );
    expect(s.httpsPort).toBeGreaterThan(0);
  });

  test('SCTs are counted when the chain is not anchored in a private CA: none or one is a warning', async () => {
    // Without --ca the test root is not trusted, so nothing marks the chain as private.
    const { site: none } = await site({ scts: 0 });
    const noSct = await doctor(none, [], HOST, false);
    expect(noSct.status.sct).toBe('warn');
    expect(check(noSct.report, 'sct').reason).toContain('no Signed Certificate Timestamps embedded');
    expect(check(noSct.report, 'sct').reason).toContain('TLS extension');
    const { site: one } = await site({ scts: 1 });
    expect((await doctor(one, [], HOST, false)).status.sct).toBe('warn');
    const { site: two } = await site({ scts: 2 });
    expect(check((await doctor(two, [], HOST, false)).report, 'sct')).toMatchObject({
      status: 'pass',
      reason: '2 Signed Certificate Timestamps embedded (Certificate Transparency)',
    });
  });

  test('a chain trusted only through --ca (a private CA, like local mode) needs no SCTs: a note, exit 0', async () => {
    const { site: s } = await site({ scts: 0 });
    const { run, report, status } = await doctor(s);
    expect(status).toEqual(ALL_PASS);
    expect(run.code).toBe(0);
    expect(check(report, 'sct')).toEqual({
      id: 'sct',
      status: 'note',
      reason:
        'not checked: the chain ends at Doctor Test Root CA, a CA trusted here only through --ca or NODE_EXTRA_CA_CERTS (not a public root), and private-CA certificates need no Certificate Transparency',
      fix: null,
    });
  });

  test('plain HTTP served without a redirect fails; nothing on the HTTP port is a warning', async () => {
    const { site: serve } = await site({}, { http: 'serve' });
    const served = await doctor(serve);
    expect(served.status).toEqual({ ...ALL_PASS, 'http-redirect': 'fail' });
    expect(served.run.code).toBe(1);
    const { site: none } = await site({}, { http: 'none' });
    const closed = await doctor(none);
    expect(closed.status).toEqual({ ...ALL_PASS, 'http-redirect': 'warn' });
    expect(check(closed.report, 'http-redirect').reason).toContain('ECONNREFUSED');
  });

  test('mixed content: http:// scripts and styles fail and are listed (up to 5)', async () => {
    const html = [
      '<html><head>',
      '<link rel="canonical" href="http://www.example.test/">',
      '<link rel="stylesheet" href="http://cdn.example.test/a.css">',
      '<script src="http://cdn.example.test/a.js"></script>',
      '</head><body>',
      '<a href="http://www.example.test/plain">ok</a>',
      ...[1, 2, 3, 4, 5].map((n) => `<img src="http://img.example.test/${n}.png">`),
      '<form action="http://www.example.test/login"></form>',
      '</body></html>',
    ].join('\n');
    const { site: s } = await site({}, { html });
    const { report, status, run } = await doctor(s);
    expect(status).toEqual({ ...ALL_PASS, 'mixed-content': 'fail' });
    expect(run.code).toBe(1);
    const reason = check(report, 'mixed-content').reason;
    expect(reason).toMatch(/^8 http:\/\/ sub-resource\(s\)/);
    expect(reason).toContain(
      '<link href> http://cdn.example.test/a.css, <script src> http://cdn.example.test/a.js, <img src> http://img.example.test/1.png',
    );
    expect(reason).toContain('and 3 more');
    expect(reason).not.toContain('canonical');
    expect(reason).not.toContain('/plain');
  });

  test('mixed content: only images is a warning; upgrade-insecure-requests passes', async () => {
    const html = '<html><body><img src="http://img.example.test/logo.png"></body></html>';
    const { site: images } = await site({}, { html });
    expect((await doctor(images)).status['mixed-content']).toBe('warn');
    const { site: upgraded } = await site(
      {},
      { html, headers: { 'content-security-policy': 'upgrade-insecure-requests' } },
    );
    expect((await doctor(upgraded)).status['mixed-content']).toBe('pass');
  });

  test('mixed content is looked for after same-origin redirects of the page', async () => {
    const { site: s } = await site(
      {},
      { html: '<script src="http://cdn.example.test/x.js"></script>', rootRedirect: '/home' },
    );
    const { report, status } = await doctor(s);
    expect(status['mixed-content']).toBe('fail');
    expect(check(report, 'mixed-content').reason).toContain('<script src> http://cdn.example.test/x.js');
  });

  test('drift: --expect-serial in ACM or OpenSSL form, leading zeros ignored', async () => {
    const { site: s } = await site({ serial: '0a1b2c3d4e5f' });
    const match = await doctor(s, ['--expect-serial', '0a:1b:2c:3d:4e:5f']);
    expect(match.status).toEqual({ ...ALL_PASS, drift: 'pass' });
    expect(match.run.code).toBe(0);
    expect((await doctor(s, ['--expect-serial', 'A1B2C3D4E5F'])).status.drift).toBe('pass');
    const mismatch = await doctor(s, ['--expect-serial', '0A:1B:2C:3D:4E:60']);
    expect(mismatch.status.drift).toBe('fail');
    expect(mismatch.run.code).toBe(1);
    expect(check(mismatch.report, 'drift').reason).toBe(
      'the server presents serial A1B2C3D4E5F, but the expected serial (--expect-serial) is A1B2C3D4E60',
    );
  });

  test('drift with --arn reads the last exported serial from the API', async () => {
    const { site: s } = await site({ serial: '7f00aa' });
    const row = {
      certificateArn: ARN,
      certName: 'www',
      target: 'Role=web',
      lastSerial: '7f:00:aa',
    } as CertificateTargetView;
    const api = await startFakeApi([
      (request) => (request.path === '/certificates' ? { status: 200, body: { items: [row] } } : undefined),
    ]);
    try {
      const url = `https://${HOST}:${s.httpsPort}/`;
      const args = (arn: string) => [
        '--endpoint',
        api.url,
        '--json',
        'doctor',
        url,
        '--resolve',
        `${HOST}:${s.httpsPort}:127.0.0.1`,
        '--ca',
        caFile,
        '--http-port',
        String(s.httpPort),
        '--arn',
        arn,
      ];
      const run = await runCli(args(ARN));
      expect(run.code).toBe(0);
      expect((JSON.parse(run.stdout) as Report).checks.find((c) => c.id === 'drift')).toEqual({
        id: 'drift',
        status: 'pass',
        reason: `the server presents serial 7F00AA, as expected (last export of ${ARN})`,
        fix: null,
      });
      const unknown = await runCli(args(ARN.replace('0a1b2c3d', 'ffffffff')));
      expect(unknown.code).toBe(2);
      expect((JSON.parse(unknown.stdout) as Report).checks.find((c) => c.id === 'drift')).toMatchObject({
        status: 'warn',
      });
      expect(api.rejected).toBe(0);
      expect(api.requests.map((request) => request.path)).toEqual(['/certificates', '/certificates']);
    } finally {
      await api.close();
    }
  });

  test('nothing listening: a single connect failure (exit 1)', async () => {
    const port = await closedPort();
    const { report, run } = await doctor({ httpsPort: port, httpPort: port, close: async () => undefined });
    expect(run.code).toBe(1);
    expect(report.checks).toHaveLength(1);
    expect(report.checks[0]).toMatchObject({ id: 'connect', status: 'fail' });
    expect(report.checks[0].reason).toContain('ECONNREFUSED');
  });

  test('bad arguments are one-line errors: --resolve for another host, --expect-serial with --arn, http:// URL', async () => {
    const bad = await runCli(['doctor', 'https://www.example.test/', '--resolve', 'other.example.test:443:127.0.0.1']);
    expect(bad).toMatchObject({ code: 1, stdout: '' });
    expect(bad.stderr).toBe(
      "acm-export: reading --resolve: other.example.test:443 does not match the URL's www.example.test:443. Use --resolve www.example.test:443:ADDR.\n",
    );
    const both = await runCli(['doctor', 'https://www.example.test/', '--expect-serial', '01', '--arn', ARN]);
    expect(both.code).toBe(1);
    expect(both.stderr).toMatch(
      /invalid command line: option '--expect-serial <serial>' cannot be used with option '--arn <arn>'/,
    );
    const plain = await runCli(['doctor', 'http://www.example.test/']);
    expect(plain.stderr).toMatch(/^acm-export: reading URL: http:\/\/ is not HTTPS/);
  });

  test('revocation: a real OCSP responder answers good (pass) or revoked (fail, exit 1)', async () => {
    const [goodSerial, revokedSerial] = [testSerial(), testSerial()];
    const responder = await startOcspResponder(inter, [
      { serial: goodSerial, status: 'good' },
      { serial: revokedSerial, status: 'revoked' },
    ]);
    try {
      const { site: good } = await site({ serial: goodSerial, ocspUrl: responder.url });
      const passed = await doctor(good);
      expect(passed.status).toEqual({ ...ALL_PASS, revocation: 'pass' });
      expect(check(passed.report, 'revocation').reason).toBe(`not revoked (OCSP responder ${responder.url}: good)`);
      expect(passed.run.code).toBe(0);

      const { site: revoked } = await site({ serial: revokedSerial, ocspUrl: responder.url });
      const failed = await doctor(revoked);
      expect(failed.status).toEqual({ ...ALL_PASS, revocation: 'fail' });
      expect(check(failed.report, 'revocation')).toMatchObject({
        reason: `the certificate is revoked (OCSP responder ${responder.url}: revoked Jan  1 00:00:00 2024 GMT, reason keyCompromise): browsers refuse it`,
        fix: expect.stringContaining('request a new certificate in ACM'),
      });
      expect(failed.run.code).toBe(1);
    } finally {
      await responder.close();
    }
  });

  test('revocation: an unreachable OCSP responder is a warning (exit 2), not a failure', async () => {
    const url = `http://127.0.0.1:${await closedPort()}/`;
    const { site: s } = await site({ ocspUrl: url });
    const { run, report, status } = await doctor(s);
    expect(status).toEqual({ ...ALL_PASS, revocation: 'warn' });
    expect(check(report, 'revocation').reason).toBe(
      `could not ask the OCSP responder ${url} (connection refused), so revocation is unknown`,
    );
    expect(run.code).toBe(2);
  });

  test('revocation: a stapled OCSP response is used without asking the responder', async () => {
    const cert = await leaf(inter, { dnsNames: [HOST], scts: 2, ocspUrl: `http://127.0.0.1:${await closedPort()}/` });
    const s = await startSite({
      key: cert.keyPem,
      cert: cert.certPem + inter.certPem,
      ocspResponse: ocspResponse(inter, cert, 'revoked'),
    });
    sites.push(s);
    const { run, report } = await doctor(s);
    expect(check(report, 'revocation')).toMatchObject({
      status: 'fail',
      reason: expect.stringMatching(
        /^the certificate is revoked \(stapled OCSP response: revoked Jan {2}1 00:00:00 2024 GMT/,
      ),
    });
    expect(run.code).toBe(1);
  });

  describe('revocation through the CRL (the certificate names a CRL distribution point and no OCSP responder)', () => {
    const crlServers: CrlServer[] = [];
    afterAll(async () => {
      await Promise.all(crlServers.map((server) => server.close()));
    });
    const serveCrl = async (body: Buffer): Promise<CrlServer> => {
      const server = await startCrlServer(body);
      crlServers.push(server);
      return server;
    };

    test('a certificate the CRL lists is revoked (fail, exit 1); one it does not list passes (exit 0)', async () => {
      const [revokedSerial, goodSerial] = [testSerial(), testSerial()];
      const crl = await serveCrl(makeCrl(inter, [revokedSerial]));

      const { site: revoked } = await site({ serial: revokedSerial, crlUrl: crl.url });
      const failed = await doctor(revoked);
      expect(failed.status).toEqual({ ...ALL_PASS, revocation: 'fail' });
      expect(check(failed.report, 'revocation')).toEqual({
        id: 'revocation',
        status: 'fail',
        reason: `the certificate is revoked (CRL ${crl.url}: revoked 2024-01-01T00:00:00.000Z, reason keyCompromise): browsers refuse it`,
        fix: expect.stringContaining('request a new certificate in ACM'),
      });
      expect(failed.run.code).toBe(1);

      const { site: good } = await site({ serial: goodSerial, crlUrl: crl.url });
      const passed = await doctor(good);
      expect(passed.status).toEqual({ ...ALL_PASS, revocation: 'pass' });
      expect(check(passed.report, 'revocation').reason).toBe(`not revoked (CRL ${crl.url}: good)`);
      expect(passed.run.code).toBe(0);
      expect(crl.requests).toBe(2);
    });

    test('a CRL published in PEM form is read as well', async () => {
      const serial = testSerial();
      const crl = await serveCrl(makeCrl(inter, [serial], { format: 'pem' }));
      const { site: s } = await site({ serial, crlUrl: crl.url });
      const { run, status } = await doctor(s);
      expect(status).toEqual({ ...ALL_PASS, revocation: 'fail' });
      expect(run.code).toBe(1);
    });

    test('an unreachable CRL (nothing listening, or HTTP 404) is a warning (exit 2), not a failure', async () => {
      const port = await closedPort();
      const closed = `http://127.0.0.1:${port}/ca.crl`;
      const { site: s } = await site({ crlUrl: closed });
      const refused = await doctor(s);
      expect(refused.status).toEqual({ ...ALL_PASS, revocation: 'warn' });
      expect(check(refused.report, 'revocation')).toMatchObject({
        reason: `could not ask the CRL ${closed} (connect ECONNREFUSED 127.0.0.1:${port}), so revocation is unknown`,
        fix: expect.stringContaining('reaches the URL'),
      });
      expect(refused.run.code).toBe(2);

      const crl = await serveCrl(makeCrl(inter, []));
      const missing = crl.url.replace(/ca\.crl$/, 'gone.crl');
      const { site: gone } = await site({ crlUrl: missing });
      const notFound = await doctor(gone);
      expect(check(notFound.report, 'revocation')).toMatchObject({
        status: 'warn',
        reason: `could not ask the CRL ${missing} (HTTP 404), so revocation is unknown`,
      });
      expect(notFound.run.code).toBe(2);
    });

    test("a CRL signed by another CA is not trusted, even one with the issuer's name listing the certificate (warning)", async () => {
      const serial = testSerial();
      // Same subject name as the real issuer, different key: only the signature tells them apart.
      const impostor = await intermediate(root, 'Doctor Test Intermediate CA');
      const crl = await serveCrl(makeCrl(impostor, [serial]));
      const { site: s } = await site({ serial, crlUrl: crl.url });
      const { run, report, status } = await doctor(s);
      expect(status).toEqual({ ...ALL_PASS, revocation: 'warn' });
      expect(check(report, 'revocation').reason).toBe(
        `the CRL ${crl.url} gave an answer that does not verify (the CRL is not signed by the certificate's issuer)`,
      );
      expect(run.code).toBe(2);
      expect(crl.requests).toBe(1);

      // The root's CRL is not the intermediate's either.
      const byRoot = await serveCrl(makeCrl(root, []));
      const { site: other } = await site({ crlUrl: byRoot.url });
      expect(check((await doctor(other)).report, 'revocation')).toMatchObject({
        status: 'warn',
        reason: expect.stringContaining("the CRL is not signed by the certificate's issuer"),
      });
    });

    test('an expired CRL (its next update is past) is not trusted (warning), though it does not list the certificate', async () => {
      const nextUpdate = daysFromNow(-3);
      const crl = await serveCrl(makeCrl(inter, [testSerial()], { lastUpdate: daysFromNow(-10), nextUpdate }));
      const { site: s } = await site({ crlUrl: crl.url });
      const { run, report, status } = await doctor(s);
      expect(status).toEqual({ ...ALL_PASS, revocation: 'warn' });
      const stated = new Date(Math.floor(nextUpdate.getTime() / 1000) * 1000).toISOString();
      expect(check(report, 'revocation').reason).toBe(
        `the CRL ${crl.url} gave an answer that does not verify (the CRL is stale (next update was ${stated}))`,
      );
      expect(run.code).toBe(2);
    });

    test('a body that is not a CRL is a warning', async () => {
      const crl = await serveCrl(Buffer.from('<html>maintenance</html>'));
      const { site: s } = await site({ crlUrl: crl.url });
      const { run, report } = await doctor(s);
      expect(check(report, 'revocation')).toMatchObject({
        status: 'warn',
        reason: `the CRL ${crl.url} gave an answer that does not verify (it is not a CRL)`,
      });
      expect(run.code).toBe(2);
    });
  });

  test('weak TLS: a server accepting TLS 1.0/1.1, RSA key exchange and CBC-SHA1 is a warning (exit 2)', async () => {
    const { site: weak } = await site({ rsa: true }, { tls: { minVersion: 'TLSv1', ciphers: 'ALL@SECLEVEL=0' } });
    const { run, report, status } = await doctor(weak);
    expect(status).toEqual({ ...ALL_PASS, 'weak-tls': 'warn' });
    const reason = check(report, 'weak-tls').reason;
    expect(reason).toMatch(
      /^the server accepts TLS 1\.0 \(TLSv1 [A-Z0-9-]+\), TLS 1\.1 \(TLSv1\.1 [A-Z0-9-]+\), TLS 1\.2 RSA key exchange \(no forward secrecy\) \(TLSv1\.2 AES[A-Z0-9-]+\), CBC-SHA1 suites \(TLSv1\.2 [A-Z0-9-]+-SHA\)/,
    );
    // Node's OpenSSL 3 cannot propose 3DES or RC4: said so, not claimed absent.
    expect(reason).toContain(
      "not checked: 3DES suites (this machine's OpenSSL cannot offer them), RC4 suites (this machine's OpenSSL cannot offer them)",
    );
    expect(check(report, 'weak-tls').fix).toContain('ssl_protocols TLSv1.2 TLSv1.3');
    expect(run.code).toBe(2);

    const { site: modern } = await site({ rsa: true });
    const clean = await doctor(modern);
    expect(check(clean.report, 'weak-tls')).toMatchObject({
      status: 'pass',
      reason: expect.stringMatching(
        /^refuses TLS 1\.0, TLS 1\.1, TLS 1\.2 RSA key exchange \(no forward secrecy\), CBC-SHA1 suites; not checked: 3DES/,
      ),
    });
    expect(clean.run.code).toBe(0);
  });

  test('HSTS: a missing header is a warning with the header to add; a max-age under a year is a note', async () => {
    const { site: none } = await site({}, { hsts: false });
    const missing = await doctor(none);
    expect(missing.status).toEqual({ ...ALL_PASS, hsts: 'warn' });
    expect(check(missing.report, 'hsts').reason).toMatch(/^no Strict-Transport-Security header on the HTTPS response/);
    expect(check(missing.report, 'hsts').fix).toContain('"Strict-Transport-Security: max-age=31536000"');
    expect(missing.run.code).toBe(2);

    const { site: short } = await site({}, { hsts: 'max-age=86400; includeSubDomains' });
    const brief = await doctor(short);
    expect(check(brief.report, 'hsts')).toMatchObject({
      status: 'note',
      reason: 'Strict-Transport-Security max-age=86400 (1 days) is shorter than 1 year (31536000)',
    });
    expect(brief.run.code).toBe(0);

    const { site: off } = await site({}, { hsts: 'max-age=0' });
    expect((await doctor(off)).status.hsts).toBe('warn');
  });

  test('pinning: HPKP is obsolete; leaf-only pins get the CA-set advice; pins matching nothing fail', async () => {
    const pin = (cert: Issued) =>
      createHash('sha256').update(Buffer.from(cert.cert.publicKey.rawData)).digest('base64');
    const header = (pins: string[]) => `${pins.map((p) => `pin-sha256="${p}"`).join('; ')}; max-age=5184000`;
    const other = pin(await selfSigned('Unrelated Key'));

    const leafCert = await leaf(inter, { dnsNames: [HOST], scts: 2 });
    const leafOnly = await startSite({
      key: leafCert.keyPem,
      cert: leafCert.certPem + inter.certPem,
      headers: { 'public-key-pins': header([pin(leafCert), other]) },
    });
    sites.push(leafOnly);
    const onLeaf = await doctor(leafOnly);
    expect(onLeaf.status).toEqual({ ...ALL_PASS, pinning: 'warn' });
    expect(check(onLeaf.report, 'pinning').reason).toBe(
      "Public-Key-Pins (HPKP) is obsolete and dangerous: browsers dropped it, and one wrong pin locks visitors out until max-age ends; it pins only the leaf certificate's key, which changes with every renewal",
    );
    expect(check(onLeaf.report, 'pinning').fix).toMatch(
      /^Pin to the CA set \(intermediate and root keys\), not the leaf/,
    );
    expect(onLeaf.run.code).toBe(2);

    const { site: caPinned } = await site({}, { headers: { 'public-key-pins': header([pin(inter), other]) } });
    const onCa = await doctor(caPinned);
    expect(check(onCa.report, 'pinning')).toMatchObject({
      status: 'warn',
      reason: expect.stringContaining('(a pin matches Doctor Test Intermediate CA)'),
    });

    const { site: wrong } = await site({}, { headers: { 'public-key-pins': header([other]) } });
    const mismatch = await doctor(wrong);
    expect(check(mismatch.report, 'pinning')).toMatchObject({
      status: 'fail',
      reason: expect.stringContaining(
        'none of its 1 pin(s) matches a key of the served chain, so clients that still enforce it refuse the site',
      ),
    });
    expect(mismatch.run.code).toBe(1);

    const { site: reportOnly } = await site({}, { headers: { 'public-key-pins-report-only': header([other]) } });
    expect(check((await doctor(reportOnly)).report, 'pinning')).toMatchObject({
      status: 'warn',
      reason: expect.stringContaining('(report-only: violations are reported, not blocked)'),
    });
  });

  test("clock: a local clock days ahead of the server's Date is reported, and an apparent expiry blamed on it", async () => {
    const { site: s } = await site({ notAfter: daysFromNow(90) });
    const ahead = await doctor(s, [], HOST, true, { now: () => Date.now() + 3 * 86_400_000 });
    expect(ahead.status).toEqual({ ...ALL_PASS, clock: 'warn' });
    expect(check(ahead.report, 'clock').reason).toMatch(/^your clock is 3 days ahead of the server's \(server Date /);
    expect(ahead.run.code).toBe(2);

    const expiredHere = await doctor(s, [], HOST, true, { now: () => Date.now() + 100 * 86_400_000 });
    expect(expiredHere.status).toEqual({ ...ALL_PASS, clock: 'warn', validity: 'fail' });
    const validity = check(expiredHere.report, 'validity');
    expect(validity.reason).toMatch(
      /^the certificate looks expired only because this machine's clock is 100 days ahead of the server's; by the server's clock it is valid from /,
    );
    expect(validity.fix).toContain('timedatectl set-ntp true');
    expect(validity.fix).not.toContain('acm-export renew');
    expect(expiredHere.run.code).toBe(1);

    const behind = await doctor(s, [], HOST, true, { now: () => Date.now() - 10 * 86_400_000 });
    expect(check(behind.report, 'validity').reason).toMatch(
      /^the certificate looks not yet valid only because this machine's clock is 10 days behind the server's/,
    );
    // The intermediate is judged by the server's clock too, so the chain is not blamed.
    expect(behind.status.chain).toBe('pass');
  });

  test('NODE_EXTRA_CA_CERTS adds trust anchors like --ca; an unreadable file is a one-line error', async () => {
    const { site: s } = await site();
    const viaEnv = await doctor(s, [], HOST, false, { env: { NODE_EXTRA_CA_CERTS: caFile } });
    expect(viaEnv.status).toEqual(ALL_PASS);
    expect(check(viaEnv.report, 'sct').reason).toContain('only through --ca or NODE_EXTRA_CA_CERTS');
    expect(viaEnv.run.code).toBe(0);

    const missing = join(tempDir(), 'missing.pem');
    const run = await runCli(['doctor', `https://${HOST}:${s.httpsPort}/`], { env: { NODE_EXTRA_CA_CERTS: missing } });
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(
      new RegExp(
        `^acm-export: reading NODE_EXTRA_CA_CERTS: cannot read ${escapeRegExp(missing)} \\(.*ENOENT.*\\)\\. Point NODE_EXTRA_CA_CERTS at a readable PEM file with one or more CA certificates, or unset it\\.\n$`,
      ),
    );
  });

  test('mixed content in inline scripts and CSS: @import fails, background images and script URLs warn', async () => {
    const html = [
      '<html><head>',
      '<script>var s = document.createElement("script"); s.src = "http://cdn.example.test/late.js";',
      'var svg = document.createElementNS("http://www.w3.org/2000/svg", "svg"); // see http://docs.example.test/',
      '</script>',
      '<script type="application/ld+json">{"@context": "http://schema.org"}</script>',
      '<style>@import url("http://cdn.example.test/theme.css"); body { background: url(http://img.example.test/bg.png) }</style>',
      '</head><body><div style="background-image: url(&quot;http://img.example.test/div.png&quot;)"></div></body></html>',
    ].join('\n');
    const { site: s } = await site({}, { html });
    const { run, report, status } = await doctor(s);
    expect(status).toEqual({ ...ALL_PASS, 'mixed-content': 'fail' });
    expect(check(report, 'mixed-content').reason).toBe(
      '4 http:// sub-resource(s), some of which browsers block: <script inline> http://cdn.example.test/late.js, <style @import> http://cdn.example.test/theme.css, <style url()> http://img.example.test/bg.png, <div style> http://img.example.test/div.png',
    );
    expect(run.code).toBe(1);

    const passiveOnly = [
      '<div style="background: url(\'http://img.example.test/a.png\')"></div>',
      '<script>fetch("http://api.example.test/v1")</script>',
    ].join('');
    const { site: p } = await site({}, { html: passiveOnly });
    const warned = await doctor(p);
    expect(check(warned.report, 'mixed-content')).toMatchObject({
      status: 'warn',
      reason: expect.stringMatching(/^2 http:\/\/ reference\(s\) that browsers do not block/),
    });
    expect(warned.run.code).toBe(2);
  });
});
