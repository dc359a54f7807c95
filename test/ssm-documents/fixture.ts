/** Shared set-up for the install script tests: a temp root, a test CA, the fake aws and a secret store. */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { formatSecret, type CertificateBundle } from '../../lambda/acm-export/secret-format';
import type { DocumentKind } from '../../ssm-documents/load';
import { createFakeAws, type FakeAws } from '../helpers/fake-aws';
import { runInstall, type InstallParams, type InstallRun } from '../helpers/install-script';
import { createTestCa, issueCertificate, type IssueOptions, type IssuedCertificate, type TestCa } from '../helpers/pki';

export const REGION = 'eu-west-1';
export const SECRET_ID = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:acm-export/site-AbC123';

export interface Fixture {
  root: string;
  ca: TestCa;
  aws: FakeAws;
  /** TMPDIR given to the script; must be empty after every run. */
  tmpDir: string;
  /** Every secret-ish string handed out, to scan output for. */
  secrets: string[];
  /**
   * Issues a certificate and stores it as a new secret version; returns it with its version id. createdDate:
   * the version's CreatedDate (default: the fake's, 2026-01-01).
   */
  publish(
    options: IssueOptions,
    tamper?: (bundle: CertificateBundle) => CertificateBundle,
    createdDate?: string,
  ): IssuedCertificate & { versionId: string };
  /** Stores an arbitrary SecretString as a new version. */
  publishRaw(secretString: string, createdDate?: string): string;
  /** Stores an issued certificate as a new version of another secret; returns the version id. */
  storeAs(secretId: string, issued: IssuedCertificate): string;
  /** Document parameters for a version, installing into root/<slot>/{certs,private} (hooks: root/<slot>/hooks.d). */
  params(versionId: string, slot?: string, extra?: InstallParams): InstallParams;
  /** Runs a document's program (default: install). */
  run(params: InstallParams, env?: Record<string, string>, program?: DocumentKind): Promise<InstallRun>;
  cleanup(): void;
}

export function createFixture(name: string): Fixture {
  const root = mkdtempSync(path.join(tmpdir(), `acm-export-${name}-`));
  const tmpDir = path.join(root, 'tmp');
  mkdirSync(tmpDir);
  const ca = createTestCa(path.join(root, 'ca'));
  const aws = createFakeAws(path.join(root, 'aws'));
  const secrets: string[] = [];
  const addVersion = (secretId: string, secretString: string, createdDate?: string) => {
    const versionId = randomUUID();
    aws.addSecretVersion({ region: REGION, secretId, versionId, secretString, createdDate });
    return versionId;
  };
  const publishRaw = (secretString: string, createdDate?: string) => addVersion(SECRET_ID, secretString, createdDate);
  const bundleOf = (issued: IssuedCertificate): CertificateBundle => ({
    certificate: issued.certificate,
    chain: issued.chain,
    encryptedPrivateKey: issued.encryptedPrivateKey,
    passphrase: issued.passphrase,
  });
  return {
    root,
    ca,
    aws,
    tmpDir,
    secrets,
    publish(options, tamper = (b) => b, createdDate) {
      const issued = issueCertificate(ca, options);
      secrets.push(issued.passphrase, issued.privateKey, issued.encryptedPrivateKey);
      return { ...issued, versionId: publishRaw(formatSecret(tamper(bundleOf(issued))), createdDate) };
    },
    publishRaw,
    storeAs: (secretId, issued) => addVersion(secretId, formatSecret(bundleOf(issued))),
    params(versionId, slot = 'node', extra = {}) {
      return {
        CertName: 'site',
        SecretId: SECRET_ID,
        SecretVersionId: versionId,
        Region: REGION,
        CertDir: path.join(root, slot, 'certs'),
        KeyDir: path.join(root, slot, 'private'),
        Service: 'none',
        VerifyPort: '0',
        KeyGroup: '',
        ...extra,
      };
    },
    run(params, env = {}, program = 'install') {
      // Custom inventory goes under the test root, never to the machine's /var/lib. Each slot is a node of its
      // own: its state (record, lock, inventory fragments) and custom inventory beside its directories.
      const node = nodeDirOf(root, params);
      const where = {
        ACM_EXPORT_INVENTORY_DIR: path.join(node, 'inventory'),
        ACM_EXPORT_STATE_DIR: path.join(node, 'state'),
        ACM_EXPORT_LOG_DIR: path.join(root, 'log'),
        // A hostile CertDir (the parameter tests) gets a hooks directory of its own.
        ACM_EXPORT_HOOKS_DIR: /^(\/[\w.-]+)+$/.test(params.CertDir ?? '')
          ? hooksDirOf(params)
          : path.join(root, 'hooks.d'),
        ACM_EXPORT_TAKEOVER_DIR: path.join(root, 'takeover.d'),
      };
      return runInstall({ program, params, path: [aws.binDir], tmpDir, env: { ...where, ...env } });
    },
    cleanup() {
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/**
 * The node directory of a run: `<root>/nodes/<slot>` for a CertDir in a slot (`<root>/<slot>/...`), beside
 * the slot so that a snapshot of the slot holds only its files; the root for a CertDir outside it (the
 * hostile-value tests). Its state and inventory directories are `state` and `inventory` below it, unless the
 * test sets them.
 */
export function nodeDirOf(root: string, params: InstallParams): string {
  const rel = path.relative(root, params.CertDir ?? '');
  const first = rel.split(path.sep)[0];
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) && first ? path.join(root, 'nodes', first) : root;
}

/**
 * The hooks directory of a slot: beside its CertDir. The hooks directory is not a document parameter; the
 * fixture points the script at it with ACM_EXPORT_HOOKS_DIR (an environment variable Run Command cannot set).
 */
export function hooksDirOf(params: InstallParams): string {
  return path.join(path.dirname(params.CertDir ?? '/etc/ssl/certs'), 'hooks.d');
}

/** A deploy hook that prints the serial it saw and exits 7; returns its path (remove it after the test). */
export function writeFailingHook(params: InstallParams): string {
  mkdirSync(hooksDirOf(params), { recursive: true, mode: 0o755 });
  const hook = path.join(hooksDirOf(params), '50-fail');
  writeFileSync(hook, '#!/bin/sh\necho "deploy hook saw $ACM_EXPORT_SERIAL" >&2\nexit 7\n', { mode: 0o755 });
  return hook;
}

/**
 * A directory `<root>/<name>-bin` holding an `openssl` that logs its subcommand to `<root>/<name>.log`, runs the
 * shell lines `before` (which may answer or fail in its place), then runs the real openssl. Put `bin` first on
 * the script's PATH; `subcommands()` are the ones logged so far.
 */
export function loggingOpenssl(root: string, name: string, before = ''): { bin: string; subcommands: () => string[] } {
  const bin = path.join(root, `${name}-bin`);
  const log = path.join(root, `${name}.log`);
  mkdirSync(bin, { recursive: true });
  const real = execFileSync('bash', ['-c', 'command -v openssl'], { encoding: 'utf8' }).trim();
  writeFileSync(
    path.join(bin, 'openssl'),
    `#!/bin/sh\nprintf '%s\\n' "$1" >>'${log}'\n${before}exec '${real}' "$@"\n`,
    {
      mode: 0o755,
    },
  );
  return { bin, subcommands: () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : []) };
}

/** Lines of base64 from PEM bodies (and raw passphrases) that must never appear in output. */
export function secretFragments(secrets: string[]): string[] {
  const out: string[] = [];
  for (const s of secrets) {
    if (!s.includes('-----')) {
      out.push(s);
      continue;
    }
    for (const line of s.split('\n')) if (/^[A-Za-z0-9+/=]{40,}$/.test(line)) out.push(line.slice(0, 40));
  }
  return out;
}

/** Files under dir, relative, sorted (for "nothing else was written" checks). */
/** Whether anything is at a path: a file, a directory or a link (a dangling one too). */
export function present(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

export function listTree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      out.push(r);
      if (e.isDirectory()) walk(path.join(d, e.name), r);
    }
  };
  walk(dir, '');
  return out.sort();
}

/** Values that must never get past any parameter's pattern. */
export const HOSTILE_VALUES: Record<string, string> = {
  semicolon: 'a;id',
  commandSubstitution: '$(id)',
  backticks: '`id`',
  relativeTraversal: '../../etc/passwd',
  absoluteTraversal: '/etc/ssl/../../root',
  newline: 'site\nid',
  trailingNewline: '/etc/ssl/certs\n',
  nul: 'site\u0000id',
  long: 'a'.repeat(300),
  longPath: `/${'a'.repeat(300)}`,
  optionLike: '-rf',
  cyrillicLookAlike: 'sit\u0435',
  fullwidthSlash: '\uff0fetc\uff0fssl',
  fullwidthDigit: '44\uff13',
  pipe: 'nginx|id',
  space: 'none id',
};
