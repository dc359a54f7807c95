/** The doctor's rules one by one, without a network. */
import { X509Certificate } from 'node:crypto';
import {
  checkClock,
  checkDrift,
  checkHsts,
  checkRevocation,
  checkWeakTls,
  describeSkew,
  findCssUrls,
  findScriptUrls,
  parsePins,
  serverClock,
  checkProtocol,
  checkRedirect,
  checkSct,
  countEmbeddedScts,
  dnsNameMatches,
  exitCodeOf,
  findInsecureReferences,
  normalizeIp,
  normalizeSerial,
  parseSubjectAltName,
  checkName,
  type CheckResult,
} from '../../cli/doctor/checks';
import { parseResolve, parseDoctorUrl } from '../../cli/doctor/command';
import { leaf, selfSigned, type Issued } from './helpers/pki';

let ca: Issued;
beforeAll(async () => {
  ca = await selfSigned('Unit Test CA');
});

describe('names', () => {
  test.each([
    ['www.example.com', 'www.example.com', true],
    ['WWW.Example.COM.', 'www.example.com', true],
    ['*.example.com', 'login.example.com', true],
    ['*.example.com', 'test.login.example.com', false],
    ['*.example.com', 'example.com', false],
    ['*.example.com', '.example.com', false],
    ['*.com', 'example.com', false],
    ['example.com', 'www.example.com', false],
  ])('%s covers %s: %s', (pattern, host, expected) => {
    expect(dnsNameMatches(pattern, host)).toBe(expected);
  });

  test('subjectAltName text is parsed, quoted values included', () => {
    expect(
      parseSubjectAltName('DNS:a.example.com, DNS:*.b.example.com, IP Address:10.0.0.1, IP Address:0:0:0:0:0:0:0:1'),
    ).toEqual({
      dns: ['a.example.com', '*.b.example.com'],
      ip: ['10.0.0.1', '0:0:0:0:0:0:0:1'],
    });
    expect(parseSubjectAltName('DNS:"we,ird.example.com", DNS:x.example.com')).toEqual({
      dns: ['we,ird.example.com', 'x.example.com'],
      ip: [],
    });
    expect(parseSubjectAltName(undefined)).toEqual({ dns: [], ip: [] });
  });

  test('IP addresses are compared in canonical form', () => {
    expect(normalizeIp('::1')).toBe(normalizeIp('0:0:0:0:0:0:0:1'));
    expect(normalizeIp('[2001:db8::a]')).toBe('2001:db8:0:0:0:0:0:a');
    expect(normalizeIp('::ffff:127.0.0.1')).toBe('0:0:0:0:0:ffff:7f00:1');
    expect(normalizeIp('www.example.com')).toBeUndefined();
  });

  test('an IP host matches only IP names; a certificate without SANs fails', async () => {
    const withIp = new X509Certificate(
      (await leaf(ca, { dnsNames: ['www.example.com'], ipAddresses: ['127.0.0.1'] })).certPem,
    );
    expect(checkName('127.0.0.1', withIp).status).toBe('pass');
    expect(checkName('127.0.0.2', withIp)).toMatchObject({
      status: 'fail',
      reason: expect.stringContaining('no matching IP name'),
    });
    const noSan = new X509Certificate((await leaf(ca, { commonName: 'www.example.com' })).certPem);
    expect(checkName('www.example.com', noSan)).toMatchObject({
      status: 'fail',
      reason: expect.stringContaining('browsers ignore the subject CN=www.example.com'),
    });
  });
});

describe('SCTs', () => {
  test('the embedded SCT list is found and counted', async () => {
    const three = new X509Certificate((await leaf(ca, { dnsNames: ['a.example.com'], scts: 3 })).certPem);
    expect(countEmbeddedScts(three.raw)).toBe(3);
    expect(checkSct(three)).toMatchObject({
      status: 'pass',
      reason: '3 Signed Certificate Timestamps embedded (Certificate Transparency)',
    });
    const none = new X509Certificate((await leaf(ca, { dnsNames: ['a.example.com'] })).certPem);
    expect(countEmbeddedScts(none.raw)).toBeUndefined();
    expect(checkSct(none).status).toBe('warn');
    expect(checkSct(none).fix).toContain('Chrome and Safari require Certificate Transparency');
  });
});

describe('serials and drift', () => {
  test.each([
    ['0a:1b:2c:3d', 'A1B2C3D'],
    ['0A1B2C3D', 'A1B2C3D'],
    ['0x00a1b2', 'A1B2'],
    [' 0a 1b ', 'A1B'],
    ['00', '0'],
  ])('%s normalizes to %s', (input, expected) => {
    expect(normalizeSerial(input)).toBe(expected);
  });

  test('drift passes when any expected serial matches', () => {
    expect(checkDrift('0A1B', ['ff', '0a:1b'], 'inventory').status).toBe('pass');
    expect(checkDrift('0A1B', ['ff', 'ee'], 'inventory')).toMatchObject({
      status: 'fail',
      reason: 'the server presents serial A1B, but the expected serial (inventory) is FF or EE',
    });
  });
});

describe('protocol, redirect, mixed content, exit codes', () => {
  test('TLS 1.2 and 1.3 pass; older versions fail', () => {
    expect(checkProtocol('TLSv1.3').status).toBe('pass');
    expect(checkProtocol('TLSv1.2').status).toBe('pass');
    expect(checkProtocol('TLSv1.1')).toMatchObject({
      status: 'fail',
      reason: 'negotiated TLSv1.1: browsers refuse TLS 1.0 and 1.1',
    });
    expect(checkProtocol('TLSv1').status).toBe('fail');
  });

  test('redirect statuses', () => {
    const answer = (status: number, location?: string) => ({
      ok: true as const,
      status,
      headers: location ? { location } : {},
      body: '',
    });
    expect(checkRedirect(answer(308, 'https://x.example/'), 'http://x.example/').status).toBe('pass');
    expect(checkRedirect(answer(302, 'https://x.example/'), 'http://x.example/')).toMatchObject({
      status: 'pass',
      reason: expect.stringContaining('temporary'),
    });
    expect(checkRedirect(answer(301, 'http://x.example/other'), 'http://x.example/').status).toBe('fail');
    expect(checkRedirect(answer(200), 'http://x.example/').status).toBe('fail');
    expect(checkRedirect({ ok: false, error: 'ETIMEDOUT' }, 'http://x.example/').status).toBe('warn');
  });

  test('mixed content: sub-resources only, links and canonical URLs ignored, comments skipped', () => {
    const refs = findInsecureReferences(`
      <a href="http://a.example/">link</a>
      <link rel="canonical" href="http://a.example/">
      <link rel="icon" href="http://a.example/favicon.ico">
      <!-- <script src="http://commented.example/x.js"></script> -->
      <img srcset="https://ok.example/1.png 1x, http://b.example/2.png 2x">
      <iframe src='http://c.example/frame'></iframe>
      <video poster=http://d.example/p.jpg></video>
    `);
    expect(refs).toEqual([
      { tag: 'link', attribute: 'href', url: 'http://a.example/favicon.ico', active: true },
      { tag: 'img', attribute: 'srcset', url: 'http://b.example/2.png', active: false },
      { tag: 'iframe', attribute: 'src', url: 'http://c.example/frame', active: true },
      { tag: 'video', attribute: 'poster', url: 'http://d.example/p.jpg', active: false },
    ]);
  });

  test('exit code: 0 all pass, 2 warnings only, 1 any failure', () => {
    const c = (status: CheckResult['status']): CheckResult => ({ id: 'name', status, reason: '', fix: null });
    expect(exitCodeOf([c('pass'), c('pass')])).toBe(0);
    expect(exitCodeOf([c('pass'), c('warn')])).toBe(2);
    expect(exitCodeOf([c('warn'), c('fail')])).toBe(1);
    expect(exitCodeOf([c('pass'), c('note')])).toBe(0);
  });
});

describe('arguments', () => {
  test('--resolve like curl, IPv6 with or without brackets', () => {
    const url = parseDoctorUrl('https://www.example.com:8443/path');
    expect(parseResolve('www.example.com:8443:203.0.113.10', url)).toBe('203.0.113.10');
    expect(parseResolve('www.example.com:8443:[2001:db8::1]', url)).toBe('2001:db8::1');
    expect(parseResolve('*:8443:::1', url)).toBe('::1');
    expect(() => parseResolve('www.example.com:443:203.0.113.10', url)).toThrow(/does not match/);
  });

  test('a bare host name means https://host/', () => {
    expect(parseDoctorUrl('www.example.com').toString()).toBe('https://www.example.com/');
  });
});

describe('new checks, rule by rule', () => {
  const page = (headers: Record<string, string>) => ({ ok: true as const, status: 200, headers, body: '' });

  test('HSTS: threshold is one year; a header without max-age is ignored by browsers', () => {
    expect(checkHsts(page({ 'strict-transport-security': 'max-age=31536000' })).status).toBe('pass');
    expect(checkHsts(page({ 'strict-transport-security': 'max-age=31535999' })).status).toBe('note');
    expect(checkHsts(page({ 'strict-transport-security': 'includeSubDomains' }))).toMatchObject({
      status: 'warn',
      reason: expect.stringContaining('has no valid max-age'),
    });
    expect(checkHsts({ ok: false, error: 'ECONNRESET' }).status).toBe('note');
  });

  test('clock: the server time is Date plus Age; skew beyond 5 minutes warns, in the largest unit', () => {
    const date = 'Mon, 01 Jan 2024 00:00:00 GMT';
    expect(serverClock(page({ date, age: '120' }))).toBe(Date.parse(date) + 120_000);
    expect(serverClock(page({}))).toBeUndefined();
    const server = Date.parse(date);
    expect(checkClock(server + 4 * 60_000, server).status).toBe('pass');
    expect(checkClock(server + 6 * 60_000, server).reason).toMatch(/^your clock is 6 minutes ahead of the server's/);
    expect(describeSkew(server - 2 * 3_600_000, server)).toBe('2 hours behind');
    expect(describeSkew(server + 86_400_000, server)).toBe('1 day ahead of');
    expect(checkClock(server, undefined).status).toBe('note');
  });

  test('weak TLS: 3DES or RC4 accepted fails; dated offers warn; nothing accepted passes', () => {
    expect(checkWeakTls([{ offer: '3des', outcome: 'accepted', detail: 'TLSv1.2 DES-CBC3-SHA' }])).toMatchObject({
      status: 'fail',
      reason: expect.stringContaining('these suites are broken'),
    });
    expect(checkWeakTls([{ offer: 'tls1.1', outcome: 'accepted' }]).status).toBe('warn');
    expect(
      checkWeakTls([
        { offer: 'tls1.0', outcome: 'refused' },
        { offer: 'rc4', outcome: 'not-checked', detail: 'no answer in time' },
      ]),
    ).toMatchObject({ status: 'pass', reason: 'refuses TLS 1.0; not checked: RC4 suites (no answer in time)' });
  });

  test('revocation: no OCSP URL and no CRL is a note; unknown status warns', () => {
    expect(checkRevocation({ kind: 'no-source' }).status).toBe('note');
    expect(checkRevocation({ kind: 'status', source: 'CRL http://crl.example/x.crl', status: 'unknown' }).status).toBe(
      'warn',
    );
  });

  test('pins are read from both quoting styles', () => {
    expect(parsePins('pin-sha256="AAA="; pin-sha256=BBB+/=; max-age=10')).toEqual(['AAA=', 'BBB+/=']);
  });

  test('CSS: @import and @font-face URLs are blockable, other url()s passive; comments skipped', () => {
    expect(
      findCssUrls(
        '/* url(http://c.example/x.png) */ @font-face { src: url("http://f.example/a.woff2") } p { background: url(http://i.example/b.png) }',
      ),
    ).toEqual([
      { attribute: '@font-face', url: 'http://f.example/a.woff2', active: true },
      { attribute: 'url()', url: 'http://i.example/b.png', active: false },
    ]);
  });

  test('inline scripts: URLs in code count, namespaces and comments do not', () => {
    expect(
      findScriptUrls(
        'x("http://a.example/1"); /* http://b.example/ */\n// http://c.example/\ny("http://www.w3.org/2000/svg")',
      ),
    ).toEqual(['http://a.example/1']);
  });
});
