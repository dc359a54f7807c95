/**
 * The doctor's checks as pure functions over what the probe saw, so each rule is testable on its own.
 * Each check says pass / warn / fail, one line why, and (unless it passed) one line what to do.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { findDrift, normalizeSerial } from '../../lambda/shared/drift';

/** `note` is information only (a check that does not apply, or a minor point): it never changes the exit code. */
export type CheckStatus = 'pass' | 'note' | 'warn' | 'fail';
export type CheckId =
  | 'connect'
  | 'name'
  | 'validity'
  | 'clock'
  | 'chain'
  | 'revocation'
  | 'sct'
  | 'protocol'
  | 'weak-tls'
  | 'http-redirect'
  | 'hsts'
  | 'pinning'
  | 'mixed-content'
  | 'drift';

export interface CheckResult {
  id: CheckId;
  status: CheckStatus;
  reason: string;
  fix: string | null;
}

const DAY_MS = 86_400_000;
/** Browsers and ACM alike treat a certificate this close to expiry as a problem to act on. */
export const EXPIRY_WARN_DAYS = 30;
/** Embedded SCT list extension (RFC 6962 §3.3). */
export const SCT_LIST_OID = '1.3.6.1.4.1.11129.2.4.2';

function result(id: CheckId, status: CheckStatus, reason: string, fix: string | null = null): CheckResult {
  return { id, status, reason, fix: status === 'pass' ? null : fix };
}

/** Common name of a distinguished name as Node prints it (`C=US\nO=...\nCN=name`). */
export function commonName(dn: string): string {
  const cn = dn.split('\n').find((part) => part.startsWith('CN='));
  return cn ? cn.slice(3) : dn.replace(/\n/g, ', ');
}

// ---------------------------------------------------------------------------------------------------------------
// Names

export interface SubjectAltNames {
  dns: string[];
  ip: string[];
}

/** Parses Node's `subjectAltName` string (`DNS:a.example, IP Address:127.0.0.1`; values with commas are quoted). */
export function parseSubjectAltName(text: string | undefined): SubjectAltNames {
  const names: SubjectAltNames = { dns: [], ip: [] };
  if (!text) return names;
  const pattern = /(DNS|IP Address):("(?:[^"\\]|\\.)*"|[^,]*)(?:,\s*|$)/g;
  for (const match of text.matchAll(pattern)) {
    let value = match[2].trim();
    if (value.startsWith('"')) {
      try {
        value = JSON.parse(value) as string;
      } catch {
        value = value.slice(1, -1);
      }
    }
    if (match[1] === 'DNS') names.dns.push(value.toLowerCase().replace(/\.$/, ''));
    else names.ip.push(value);
  }
  return names;
}

/** Canonical text of an IP address (IPv6 expanded to 8 groups, lower case), or undefined. */
export function normalizeIp(value: string): string | undefined {
  const ip = value.replace(/^\[|\]$/g, '');
  const kind = isIP(ip);
  if (kind === 4)
    return ip
      .split('.')
      .map((part) => String(Number(part)))
      .join('.');
  if (kind !== 6) return undefined;
  let text = ip.toLowerCase();
  const v4 = text.match(/(\d+\.\d+\.\d+\.\d+)$/);
  if (v4) {
    const [a, b, c, d] = v4[1].split('.').map(Number);
    text = text.slice(0, -v4[1].length) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::');
  const headParts = head ? head.split(':') : [];
  const tailParts = tail !== undefined && tail ? tail.split(':') : [];
  const fill = text.includes('::') ? 8 - headParts.length - tailParts.length : 0;
  const groups = [...headParts, ...Array<string>(fill).fill('0'), ...tailParts];
  return groups.map((group) => parseInt(group, 16).toString(16)).join(':');
}

/** True when `pattern` (a SAN dNSName) covers `host`; a wildcard is a whole left-most label covering exactly one label. */
export function dnsNameMatches(pattern: string, host: string): boolean {
  const p = pattern.toLowerCase().replace(/\.$/, '');
  const h = host.toLowerCase().replace(/\.$/, '');
  if (!p.startsWith('*.')) return p === h;
  const rest = p.slice(2);
  if (!rest.includes('.')) return false; // "*.com" is never valid
  const dot = h.indexOf('.');
  return dot > 0 && h.slice(dot + 1) === rest;
}

function listNames(names: string[], max = 5): string {
  if (names.length === 0) return 'none';
  return names.length > max ? `${names.slice(0, max).join(', ')} and ${names.length - max} more` : names.join(', ');
}

export function checkName(host: string, leaf: X509Certificate): CheckResult {
  const sans = parseSubjectAltName(leaf.subjectAltName);
  const fix = `Serve a certificate whose names include ${host} (request the ACM certificate with ${host} as a subject alternative name), or use a host name the certificate covers.`;
  const ip = normalizeIp(host);
  if (ip) {
    const match = sans.ip.find((value) => normalizeIp(value) === ip);
    if (match) return result('name', 'pass', `${host} is an IP address in the certificate`);
    return result(
      'name',
      'fail',
      `${host} is an IP address, and the certificate has no matching IP name (IP names: ${listNames(sans.ip)}; DNS names: ${listNames(sans.dns)})`,
      fix,
    );
  }
  if (sans.dns.length === 0) {
    return result(
      'name',
      'fail',
      `the certificate has no DNS subject alternative names (browsers ignore the subject CN=${commonName(leaf.subject)})`,
      fix,
    );
  }
  const exact = sans.dns.find((name) => !name.startsWith('*.') && dnsNameMatches(name, host));
  if (exact) return result('name', 'pass', `${host} matches the certificate name ${exact}`);
  const wildcard = sans.dns.find((name) => name.startsWith('*.') && dnsNameMatches(name, host));
  if (wildcard) return result('name', 'pass', `${host} is covered by the wildcard ${wildcard}`);
  const h = host.toLowerCase();
  const deeper = sans.dns.find(
    (name) => name.startsWith('*.') && h.endsWith(name.slice(1)) && h.length > name.length - 1,
  );
  if (deeper) {
    return result(
      'name',
      'fail',
      `${host} is not covered: the wildcard ${deeper} covers exactly one label (like x${deeper.slice(1)}), not ${h.slice(0, h.length - deeper.length + 1)}${deeper.slice(1)}`,
      `Add ${host} (or *.${h.slice(h.indexOf('.') + 1)}) to the certificate's names, or use a host one label below ${deeper.slice(2)}.`,
    );
  }
  const apex = sans.dns.find((name) => name.startsWith('*.') && name.slice(2) === h);
  if (apex) {
    return result(
      'name',
      'fail',
      `${host} is not covered: the wildcard ${apex} does not cover the bare domain ${h}`,
      `Add ${h} itself to the certificate's names (a certificate for both ${h} and ${apex}).`,
    );
  }
  return result('name', 'fail', `${host} does not match any certificate name (${listNames(sans.dns)})`, fix);
}

// ---------------------------------------------------------------------------------------------------------------
// Validity

export function certDates(cert: X509Certificate): { notBefore: Date; notAfter: Date } {
  return { notBefore: new Date(Date.parse(cert.validFrom)), notAfter: new Date(Date.parse(cert.validTo)) };
}

const day = (d: Date) =>
  d
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, ' UTC');

/**
 * `now` is this machine's clock; `serverNow` the server's (from its Date header) when known. A certificate that
 * is valid by the server's clock but not by ours is a wrong clock, not a certificate to replace.
 */
export function checkValidity(leaf: X509Certificate, now: number, serverNow?: number): CheckResult {
  const { notBefore, notAfter } = certDates(leaf);
  const validAt = (time: number) => time >= notBefore.getTime() && time <= notAfter.getTime();
  if (serverNow !== undefined && !validAt(now) && validAt(serverNow) && skewIsLarge(now, serverNow)) {
    const looks = now > notAfter.getTime() ? 'expired' : 'not yet valid';
    return result(
      'validity',
      'fail',
      `the certificate looks ${looks} only because this machine's clock is ${describeSkew(now, serverNow)} the server's; by the server's clock it is valid from ${day(notBefore)} to ${day(notAfter)}`,
      CLOCK_FIX,
    );
  }
  if (now < notBefore.getTime()) {
    return result(
      'validity',
      'fail',
      `the certificate is not valid yet: it starts ${day(notBefore)}`,
      'Check the clocks of the server and the clients; if a new certificate was installed too early, serve the previous one until it becomes valid.',
    );
  }
  if (now > notAfter.getTime()) {
    const ago = Math.floor((now - notAfter.getTime()) / DAY_MS);
    return result(
      'validity',
      'fail',
      `the certificate expired ${day(notAfter)} (${ago} day(s) ago)`,
      'Install the renewed certificate: "acm-export renew ARN" re-exports the current ACM certificate to every stored target (check "acm-export certificates").',
    );
  }
  const left = Math.floor((notAfter.getTime() - now) / DAY_MS);
  if (left < EXPIRY_WARN_DAYS) {
    return result(
      'validity',
      'warn',
      `the certificate expires in ${left} day(s) (${day(notAfter)})`,
      'ACM renews exportable certificates before expiry; check the renewal in ACM and deploy it with "acm-export renew ARN" if the servers still have the old one.',
    );
  }
  return result('validity', 'pass', `valid until ${day(notAfter)} (${left} days left)`);
}

// ---------------------------------------------------------------------------------------------------------------
// Clock

/** Beyond this difference between this machine's clock and the server's Date header, the clock check warns. */
export const CLOCK_SKEW_WARN_MS = 5 * 60_000;
const CLOCK_FIX =
  'Set the wrong clock right and keep it synchronized (Linux: timedatectl set-ntp true; Windows: Settings > Time > Sync now): clients judge certificate dates by their own clock, so a clock that is off shows a valid certificate as expired or not yet valid.';

function skewIsLarge(now: number, serverNow: number): boolean {
  return Math.abs(now - serverNow) > CLOCK_SKEW_WARN_MS;
}

/** "3 days ahead of" / "10 minutes behind": in the largest whole unit, rounded (the Date header has whole seconds). */
export function describeSkew(now: number, serverNow: number): string {
  const skew = Math.abs(now - serverNow);
  const [size, unit] = skew >= DAY_MS ? [DAY_MS, 'day'] : skew >= 3_600_000 ? [3_600_000, 'hour'] : [60_000, 'minute'];
  const count = Math.round(skew / size);
  return `${count} ${unit}${count === 1 ? '' : 's'} ${now > serverNow ? 'ahead of' : 'behind'}`;
}

/** The server's clock from an answer: its Date header plus Age (a cached answer keeps the origin's Date). */
export function serverClock(answer: HttpAnswer): number | undefined {
  if (!answer.ok) return undefined;
  const date = Date.parse(header(answer.headers, 'date') ?? '');
  if (Number.isNaN(date)) return undefined;
  const age = Number(header(answer.headers, 'age') ?? '0');
  return date + (Number.isFinite(age) && age > 0 ? age * 1000 : 0);
}

export function checkClock(now: number, serverNow: number | undefined): CheckResult {
  if (serverNow === undefined)
    return result('clock', 'note', "the server sent no Date header, so this machine's clock was not compared");
  if (!skewIsLarge(now, serverNow)) {
    return result(
      'clock',
      'pass',
      `this machine's clock is within ${Math.ceil(CLOCK_SKEW_WARN_MS / 60_000)} minutes of the server's Date header`,
    );
  }
  return result(
    'clock',
    'warn',
    `your clock is ${describeSkew(now, serverNow)} the server's (server Date ${new Date(serverNow).toISOString()})`,
    CLOCK_FIX,
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Chain

export interface ChainView {
  /** Whether the TLS stack trusted the chain (host name not included). */
  authorized: boolean;
  authorizationError?: string;
  /** The chain as completed with the trust store, leaf first. */
  chain: X509Certificate[];
  /** The certificates the server itself sent, leaf first. */
  sent: X509Certificate[];
  /** SHA-256 fingerprints of the trust anchors used. */
  anchors: Set<string>;
}

export function isSelfSigned(cert: X509Certificate): boolean {
  if (cert.issuer !== cert.subject) return false;
  try {
    return cert.verify(cert.publicKey);
  } catch {
    return false;
  }
}

const TIME_ERRORS = new Set([
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
]);

export function checkChain(view: ChainView, now: number, certName = '<name>'): CheckResult {
  const { chain, sent } = view;
  const leaf = chain[0];
  const sentText =
    sent.length === 1
      ? 'the server sent only the leaf certificate (no intermediates)'
      : `the server sent ${sent.length} certificates`;
  const path = chain.map((cert) => commonName(cert.subject)).join(' <- ');
  const fullchainFix = `Serve the full chain: point the server at ${certName}.fullchain.pem (nginx ssl_certificate, Apache SSLCertificateFile) instead of ${certName}.crt, then reload it.`;

  const expired = chain.slice(1).find((cert) => {
    const { notBefore, notAfter } = certDates(cert);
    return now > notAfter.getTime() || now < notBefore.getTime();
  });
  if (expired) {
    return result(
      'chain',
      'fail',
      `the chain certificate ${commonName(expired.subject)} is outside its validity period (${expired.validFrom} to ${expired.validTo})`,
      `Serve the current intermediates: re-export (${certName}.chain.pem / ${certName}.fullchain.pem) or fetch them from the CA.`,
    );
  }

  const top = chain[chain.length - 1];
  const anchored = isSelfSigned(top) ? view.anchors.has(top.fingerprint256) : false;
  const trusted = view.authorized || (anchored && TIME_ERRORS.has(view.authorizationError ?? ''));
  if (trusted) {
    if (sent.length === 1 && chain.length > 2) {
      return result(
        'chain',
        'warn',
        `trusted here (${path}), but ${sentText}: this machine had the intermediate locally, other clients will not`,
        fullchainFix,
      );
    }
    return result('chain', 'pass', `trusted: ${path} (${sent.length} sent by the server)`);
  }

  if (chain.length === 1 && isSelfSigned(leaf)) {
    return result(
      'chain',
      'fail',
      `self-signed certificate (${commonName(leaf.subject)} issued itself): no browser trusts it`,
      'Install a certificate from a public CA instead, e.g. an ACM public certificate exported with "acm-export export".',
    );
  }
  if (isSelfSigned(top)) {
    return result(
      'chain',
      'fail',
      `untrusted root: the chain ends at the self-signed ${commonName(top.subject)}, which is not a trusted root (${path})`,
      'Use a certificate from a publicly trusted CA; for a private CA, clients must trust its root (for this check: --ca FILE).',
    );
  }
  const issuer = commonName(top.issuer);
  if (sent.length === 1) {
    return result(
      'chain',
      'fail',
      `incomplete chain: ${sentText}, and its issuer ${issuer} is not a trusted root`,
      fullchainFix,
    );
  }
  return result(
    'chain',
    'fail',
    `unknown issuer: ${path} ends at ${issuer}, which is neither sent by the server nor a trusted root (${sentText})`,
    `${fullchainFix} If the CA is private, clients must trust its root (for this check: --ca FILE).`,
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Revocation

/** What the revocation probe learned (OCSP, a stapled OCSP response, or a CRL). */
export type RevocationAnswer =
  | { kind: 'no-source' }
  | { kind: 'not-checked'; why: string }
  | { kind: 'unreachable'; source: string; error: string }
  | { kind: 'unverified'; source: string; error: string }
  | {
      kind: 'status';
      source: string;
      status: 'good' | 'unknown' | 'revoked';
      /** Revoked only: when and why, as the CA states it. */
      revokedAt?: string;
      reason?: string;
    };

export function checkRevocation(answer: RevocationAnswer): CheckResult {
  switch (answer.kind) {
    case 'no-source':
      return result(
        'revocation',
        'note',
        'not checked: the certificate names no OCSP responder and no CRL distribution point (usual for a private CA)',
      );
    case 'not-checked':
      return result('revocation', 'note', `not checked: ${answer.why}`);
    case 'unreachable':
      return result(
        'revocation',
        'warn',
        `could not ask the ${answer.source} (${answer.error}), so revocation is unknown`,
        'Check that this machine reaches the URL (plain HTTP, usually port 80); browsers that cannot reach it either accept the certificate or refuse it, depending on the browser.',
      );
    case 'unverified':
      return result(
        'revocation',
        'warn',
        `the ${answer.source} gave an answer that does not verify (${answer.error})`,
        "Check the CA's revocation service; a response that does not verify counts as no answer.",
      );
    case 'status':
      if (answer.status === 'good') return result('revocation', 'pass', `not revoked (${answer.source}: good)`);
      if (answer.status === 'unknown') {
        return result(
          'revocation',
          'warn',
          `the ${answer.source} does not know this certificate (status unknown)`,
          'Check that the server presents a certificate the CA actually issued (see the chain check), and that the responder belongs to its issuer.',
        );
      }
      return result(
        'revocation',
        'fail',
        `the certificate is revoked (${answer.source}${answer.revokedAt ? `: revoked ${answer.revokedAt}` : ''}${answer.reason ? `, reason ${answer.reason}` : ''}): browsers refuse it`,
        'A revoked certificate cannot be used again: request a new certificate in ACM, export it to the servers ("acm-export export"), and stop serving the revoked one.',
      );
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Certificate Transparency

const SCT_OID_DER = Buffer.from([0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0xd6, 0x79, 0x02, 0x04, 0x02]);

function readDerLength(buf: Buffer, at: number): { length: number; next: number } | undefined {
  if (at >= buf.length) return undefined;
  const first = buf[at];
  if (first < 0x80) return { length: first, next: at + 1 };
  const count = first & 0x7f;
  if (count === 0 || count > 3 || at + 1 + count > buf.length) return undefined;
  let length = 0;
  for (let i = 0; i < count; i += 1) length = (length << 8) | buf[at + 1 + i];
  return { length, next: at + 1 + count };
}

/**
 * Number of SCTs in the leaf's embedded SCT list extension, or undefined when there is none.
 * Extension = OID [critical] OCTET STRING { OCTET STRING { u16 list length, (u16 length, SCT)* } }.
 */
export function countEmbeddedScts(der: Buffer): number | undefined {
  const at = der.indexOf(SCT_OID_DER);
  if (at < 0) return undefined;
  let pos = at + SCT_OID_DER.length;
  if (der[pos] === 0x01) pos += 3; // BOOLEAN critical
  if (der[pos] !== 0x04) return 0;
  const outer = readDerLength(der, pos + 1);
  if (!outer || der[outer.next] !== 0x04) return 0;
  const inner = readDerLength(der, outer.next + 1);
  if (!inner) return 0;
  const start = inner.next;
  const end = Math.min(start + inner.length, der.length);
  if (end - start < 2) return 0;
  const listEnd = Math.min(start + 2 + der.readUInt16BE(start), end);
  let count = 0;
  for (let p = start + 2; p + 2 <= listEnd;) {
    const length = der.readUInt16BE(p);
    if (length === 0 || p + 2 + length > listEnd) break;
    count += 1;
    p += 2 + length;
  }
  return count;
}

/**
 * `privateAnchor` names the CA the chain ends at when that CA is trusted here only through --ca or
 * NODE_EXTRA_CA_CERTS: browsers demand SCTs only for publicly trusted certificates.
 */
export function checkSct(leaf: X509Certificate, privateAnchor?: string): CheckResult {
  if (privateAnchor !== undefined) {
    return result(
      'sct',
      'note',
      `not checked: the chain ends at ${privateAnchor}, a CA trusted here only through --ca or NODE_EXTRA_CA_CERTS (not a public root), and private-CA certificates need no Certificate Transparency`,
    );
  }
  const count = countEmbeddedScts(leaf.raw);
  const hidden = 'SCTs delivered in the TLS extension or a stapled OCSP response are not visible to this check';
  const fix =
    'Chrome and Safari require Certificate Transparency for publicly trusted certificates: use a certificate issued with CT logging (ACM public certificates embed SCTs unless CT logging was turned off; request or renew it with logging enabled). Private-CA certificates need no SCTs.';
  if (count === undefined || count === 0) {
    return result('sct', 'warn', `no Signed Certificate Timestamps embedded in the certificate (${hidden})`, fix);
  }
  if (count === 1) {
    return result(
      'sct',
      'warn',
      `only 1 embedded Signed Certificate Timestamp; browsers want 2 or more from distinct logs (${hidden})`,
      fix,
    );
  }
  return result('sct', 'pass', `${count} Signed Certificate Timestamps embedded (Certificate Transparency)`);
}

// ---------------------------------------------------------------------------------------------------------------
// Protocol

export function checkProtocol(protocol: string | null): CheckResult {
  if (protocol === 'TLSv1.3' || protocol === 'TLSv1.2') return result('protocol', 'pass', `negotiated ${protocol}`);
  return result(
    'protocol',
    'fail',
    `negotiated ${protocol ?? 'an unknown protocol'}: browsers refuse TLS 1.0 and 1.1`,
    'Enable TLS 1.2 and 1.3 on the server (nginx: ssl_protocols TLSv1.2 TLSv1.3; Apache: SSLProtocol -all +TLSv1.2 +TLSv1.3).',
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Weak protocols and cipher suites

export type WeakOffer = 'tls1.0' | 'tls1.1' | 'rsa-kex' | 'cbc-sha1' | '3des' | 'rc4';

/** One handshake that offered only one kind of weak parameter. */
export interface WeakProbe {
  offer: WeakOffer;
  outcome: 'accepted' | 'refused' | 'not-checked';
  /** Accepted: the suite the server chose. Not checked: why. */
  detail?: string;
}

export const WEAK_OFFER_LABEL: Record<WeakOffer, string> = {
  'tls1.0': 'TLS 1.0',
  'tls1.1': 'TLS 1.1',
  'rsa-kex': 'TLS 1.2 RSA key exchange (no forward secrecy)',
  'cbc-sha1': 'CBC-SHA1 suites',
  '3des': '3DES suites',
  rc4: 'RC4 suites',
};
/** Broken outright (SWEET32, RC4 biases), not merely dated. */
const BROKEN_OFFERS = new Set<WeakOffer>(['3des', 'rc4']);
const MODERN_TLS_FIX =
  'Allow only TLS 1.2 and 1.3 with forward-secret AEAD suites (nginx: ssl_protocols TLSv1.2 TLSv1.3; ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305; on a load balancer, a TLS 1.2+ security policy), then reload.';

export function checkWeakTls(probes: WeakProbe[]): CheckResult {
  const accepted = probes.filter((probe) => probe.outcome === 'accepted');
  const notChecked = probes.filter((probe) => probe.outcome === 'not-checked');
  const skipped = notChecked.length
    ? `; not checked: ${notChecked.map((probe) => `${WEAK_OFFER_LABEL[probe.offer]} (${probe.detail ?? 'no answer'})`).join(', ')}`
    : '';
  if (accepted.length === 0) {
    const refused = probes.filter((probe) => probe.outcome === 'refused').map((probe) => WEAK_OFFER_LABEL[probe.offer]);
    return result('weak-tls', 'pass', `refuses ${refused.length ? refused.join(', ') : 'nothing tested'}${skipped}`);
  }
  const list = accepted
    .map((probe) => `${WEAK_OFFER_LABEL[probe.offer]}${probe.detail ? ` (${probe.detail})` : ''}`)
    .join(', ');
  const broken = accepted.some((probe) => BROKEN_OFFERS.has(probe.offer));
  return result(
    'weak-tls',
    broken ? 'fail' : 'warn',
    `the server accepts ${list}${broken ? ': these suites are broken' : ': browsers use better ones, but an attacker or an old client can get these'}${skipped}`,
    MODERN_TLS_FIX,
  );
}

// ---------------------------------------------------------------------------------------------------------------
// HTTP → HTTPS redirect

export type HttpAnswer =
  | { ok: true; status: number; headers: Record<string, string | string[] | undefined>; body: string }
  | { ok: false; error: string };

export function checkRedirect(answer: HttpAnswer, httpUrl: string): CheckResult {
  const redirectFix =
    'Answer plain HTTP with a permanent redirect to https:// (nginx: return 301 https://$host$request_uri; on a load balancer, an HTTP listener rule that redirects to HTTPS).';
  if (!answer.ok) {
    return result(
      'http-redirect',
      'warn',
      `no answer from ${httpUrl} (${answer.error}): visitors who type http:// get an error instead of the HTTPS site`,
      `Listen on the HTTP port too, and redirect to https://. ${redirectFix}`,
    );
  }
  const location = header(answer.headers, 'location');
  if ([301, 302, 307, 308].includes(answer.status)) {
    if (location && /^https:\/\//i.test(location)) {
      const permanent = answer.status === 301 || answer.status === 308;
      return result(
        'http-redirect',
        'pass',
        `${httpUrl} answers ${answer.status} -> ${location}${permanent ? '' : ' (temporary; a 301 or 308 lets browsers remember it)'}`,
      );
    }
    return result(
      'http-redirect',
      'fail',
      `${httpUrl} redirects (${answer.status}) to ${location ?? 'nowhere'}, which is not an https:// URL`,
      redirectFix,
    );
  }
  return result(
    'http-redirect',
    'fail',
    `${httpUrl} answers ${answer.status} without redirecting to HTTPS: the page is served unencrypted and marked "Not secure"`,
    redirectFix,
  );
}

export function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

// ---------------------------------------------------------------------------------------------------------------
// HSTS

/** One year: shorter lets a returning visitor's protection lapse between visits, and the preload list demands it. */
export const HSTS_MIN_MAX_AGE = 31_536_000;
const HSTS_HEADER = `Strict-Transport-Security: max-age=${HSTS_MIN_MAX_AGE}`;
const HSTS_FIX = `Send "${HSTS_HEADER}" on every HTTPS response (nginx: add_header Strict-Transport-Security "max-age=${HSTS_MIN_MAX_AGE}" always;); add includeSubDomains once every subdomain serves HTTPS.`;

export function checkHsts(answer: HttpAnswer): CheckResult {
  if (!answer.ok) return result('hsts', 'note', `not checked: the HTTPS page did not answer (${answer.error})`);
  const value = header(answer.headers, 'strict-transport-security');
  if (value === undefined) {
    return result(
      'hsts',
      'warn',
      'no Strict-Transport-Security header on the HTTPS response: browsers keep trying http:// first, where an attacker can keep them off HTTPS',
      HSTS_FIX,
    );
  }
  const maxAge = value.match(/(?:^|;)\s*max-age\s*=\s*"?(\d+)"?\s*(?:;|$)/i);
  if (!maxAge)
    return result(
      'hsts',
      'warn',
      `Strict-Transport-Security "${value.slice(0, 100)}" has no valid max-age, so browsers ignore it`,
      HSTS_FIX,
    );
  const seconds = Number(maxAge[1]);
  if (seconds === 0)
    return result(
      'hsts',
      'warn',
      'Strict-Transport-Security max-age=0 tells browsers to forget HSTS for this host',
      HSTS_FIX,
    );
  if (seconds < HSTS_MIN_MAX_AGE) {
    return result(
      'hsts',
      'note',
      `Strict-Transport-Security max-age=${seconds} (${Math.floor(seconds / 86_400)} days) is shorter than 1 year (${HSTS_MIN_MAX_AGE})`,
      `Raise it to max-age=${HSTS_MIN_MAX_AGE} once HTTPS works everywhere on this host.`,
    );
  }
  return result('hsts', 'pass', `Strict-Transport-Security max-age=${seconds}`);
}

// ---------------------------------------------------------------------------------------------------------------
// Public key pinning (HPKP)

/** The base64 SHA-256 of the certificate's SubjectPublicKeyInfo, the form of an HPKP pin-sha256. */
export function spkiPin(cert: X509Certificate): string {
  return createHash('sha256')
    .update(cert.publicKey.export({ type: 'spki', format: 'der' }))
    .digest('base64');
}

export function parsePins(value: string): string[] {
  return [...value.matchAll(/pin-sha256\s*=\s*"?([A-Za-z0-9+/=]+)"?/gi)].map((match) => match[1]);
}

/** `chain` is the chain as completed with the trust store, leaf first (what a browser pins against). */
export function checkPinning(
  headers: Record<string, string | string[] | undefined>,
  chain: X509Certificate[],
): CheckResult {
  const enforced = header(headers, 'public-key-pins');
  const reportOnly = header(headers, 'public-key-pins-report-only');
  if (enforced === undefined && reportOnly === undefined) return result('pinning', 'pass', 'no Public-Key-Pins header');
  const name = enforced !== undefined ? 'Public-Key-Pins' : 'Public-Key-Pins-Report-Only';
  const pins = new Set(parsePins(enforced ?? reportOnly ?? ''));
  const obsolete = `${name} (HPKP) is obsolete and dangerous: browsers dropped it, and one wrong pin locks visitors out until max-age ends`;
  const removeFix = `Remove the ${name} header; if clients of your own pin keys, pin to the CA set (the intermediate and root keys, e.g. all Amazon Trust Services roots), never to the leaf.`;
  const [leaf, ...cas] = chain;
  const leafPinned = leaf !== undefined && pins.has(spkiPin(leaf));
  const pinnedCa = cas.find((cert) => pins.has(spkiPin(cert)));
  if (pinnedCa)
    return result('pinning', 'warn', `${obsolete} (a pin matches ${commonName(pinnedCa.subject)})`, removeFix);
  if (leafPinned) {
    return result(
      'pinning',
      'warn',
      `${obsolete}; it pins only the leaf certificate's key, which changes with every renewal`,
      `Pin to the CA set (intermediate and root keys), not the leaf: a renewed certificate has a new key. Better: ${removeFix.charAt(0).toLowerCase()}${removeFix.slice(1)}`,
    );
  }
  return result(
    'pinning',
    enforced !== undefined ? 'fail' : 'warn',
    `${obsolete}; none of its ${pins.size} pin(s) matches a key of the served chain${enforced !== undefined ? ', so clients that still enforce it refuse the site' : ' (report-only: violations are reported, not blocked)'}`,
    removeFix,
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Mixed content

export interface InsecureReference {
  tag: string;
  attribute: string;
  url: string;
  /** Blockable content (scripts, frames, styles, forms) is blocked by browsers; the rest is shown with a warning. */
  active: boolean;
}

const TAGS = /<(script|img|iframe|frame|link|form|audio|video|source|embed|object|input|track)\b([^>]*)>/gi;
const ATTRS = /\b(src|href|action|data|poster|srcset|formaction)\s*=\s*("([^"]*)"|'([^']*)'|([^\s"'>]+))/gi;
const ACTIVE_TAGS = new Set(['script', 'iframe', 'frame', 'link', 'form', 'embed', 'object']);
const RESOURCE_RELS = /\b(stylesheet|icon|preload|modulepreload|manifest|prefetch|apple-touch-icon)\b/i;

/** Finds http:// sub-resources (and form targets) in an HTML page. Links (<a href>) are not mixed content. */
export function findInsecureReferences(html: string): InsecureReference[] {
  const found: InsecureReference[] = [];
  const seen = new Set<string>();
  const text = html.replace(/<!--[\s\S]*?-->/g, '');
  for (const tagMatch of text.matchAll(TAGS)) {
    const tag = tagMatch[1].toLowerCase();
    const attrs = tagMatch[2];
    if (tag === 'link') {
      const rel = attrs.match(/\brel\s*=\s*("([^"]*)"|'([^']*)'|([^\s"'>]+))/i);
      const relValue = rel ? (rel[2] ?? rel[3] ?? rel[4] ?? '') : '';
      if (!RESOURCE_RELS.test(relValue)) continue;
    }
    for (const attrMatch of attrs.matchAll(ATTRS)) {
      const attribute = attrMatch[1].toLowerCase();
      const value = (attrMatch[3] ?? attrMatch[4] ?? attrMatch[5] ?? '').trim();
      const urls = attribute === 'srcset' ? value.split(',').map((part) => part.trim().split(/\s+/)[0]) : [value];
      for (const url of urls) {
        if (!/^http:\/\//i.test(url)) continue;
        const key = `${tag} ${url}`;
        if (seen.has(key)) continue;
        seen.add(key);
        found.push({ tag, attribute, url, active: ACTIVE_TAGS.has(tag) });
      }
    }
  }
  const add = (reference: InsecureReference) => {
    const key = `${reference.tag} ${reference.url}`;
    if (seen.has(key)) return;
    seen.add(key);
    found.push(reference);
  };
  for (const block of text.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script\s*>/gi)) {
    const type = block[1].match(/\btype\s*=\s*["']?([^"'\s>]+)/i)?.[1].toLowerCase();
    if (/\bsrc\s*=/i.test(block[1]) || (type && type !== 'module' && !/javascript|ecmascript/.test(type))) continue;
    for (const url of findScriptUrls(block[2])) add({ tag: 'script', attribute: 'inline', url, active: false });
  }
  for (const block of text.matchAll(/<style\b[^>]*>([\s\S]*?)<\/style\s*>/gi)) {
    for (const reference of findCssUrls(block[1])) add({ tag: 'style', ...reference });
  }
  for (const tagMatch of text.matchAll(/<([a-z][a-z0-9-]*)\b([^>]*)>/gi)) {
    for (const attr of tagMatch[2].matchAll(/\bstyle\s*=\s*("([^"]*)"|'([^']*)')/gi)) {
      const css = (attr[2] ?? attr[3] ?? '').replace(/&quot;/g, '"').replace(/&#0*39;|&apos;/g, "'");
      for (const reference of findCssUrls(css))
        add({ tag: tagMatch[1].toLowerCase(), attribute: 'style', url: reference.url, active: false });
    }
  }
  return found;
}

/** XML namespace names look like URLs but are never fetched (SVG built in scripts uses them all the time). */
const NAMESPACE_URL = /^http:\/\/www\.w3\.org\//i;

/**
 * http:// URLs written in an inline script. Whether the script loads them is unknown, so they count as passive
 * (a warning, never a failure); `// line comments` are skipped.
 */
export function findScriptUrls(script: string): string[] {
  const code = script.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[\s;{}])\/\/[^\n]*/g, '$1');
  return [...code.matchAll(/http:\/\/[^\s"'`<>()\\]+/gi)]
    .map((match) => match[0])
    .filter((url) => !NAMESPACE_URL.test(url));
}

/**
 * http:// URLs in CSS: `@import` and `@font-face` sources are blockable (a stylesheet, a font), other `url()`s are
 * images (shown, with a warning).
 */
export function findCssUrls(css: string): { attribute: string; url: string; active: boolean }[] {
  const found: { attribute: string; url: string; active: boolean }[] = [];
  const text = css.replace(/\/\*[\s\S]*?\*\//g, '');
  const fontFaces = [...text.matchAll(/@font-face\s*\{[^}]*\}/gi)].map((m) => [m.index, m.index + m[0].length]);
  for (const match of text.matchAll(/@import\s+(?:url\(\s*)?["']?(http:\/\/[^"')\s;]+)/gi))
    found.push({ attribute: '@import', url: match[1], active: true });
  for (const match of text.matchAll(/url\(\s*["']?(http:\/\/[^"')\s]+)["']?\s*\)/gi)) {
    if (found.some((reference) => reference.url === match[1])) continue;
    const inFont = fontFaces.some(([start, end]) => match.index >= start && match.index < end);
    found.push({ attribute: inFont ? '@font-face' : 'url()', url: match[1], active: inFont });
  }
  return found;
}

export function checkMixedContent(answer: HttpAnswer, pageUrl: string): CheckResult {
  if (!answer.ok)
    return result(
      'mixed-content',
      'warn',
      `could not fetch ${pageUrl} to look for mixed content (${answer.error})`,
      'Check that the page loads over HTTPS, then run the check again.',
    );
  const type = header(answer.headers, 'content-type') ?? '';
  if (type && !/html/i.test(type))
    return result('mixed-content', 'pass', `${pageUrl} is not HTML (${type.split(';')[0]}); nothing to scan`);
  const references = findInsecureReferences(answer.body);
  if (references.length === 0)
    return result('mixed-content', 'pass', `no http:// sub-resources in ${pageUrl} (HTTP ${answer.status})`);
  const csp = header(answer.headers, 'content-security-policy') ?? '';
  const list = references
    .slice(0, 5)
    .map((ref) => `<${ref.tag} ${ref.attribute}> ${ref.url}`)
    .join(', ');
  const more = references.length > 5 ? ` and ${references.length - 5} more` : '';
  if (/upgrade-insecure-requests/i.test(csp)) {
    return result(
      'mixed-content',
      'pass',
      `${references.length} http:// reference(s), upgraded by Content-Security-Policy: upgrade-insecure-requests: ${list}${more}`,
    );
  }
  const active = references.some((ref) => ref.active);
  return result(
    'mixed-content',
    active ? 'fail' : 'warn',
    `${references.length} http:// ${active ? 'sub-resource(s), some of which browsers block' : 'reference(s) that browsers do not block (images, media, URLs in inline scripts or style); once loaded, the page shows as not fully secure'}: ${list}${more}`,
    'Load every resource over https:// (or with a relative URL), or send Content-Security-Policy: upgrade-insecure-requests.',
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Drift

/** The same normalization the drift-check function uses (lambda/shared/drift.ts). */
export { normalizeSerial };

/** One server compared with the expected serial(s) by the shared drift rule (the scheduled drift check's). */
export function checkDrift(servedSerial: string, expected: string[], source: string): CheckResult {
  const drift = findDrift(expected, [{ nodeId: 'server', serial: servedSerial }]);
  const served = normalizeSerial(servedSerial);
  const wanted = drift.expected;
  if (drift.drifting.length === 0)
    return result('drift', 'pass', `the server presents serial ${served}, as expected (${source})`);
  return result(
    'drift',
    'fail',
    `the server presents serial ${served}, but the expected serial (${source}) is ${wanted.join(' or ')}`,
    'The server serves another certificate than the last export: re-install it ("acm-export renew ARN"), and check that the server reads the installed files and was reloaded.',
  );
}

/** 0 when every check passed (notes included), 1 when any failed, 2 for warnings only. */
export function exitCodeOf(checks: CheckResult[]): number {
  // A note never changes the exit code.
  if (checks.some((check) => check.status === 'fail')) return 1;
  if (checks.some((check) => check.status === 'warn')) return 2;
  return 0;
}
