/**
 * Key placement policy: which directories may receive certificate and key files (CertDir, KeyDir), and
 * which accounts may own the key (KeyOwner, KeyGroup). A stack-level setting: the API checks every export
 * against it, and the stack writes it into the install document's script text at synth time, so a caller of
 * SendCommand cannot widen it (a document parameter could be set by any such caller).
 *
 * Some directories are never allowed, whatever the setting: system trees, the filesystem root and broad
 * parents such as /etc itself, and web roots (a key there may be served to anyone).
 */
import * as z from './zod';
import { FIELD_RULES } from './patterns';

export interface PlacementPolicy {
  /** CertDir and KeyDir must equal one of these or lie below it (component-wise). */
  readonly allowedDirs: readonly string[];
  /** Accounts KeyOwner and KeyGroup may name; empty (root) is always allowed. */
  readonly keyAccounts: readonly string[];
}

/** The usual homes of TLS material on Debian, RHEL and Amazon Linux, and of nginx, Apache and HAProxy files. */
export const DEFAULT_ALLOWED_DIRS = [
  '/etc/ssl',
  '/etc/pki',
  '/etc/nginx/ssl',
  '/etc/apache2/ssl',
  '/etc/httpd/ssl',
  '/etc/haproxy',
] as const;

/**
 * root; ssl-cert (Debian's group whose only purpose is reading private keys); and the service accounts of the
 * servers that read the key: www-data (nginx and Apache on Debian/Ubuntu), nginx and apache (RHEL, Amazon
 * Linux), haproxy. General-purpose groups (users, staff, adm, wheel) would hand the key to people.
 */
export const DEFAULT_KEY_ACCOUNTS = ['root', 'ssl-cert', 'www-data', 'nginx', 'apache', 'haproxy'] as const;

export const DEFAULT_PLACEMENT: PlacementPolicy = {
  allowedDirs: DEFAULT_ALLOWED_DIRS,
  keyAccounts: DEFAULT_KEY_ACCOUNTS,
};

/** Never a target, nor anything below them: system trees and web roots. */
export const FORBIDDEN_TREES = [
  '/proc',
  '/dev',
  '/sys',
  '/usr',
  '/bin',
  '/sbin',
  '/lib',
  '/lib64',
  '/boot',
  '/root',
  '/var/www',
  '/srv/www',
  '/srv/http',
  '/usr/share/nginx/html',
  '/var/lib/nginx/html',
] as const;

/** Never a target themselves (too broad: every file beside the key could be replaced or read). */
export const FORBIDDEN_EXACT = ['/', '/etc', '/var', '/srv', '/opt', '/home', '/tmp', '/run'] as const;

/** Whether `dir` equals `prefix` or lies below it, comparing whole components (`/etc/ssl2` is not below `/etc/ssl`). */
export function isAtOrBelow(dir: string, prefix: string): boolean {
  if (prefix === '/') return dir.startsWith('/');
  return dir === prefix || dir.startsWith(`${prefix}/`);
}

/** The forbidden entry `dir` hits, if any. */
export function forbiddenBy(dir: string): string | undefined {
  return (
    (FORBIDDEN_EXACT as readonly string[]).find((f) => f === dir) ?? FORBIDDEN_TREES.find((f) => isAtOrBelow(dir, f))
  );
}

export interface PlacementFields {
  CertDir: string;
  KeyDir: string;
  KeyOwner: string;
  KeyGroup: string;
}

/** One `Field: value rule` line per violation (values already passed the field patterns: paths and POSIX names). */
export function placementProblems(request: PlacementFields, policy: PlacementPolicy): string[] {
  const problems: string[] = [];
  for (const name of ['CertDir', 'KeyDir'] as const) {
    const dir = request[name];
    const hit = forbiddenBy(dir);
    if (hit !== undefined) {
      problems.push(
        hit === dir
          ? `${name}: ${dir} is never allowed (a system directory, a web root or too broad a parent)`
          : `${name}: ${dir} is below ${hit}, which is never allowed (a system directory or a web root)`,
      );
    } else if (!policy.allowedDirs.some((prefix) => isAtOrBelow(dir, prefix))) {
      problems.push(`${name}: ${dir} is not under an allowed directory (${policy.allowedDirs.join(', ')})`);
    }
  }
  for (const name of ['KeyOwner', 'KeyGroup'] as const) {
    const account = request[name];
    if (account !== '' && !policy.keyAccounts.includes(account)) {
      problems.push(`${name}: ${account} is not an allowed key owner or group (${policy.keyAccounts.join(', ')})`);
    }
  }
  return problems;
}

const allowedDir = z.string().check(
  z.maxLength(FIELD_RULES.CertDir.maxLength),
  z.regex(new RegExp(FIELD_RULES.CertDir.pattern), { error: FIELD_RULES.CertDir.rule }),
  z.refine((dir) => forbiddenBy(dir) === undefined, {
    error: 'is a system directory, a web root or too broad a parent, which is never allowed',
  }),
);

const keyAccount = z.string().check(
  z.regex(new RegExp(FIELD_RULES.KeyOwner.pattern), { error: 'must be a POSIX user or group name' }),
  z.refine((name) => name !== '', { error: 'must not be empty' }),
);

export const PlacementPolicySchema = z.strictObject({
  allowedDirs: z
    .array(allowedDir)
    .check(z.minLength(1, { error: 'must name at least one directory' }), z.maxLength(32)),
  keyAccounts: z.array(keyAccount).check(z.minLength(1), z.maxLength(32)),
});

/** Validates a policy from configuration; the message names the entry and the rule. */
export function parsePlacementPolicy(value: unknown, source: string): PlacementPolicy {
  const parsed = PlacementPolicySchema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new Error(`${source}: ${issue.path.join('.')}: ${issue.message}`);
}

/** `PLACEMENT_POLICY` as the stack sets it (JSON); unset: the default policy. */
export function placementFromEnv(raw: string | undefined): PlacementPolicy {
  if (!raw) return DEFAULT_PLACEMENT;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new Error('PLACEMENT_POLICY is not JSON');
  }
  return parsePlacementPolicy(value, 'PLACEMENT_POLICY');
}
