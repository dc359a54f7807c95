/**
 * Runs the real node programs (ssm-documents/install.sh, report.sh, remove.sh, preflight.sh, each joined with
 * its library files exactly as its document ships it) with bash, the way the SSM Agent does with ENV_VAR
 * interpolation: each document parameter becomes SSM_<Name>.
 *
 *   const r = await runInstall({ params: { CertName: 'site', ... }, path: [fakeAws.binDir], tmpDir });
 *   r.code; r.result?.serial;   // result = the parsed JSON line on success
 *   await runInstall({ program: 'report', params: { CertName: 'site', ... } });   // another document's program
 *
 * Only PATH, TMPDIR, HOME, ACM_EXPORT_ALLOW_STICKY_ANCESTOR=1 and what you pass reach the script.
 *
 * The script runs with a placement policy written into it the way the stack writes its own (renderInstallScript):
 * by default TEST_PLACEMENT (the default directories plus the temp directory the test roots live in, the default
 * key accounts plus those the tests name); `placement` runs it with another.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { DocumentKind, documentScript } from '../../ssm-documents/load';
import { DEFAULT_PLACEMENT, PlacementPolicy } from '../../lambda/shared/placement';

/** The install program as committed: for text checks. */
export const INSTALL_SCRIPT_PATH = path.join(__dirname, '..', '..', 'ssm-documents', 'install.sh');

/** The policy the tests' scripts run with unless they pass another. */
export const TEST_PLACEMENT: PlacementPolicy = {
  allowedDirs: [...DEFAULT_PLACEMENT.allowedDirs, tmpdir()],
  keyAccounts: [
    ...DEFAULT_PLACEMENT.keyAccounts,
    'daemon',
    'nobody',
    'no-such-group-xyz',
    'no_such_user_x',
    ...execFileSync('id', ['-Gn'], { encoding: 'utf8' }).trim().split(/\s+/),
    execFileSync('id', ['-un'], { encoding: 'utf8' }).trim(),
  ].filter((name) => /^[a-z_][a-z0-9_-]{0,31}$/.test(name)),
};

let renderedDir: string | undefined;
const rendered = new Map<string, string>();

/**
 * Path of a document's script (default: install) with `placement` written into it (one file per program, policy
 * and test process).
 */
export function installScriptWith(
  placement: PlacementPolicy = TEST_PLACEMENT,
  program: DocumentKind = 'install',
): string {
  const key = JSON.stringify([program, placement]);
  const known = rendered.get(key);
  if (known) return known;
  if (!renderedDir) {
    const dir = mkdtempSync(path.join(tmpdir(), 'acm-export-script-'));
    renderedDir = dir;
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  const file = path.join(renderedDir, `${program}-${rendered.size}.sh`);
  writeFileSync(file, documentScript(program, placement), { mode: 0o644 });
  rendered.set(key, file);
  return file;
}

/** The install document's parameters (values exactly as Run Command would pass them). */
export const DOCUMENT_PARAMETERS = [
  'CertName',
  'SecretId',
  'SecretVersionId',
  'SecretVersionStage',
  'Region',
  'CertDir',
  'KeyDir',
  'KeyGroup',
  'KeyOwner',
  'KeyMode',
  'CertOwner',
  'CertGroup',
  'CertMode',
  'Pkcs12',
  'CombinedPem',
  'Target',
  'Service',
  'VerifyPort',
] as const;
export type InstallParams = Partial<Record<(typeof DOCUMENT_PARAMETERS)[number], string>>;

/**
 * The install document's Run Command parameters for a push of a secret version (as CreateSecret or
 * PutSecretValue answered) to local nodes whose nginx serves it on 443.
 */
export function nginxPushParameters(
  certName: string,
  secret: { ARN?: string; VersionId?: string },
  region: string,
): Record<string, string[]> {
  return {
    CertName: [certName],
    SecretId: [secret.ARN!],
    SecretVersionId: [secret.VersionId!],
    Region: [region],
    Service: ['nginx'],
    VerifyPort: ['443'],
  };
}

/** The success line (see the script header). */
export interface InstallResult {
  node: string;
  certName: string;
  serial: string;
  notAfter: string;
  names: string[];
  files: { cert: string; chain: string; fullchain: string; key: string; combined?: string; pkcs12?: string };
  /** The web server tested and reloaded (Service=auto resolved; none when nothing was reloaded). */
  service: string;
  /** The Service parameter as given (auto, none, nginx, apache2, httpd). */
  requestedService: string;
  reloaded: boolean;
  verified: boolean;
  /** False when the live files already held this version and nothing was written or reloaded. */
  changed: boolean;
  secretVersionId: string;
  /**
   * Why the run installed nothing on purpose: `older than installed` (never downgraded), `target removed from this
   * node`, `<stage> moved on while this run waited`.
   */
  skipped?: string;
  installedSerial?: string;
  installedNotAfter?: string;
}

export interface InstallRun {
  code: number | null;
  stdout: string;
  stderr: string;
  durationMs: number;
  /** Parsed JSON line when the run succeeded. */
  result?: InstallResult;
  /** The final `acm-export: FAILED at ...` line, if any. */
  failure?: string;
}

/** Exit codes of the script, by failed step. */
export const EXIT = {
  parameters: 10,
  preflight: 11,
  lock: 12,
  decrypt: 13,
  validate: 14,
  install: 15,
  configtest: 16,
  reload: 17,
  hooks: 18,
  verify: 19,
  internal: 20,
  rollbackIncomplete: 21,
} as const;

export interface RunInstallOptions {
  /** Which document's program runs. @default 'install' */
  program?: DocumentKind;
  /** Its parameters (another program ignores the install parameters it does not declare). */
  params: InstallParams;
  /** Directories put before the inherited PATH (e.g. the fake aws). */
  path?: string[];
  /** TMPDIR for the script's private work directory. */
  tmpDir?: string;
  /** Extra environment (e.g. ACM_EXPORT_NGINX_CONF). */
  env?: Record<string, string>;
  /**
   * Directories to empty for the run although this machine fills them (e.g. /usr/sbin, to run without the
   * apachectl and nginx that the tests' prerequisites install): the script appends the sbin directories to any
   * PATH, so a PATH cannot hide them. The run then happens in a private mount namespace with an empty tmpfs
   * over each directory.
   */
  emptyDirs?: string[];
  /** Placement policy written into the script. @default TEST_PLACEMENT */
  placement?: PlacementPolicy;
}

export function installEnv(options: RunInstallOptions): Record<string, string> {
  const env: Record<string, string> = {
    PATH: [...(options.path ?? []), process.env.PATH ?? '/usr/bin:/bin'].join(':'),
    HOME: process.env.HOME ?? '/root',
  };
  if (options.tmpDir) env.TMPDIR = options.tmpDir;
  // Test roots live under os.tmpdir() (sticky, world-writable): as root the script refuses targets below
  // such a directory unless told otherwise (see "Directory trust" in the script). Override with '0'.
  env.ACM_EXPORT_ALLOW_STICKY_ANCESTOR = '1';
  // State and custom inventory of a node of its own (`nodes/<slot>` beside the slot of the target
  // directories), unless the test names them: never the machine's /var/lib (the record and the lock of one
  // test would meet another's).
  const certDir = options.params.CertDir ?? '';
  if (/^(\/[\w.-]+)+$/.test(certDir)) {
    const slot = path.dirname(certDir);
    const node = path.join(path.dirname(slot), 'nodes', path.basename(slot));
    env.ACM_EXPORT_STATE_DIR = path.join(node, 'state');
    env.ACM_EXPORT_INVENTORY_DIR = path.join(node, 'inventory');
  }
  for (const [name, value] of Object.entries(options.params)) {
    if (value !== undefined) env[`SSM_${name}`] = value;
  }
  return { ...env, ...options.env };
}

export function runInstall(options: RunInstallOptions): Promise<InstallRun> {
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const emptied = (options.emptyDirs ?? []).filter((dir) => existsSync(dir));
    const script = installScriptWith(options.placement, options.program);
    const [command, args] =
      emptied.length === 0
        ? ['bash', [script]]
        : [
            'unshare',
            [
              '--mount',
              '--propagation',
              'private',
              'bash',
              '-c',
              'for d in "${@:2}"; do mount -t tmpfs -o ro,size=4k,mode=0755 none "$d" || exit 90; done; exec bash "$1"',
              'hide',
              script,
              ...emptied,
            ],
          ];
    const child = spawn(command, args, { env: installEnv(options), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', reject);
    child.once('close', (code) => {
      const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
      const lines = stderr.trimEnd().split('\n');
      const last = lines[lines.length - 1] ?? '';
      const run: InstallRun = { code, stdout, stderr, durationMs };
      if (last.startsWith('acm-export: FAILED at ')) run.failure = last;
      if (code === 0) run.result = JSON.parse(stdout) as InstallResult;
      resolve(run);
    });
  });
}
