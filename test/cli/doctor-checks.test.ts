/** The doctor's rules one by one, without a network. */
import { X509Certificate } from 'node:crypto';
import {
  checkDrift,
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
