/**
 * The doctor's checks as pure functions over what the probe saw, so each rule is testable on its own.
 * Each check says pass / warn / fail, one line why, and (unless it passed) one line what to do.
 */
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { findDrift, normalizeSerial } from '../../lambda/shared/drift';

export type CheckStatus = 'pass' | 'warn' | 'fail';
export type CheckId =
  'connect' | 'name' | 'validity' | 'chain' | 'sct' | 'protocol' | 'http-redirect' | 'mixed-content' | 'drift';

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

export function checkValidity(leaf: X509Certificate, now: number): CheckResult {
  const { notBefore, notAfter } = certDates(leaf);
  const day = (d: Date) =>
    d
      .toISOString()
      .replace('T', ' ')
      .replace(/\.\d+Z$/, ' UTC');
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

export function checkSct(leaf: X509Certificate): CheckResult {
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
    `${references.length} http:// ${active ? 'sub-resource(s), some of which browsers block' : 'image/media reference(s); browsers show the page as not fully secure'}: ${list}${more}`,
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

/** 0 when every check passed, 1 when any failed, 2 for warnings only. */
export function exitCodeOf(checks: CheckResult[]): number {
  if (checks.some((check) => check.status === 'fail')) return 1;
  if (checks.some((check) => check.status === 'warn')) return 2;
  return 0;
}
