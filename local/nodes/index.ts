/**
 * Local managed nodes. A node is a directory `<root>/nodes/<id>/` with tags and its own HTTPS server
 * on 127.0.0.1: real nginx when `nginx` is on PATH (own prefix, config, pid and logs in the node
 * directory), otherwise a built-in Node HTTPS server that an `nginx` shim tests and reloads.
 *
 * Running a document step on a node = `bash -c <script>` with the parameters as the SSM agent passes
 * them (SSM_<Name> environment variables), except that path parameters (CertDir, KeyDir) are
 * mapped inside the node directory and VerifyPort is mapped to the node's own HTTPS port, plus
 * AWS_SSM_INSTANCE_ID, ACM_EXPORT_NGINX_CONF, ACM_EXPORT_INVENTORY_DIR / ACM_EXPORT_STATE_DIR (the node's
 * custom inventory, collected by the emulator after every run), ACM_EXPORT_HOOKS_DIR / ACM_EXPORT_LOG_DIR
 * (the node's fixed hooks directory and its hooks.log, mapped like the paths; not document parameters),
 * ACM_EXPORT_TAKEOVER_DIR (the node's takeover directory, mapped the same way) and
 * a PATH whose first entry holds the node's `aws` shim. The script creates CertDir and KeyDir itself and checks that nobody but
 * the running user (or root) can change them or any directory above them up to the nearest sticky
 * world-writable one (/tmp), so every directory local mode creates is 0755 (0700 for keys) and owned by
 * the user; ACM_EXPORT_ALLOW_STICKY_ANCESTOR=1 lets the script (when run as root) accept roots under /tmp.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import * as path from 'node:path';
import { connect as tlsConnect, type PeerCertificate } from 'node:tls';
import { selfSignedPlaceholder } from '../ca';
import type { LocalCredentials } from '../credentials';
import type { ForcedOutcome, NodeFaults } from '../faults';
import type { AwsEmulator } from '../aws-emulator';
import { DEFAULT_PLACEMENT, type PlacementPolicy } from '../../lambda/shared/placement';
import {
  LOCAL_AGENT_VERSION,
  type CustomInventoryItem,
  type NodeExecutor,
  type StepRequest,
  type StepResult,
} from '../aws-emulator/managed-nodes';
import { SsmService } from '../aws-emulator/ssm';
import { LocalModeError } from '../errors';
import { writeAwsShim, writeNginxShim } from './shims';

export type NodeServerKind = 'nginx' | 'builtin';

export interface LocalNodeOptions {
  /** Local-mode root; the node lives in `<root>/nodes/<id>/`. */
  root: string;
  /** Local name (node-1, ...); also the nginx server_name and the SSM ComputerName. */
  name: string;
  tags: Record<string, string>;
  /** Emulator the node's `aws` shim talks to. */
  aws: { endpoint: string; region: string; credentials: LocalCredentials };
  /** File stem the HTTPS server serves (`<CertDir>/<certName>.fullchain.pem`, `<KeyDir>/<certName>.key`). Default `site`. */
  certName?: string;
  /** `auto` (default): nginx when on PATH, else builtin (unless ACM_EXPORT_LOCAL_NGINX=required: see resolveServerKind). */
  server?: NodeServerKind | 'auto';
  /** Reuse this managed node id (otherwise read from the node directory, or new). */
  instanceId?: string;
  faults?: NodeFaults;
  /** Extra environment for every step (e.g. ACM_EXPORT_VERIFY_SECONDS). */
  env?: Record<string, string>;
}

/** Parameters that name a path on the node: mapped under `<node>/root`. */
export const PATH_PARAMETERS = ['CertDir', 'KeyDir'] as const;
const DEFAULT_DIRS = {
  CertDir: '/etc/ssl/certs',
  KeyDir: '/etc/ssl/private',
  /** Not a parameter: the one directory the script runs hooks from (ACM_EXPORT_HOOKS_DIR here). */
  HooksDir: '/etc/acm-export/hooks.d',
  /** Not a parameter: where the operator allows acm-export to take over files it did not write. */
  TakeoverDir: '/etc/acm-export/takeover.d',
  HooksLogDir: '/var/log/acm-export',
} as const;
const FAULT_HOOK = '50-local-fault-fail-install';

/**
 * Placement policy of the local install document: every node's files live under `<root>/nodes` (paths mapped
 * as above), so that is the one allowed directory. The API still checks requests against the stack's own
 * policy on the unmapped paths, so local mode accepts exactly the requests the deployed stack accepts.
 */
export function localPlacement(root: string): PlacementPolicy {
  return { allowedDirs: [path.join(path.resolve(root), 'nodes')], keyAccounts: DEFAULT_PLACEMENT.keyAccounts };
}
const MAX_OUTPUT = 1024 * 1024;

export function nginxAvailable(): boolean {
  // process.env given explicitly: the PATH as this module sees it (a test runner may sandbox it).
  return spawnSync('sh', ['-c', 'command -v nginx'], { stdio: 'ignore', env: process.env }).status === 0;
}

/** Environment variable that turns `auto`'s fallback to the built-in server into an error. */
export const NGINX_REQUIRED_ENV = 'ACM_EXPORT_LOCAL_NGINX';

/**
 * The server a node runs. `auto` falls back to the built-in server when nginx is missing, so the demo runs
 * anywhere; with ACM_EXPORT_LOCAL_NGINX=required (the tests set it) a missing nginx is an error instead, so
 * a test that claims to exercise nginx never passes against the stand-in: it must ask for `builtin`.
 */
export function resolveServerKind(
  kind: NodeServerKind | 'auto' = 'auto',
  env: NodeJS.ProcessEnv = process.env,
): NodeServerKind {
  if (kind !== 'auto') return kind;
  if (nginxAvailable()) return 'nginx';
  if (env[NGINX_REQUIRED_ENV] === 'required')
    throw new LocalModeError(
      `nginx is not on PATH and ${NGINX_REQUIRED_ENV}=required: install it (sudo apt-get install -y nginx-light) or ask for the built-in server (server: 'builtin', nginx: 'never')`,
    );
  return 'builtin';
}

async function freePort(): Promise<number> {
  const srv = createNetServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function withoutDir(pathList: string | undefined, dir: string): string {
  return (pathList ?? '/usr/local/bin:/usr/bin:/bin')
    .split(':')
    .filter((d) => d && path.resolve(d) !== dir)
    .join(':');
}

export class LocalNode implements NodeExecutor {
  readonly instanceId: string;
  readonly dir: string;
  readonly rootDir: string;
  readonly certName: string;
  readonly serverKind: NodeServerKind;
  port = 0;
  faults: NodeFaults;
  private https?: HttpsServer;
  private control?: HttpServer;
  private controlPort = 0;
  private nginxStarted = false;
  private builtinReloads = 0;
  private nginxReloadBase = 0;

  constructor(private readonly options: LocalNodeOptions) {
    const nodesDir = path.join(options.root, 'nodes');
    let id = options.instanceId;
    if (!id && existsSync(nodesDir)) {
      for (const entry of readdirSync(nodesDir)) {
        const meta = path.join(nodesDir, entry, 'node.json');
        if (existsSync(meta) && (JSON.parse(readFileSync(meta, 'utf8')) as { name: string }).name === options.name)
          id = entry;
      }
    }
    this.instanceId = id ?? SsmService.newInstanceId();
    this.dir = path.join(nodesDir, this.instanceId);
    this.rootDir = path.join(this.dir, 'root');
    this.certName = options.certName ?? 'site';
    this.serverKind = resolveServerKind(options.server);
    this.faults = { ...(options.faults ?? {}) };
  }

  get name(): string {
    return this.options.name;
  }

  get tags(): Record<string, string> {
    return this.options.tags;
  }

  /** Node-side path of a document path parameter value. */
  mapPath(value: string): string {
    return path.join(this.rootDir, value);
  }

  get certDir(): string {
    return this.mapPath(DEFAULT_DIRS.CertDir);
  }

  get keyDir(): string {
    return this.mapPath(DEFAULT_DIRS.KeyDir);
  }

  get hooksDir(): string {
    return this.mapPath(DEFAULT_DIRS.HooksDir);
  }

  get takeoverDir(): string {
    return this.mapPath(DEFAULT_DIRS.TakeoverDir);
  }

  get confPath(): string {
    return path.join(this.dir, 'server', this.serverKind === 'nginx' ? 'nginx.conf' : 'server.json');
  }

  private get certFile(): string {
    return path.join(this.certDir, `${this.certName}.fullchain.pem`);
  }

  private get keyFile(): string {
    return path.join(this.keyDir, `${this.certName}.key`);
  }

  /** Custom inventory directory (ACM_EXPORT_INVENTORY_DIR) and the script's state (ACM_EXPORT_STATE_DIR). */
  get inventoryDir(): string {
    return path.join(this.dir, 'inventory');
  }

  get stateDir(): string {
    return path.join(this.dir, 'state');
  }

  /**
   * Starts the node's HTTPS server. When anything fails after the server was launched (nginx daemonizes),
   * the server is stopped again before the error propagates.
   */
  async start(): Promise<void> {
    this.stopped = false;
    try {
      await this.startServer();
    } catch (error) {
      await this.stop().catch(() => undefined);
      throw error;
    }
  }

  private async startServer(): Promise<void> {
    // Every directory from the nodes directory down is created 0755 (keys 0700) whatever the umask:
    // the install script refuses directories that others could change.
    for (const d of [
      path.join(this.options.root, 'nodes'),
      this.dir,
      path.join(this.dir, 'bin'),
      path.join(this.dir, 'server'),
      path.join(this.dir, 'server', 'tmp'),
      path.join(this.dir, 'work'),
    ])
      ensureDir(d, 0o755);
    // The server needs a certificate before the first install: a placeholder in the default locations, and
    // (as an operator would) the takeover file that lets the first install replace it.
    ensureDirs(this.rootDir, this.certDir, 0o755);
    ensureDirs(this.rootDir, this.keyDir, 0o700);
    writeFileSync(
      path.join(this.dir, 'node.json'),
      JSON.stringify({ instanceId: this.instanceId, name: this.name, tags: this.tags }, null, 2),
    );
    writeAwsShim(path.join(this.dir, 'bin', 'aws'));
    if (this.serverKind === 'builtin') writeNginxShim(path.join(this.dir, 'bin', 'nginx'));
    if (!existsSync(this.certFile) || !existsSync(this.keyFile)) {
      const placeholder = await selfSignedPlaceholder(`${this.name}.local`);
      writeFileSync(this.certFile, placeholder.certificatePem, { mode: 0o644 });
      writeFileSync(this.keyFile, placeholder.privateKeyPem, { mode: 0o600 });
      ensureDirs(this.rootDir, this.takeoverDir, 0o755);
      writeFileSync(path.join(this.takeoverDir, this.certName), '');
      chmodSync(path.join(this.takeoverDir, this.certName), 0o644);
    }
    this.port = await freePort();
    if (this.serverKind === 'nginx') await this.startNginx();
    else await this.startBuiltin();
    this.applyFaults();
  }

  // ---- servers ----------------------------------------------------------------------------------

  private nginxConf(broken: boolean): string {
    const s = path.join(this.dir, 'server');
    return [
      'daemon on;',
      'worker_processes 1;',
      `pid ${s}/nginx.pid;`,
      `error_log ${s}/error.log notice;`,
      'events { worker_connections 64; }',
      'http {',
      '  access_log off;',
      `  client_body_temp_path ${s}/tmp/body;`,
      `  proxy_temp_path ${s}/tmp/proxy;`,
      `  fastcgi_temp_path ${s}/tmp/fastcgi;`,
      `  uwsgi_temp_path ${s}/tmp/uwsgi;`,
      `  scgi_temp_path ${s}/tmp/scgi;`,
      '  server {',
      `    listen 127.0.0.1:${this.port} ssl;`,
      `    server_name ${this.name};`,
      `    ssl_certificate ${this.certFile};`,
      `    ssl_certificate_key ${this.keyFile};`,
      `    location / { default_type text/plain; return 200 "${this.name}\\n"; }`,
      '  }',
      ...(broken ? ['  local_fault_switch_breaks_this_config on;'] : []),
      '}',
      '',
    ].join('\n');
  }

  /** Writes the server config; the config-test fault breaks it (a running server keeps its loaded config). */
  private writeConf(intact = false): void {
    const broken = !intact && this.faults.failConfigTest === true;
    if (this.serverKind === 'nginx') writeFileSync(this.confPath, this.nginxConf(broken));
    else
      writeFileSync(
        this.confPath,
        broken
          ? '{ "broken by a local fault switch": '
          : JSON.stringify({
              port: this.port,
              controlPort: this.controlPort,
              certificate: this.certFile,
              certificateKey: this.keyFile,
            }),
      );
  }

  private async startNginx(): Promise<void> {
    this.writeConf(true);
    const s = path.join(this.dir, 'server');
    const r = spawnSync('nginx', ['-p', `${s}/`, '-e', `${s}/error.log`, '-c', this.confPath], { encoding: 'utf8' });
    if (r.status !== 0)
      throw new Error(`nginx failed to start for ${this.name}: ${(r.stderr || r.stdout || '').trim().slice(0, 500)}`);
    this.nginxStarted = true;
    this.nginxReloadBase = this.nginxReloadsLogged();
    await this.waitForPort();
  }

  private async waitForPort(): Promise<void> {
    const deadline = Date.now() + 5000;
    for (;;) {
      try {
        await this.servedCertificate();
        return;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await sleep(25);
      }
    }
  }

  private loadBuiltinContext(): { cert: Buffer; key: Buffer } {
    const cfg = JSON.parse(readFileSync(this.confPath, 'utf8')) as { certificate: string; certificateKey: string };
    return { cert: readFileSync(cfg.certificate), key: readFileSync(cfg.certificateKey) };
  }

  private async startBuiltin(): Promise<void> {
    this.control = createHttpServer((req, res) => {
      if (req.method === 'POST' && req.url === '/reload') {
        // Fault switch: the reload is acknowledged, the server keeps what it serves.
        if (this.faults.staleReload) {
          res.writeHead(200).end('reloaded\n');
          return;
        }
        try {
          this.https!.setSecureContext(this.loadBuiltinContext());
          this.builtinReloads++;
          res.writeHead(200).end('reloaded\n');
        } catch (err) {
          res.writeHead(500).end(err instanceof Error ? err.message : 'reload failed');
        }
      } else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => this.control!.listen(0, '127.0.0.1', resolve));
    this.controlPort = (this.control.address() as AddressInfo).port;
    this.writeConf(true);
    this.https = createHttpsServer({ ...this.loadBuiltinContext() }, (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' }).end(`${this.name}\n`);
    });
    await new Promise<void>((resolve) => this.https!.listen(this.port, '127.0.0.1', resolve));
  }

  /** Scripts running on this node (pushes and association runs), stopped with the node. */
  private readonly runningScripts = new Set<ChildProcess>();
  private stopped = false;

  async stop(): Promise<void> {
    this.stopped = true;
    // A script still installing would keep writing into the node directory while it is being removed.
    await Promise.allSettled(
      [...this.runningScripts].map(
        (child) =>
          new Promise<void>((resolve) => {
            child.once('close', () => resolve());
            try {
              process.kill(-child.pid!, 'SIGKILL');
            } catch {
              resolve();
            }
          }),
      ),
    );
    if (this.serverKind === 'nginx' && this.nginxStarted) {
      const pid = this.nginxMasterPid();
      if (pid !== undefined) {
        try {
          process.kill(pid, 'SIGQUIT');
        } catch {
          /* already gone */
        }
        const deadline = Date.now() + 5000;
        while (Date.now() < deadline) {
          try {
            process.kill(pid, 0);
            await sleep(20);
          } catch {
            break;
          }
        }
      }
      this.nginxStarted = false;
    }
    if (this.https) {
      this.https.closeAllConnections();
      await new Promise<void>((resolve) => this.https!.close(() => resolve()));
      this.https = undefined;
    }
    if (this.control) {
      this.control.closeAllConnections();
      await new Promise<void>((resolve) => this.control!.close(() => resolve()));
      this.control = undefined;
    }
  }

  /** The pid of this node's nginx master, from its pid file; undefined when there is none. */
  private nginxMasterPid(): number | undefined {
    const pidFile = path.join(this.dir, 'server', 'nginx.pid');
    const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : NaN;
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  }

  /**
   * Resolves once the last reload has finished: the nginx master runs no worker beyond its one (worker_processes
   * 1). Until an old worker has exited it may still accept a connection and serve the previous certificate,
   * whatever the new worker served before. Gives up after `timeoutMs` (the caller's check then shows what is
   * served). The built-in server swaps its certificate in place: always settled.
   */
  async reloadSettled(timeoutMs = 5000): Promise<void> {
    const master = this.serverKind === 'nginx' ? this.nginxMasterPid() : undefined;
    if (master === undefined) return;
    const workers = () => {
      let n = 0;
      for (const entry of readdirSync('/proc')) {
        if (!/^\d+$/.test(entry)) continue;
        try {
          // /proc/<pid>/stat: "pid (comm) state ppid ...": the comm may hold spaces, so read after its ')'.
          const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
          if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === master) n++;
        } catch {
          /* the process ended while listed */
        }
      }
      return n;
    };
    const deadline = Date.now() + timeoutMs;
    while (workers() > 1 && Date.now() < deadline) await sleep(20);
  }

  /** The certificate the node serves now (TLS handshake to its port with SNI). */
  servedCertificate(
    servername = this.name,
    ca?: string,
  ): Promise<PeerCertificate & { authorized: boolean; authorizationError?: string }> {
    return new Promise((resolve, reject) => {
      const socket = tlsConnect(
        { host: '127.0.0.1', port: this.port, servername, rejectUnauthorized: false, ...(ca ? { ca } : {}) },
        () => {
          const cert = socket.getPeerCertificate();
          const result = Object.assign(cert, {
            authorized: socket.authorized,
            ...(socket.authorizationError ? { authorizationError: String(socket.authorizationError) } : {}),
          });
          socket.end();
          resolve(result);
        },
      );
      socket.setTimeout(3000, () => socket.destroy(new Error('TLS handshake timed out')));
      socket.on('error', reject);
    });
  }

  // ---- faults -----------------------------------------------------------------------------------

  setFaults(faults: NodeFaults): void {
    this.faults = { ...faults };
    this.applyFaults();
  }

  private applyFaults(): void {
    const hook = path.join(this.hooksDir, FAULT_HOOK);
    if (this.faults.failInstall) ensureDirs(this.rootDir, this.hooksDir, 0o755);
    if (this.faults.failInstall)
      writeFileSync(hook, '#!/bin/sh\necho "local fault switch: this node\'s install fails" >&2\nexit 1\n', {
        mode: 0o755,
      });
    else rmSync(hook, { force: true });
    if (this.serverKind === 'nginx') this.writeStaleReloadWrapper();
    this.writeConf();
  }

  /**
   * nginx: the stale-reload switch puts an `nginx` first on the node's PATH that acknowledges
   * `-s reload` without signalling the server and passes everything else to the real nginx.
   */
  private writeStaleReloadWrapper(): void {
    const wrapper = path.join(this.dir, 'bin', 'nginx');
    if (!this.faults.staleReload) {
      rmSync(wrapper, { force: true });
      return;
    }
    const real = spawnSync('sh', ['-c', 'command -v nginx'], {
      encoding: 'utf8',
      env: { ...process.env, PATH: withoutDir(process.env.PATH, path.join(this.dir, 'bin')) },
    }).stdout.trim();
    if (!real) throw new Error('staleReload: nginx is not on PATH');
    writeFileSync(
      wrapper,
      [
        '#!/bin/sh',
        '# local fault switch: reload is acknowledged but not applied',
        'prev=',
        'for a in "$@"; do',
        '  if [ "$prev" = "-s" ] && [ "$a" = "reload" ]; then exit 0; fi',
        '  prev=$a',
        'done',
        `exec '${real.replace(/'/g, "'\\''")}' "$@"`,
        '',
      ].join('\n'),
      { mode: 0o755 },
    );
  }

  /**
   * How many times the HTTPS server reloaded since the node started: SIGHUPs nginx logged ("reconfiguring"),
   * or reloads the built-in server applied.
   */
  reloadCount(): number {
    if (this.serverKind === 'builtin') return this.builtinReloads;
    return this.nginxReloadsLogged() - this.nginxReloadBase;
  }

  private nginxReloadsLogged(): number {
    const log = path.join(this.dir, 'server', 'error.log');
    if (!existsSync(log)) return 0;
    return readFileSync(log, 'utf8')
      .split('\n')
      .filter((l) => /signal 1 \(SIGHUP\) received.*reconfiguring/.test(l)).length;
  }

  /** Reloads the HTTPS server with the files it is configured with (as an operator would after editing them). */
  async reload(): Promise<void> {
    const reloadsBefore = this.reloadCount();
    const env = {
      ...process.env,
      PATH: `${path.join(this.dir, 'bin')}:${process.env.PATH ?? '/usr/bin:/bin'}`,
      ACM_EXPORT_NGINX_CONF: this.confPath,
    };
    const args =
      this.serverKind === 'nginx'
        ? ['-p', `${path.join(this.dir, 'server')}/`, '-c', this.confPath, '-s', 'reload']
        : ['-c', this.confPath, '-s', 'reload'];
    // Asynchronous: the built-in server answers the reload from this very process's event loop (a
    // synchronous spawn would deadlock); bounded, so a server that never answers fails the caller.
    const r = await new Promise<{ ok: boolean; stderr: string }>((resolve) => {
      execFile(
        'nginx',
        args,
        { encoding: 'utf8', env, timeout: 15_000, killSignal: 'SIGKILL' },
        (error, _stdout, stderr) => resolve({ ok: !error, stderr: stderr || error?.message || '' }),
      );
    });
    if (!r.ok) throw new Error(`reload of ${this.name} failed: ${r.stderr.trim().slice(0, 300)}`);
    const started = Date.now();
    // nginx applies a reload asynchronously: wait until the master logged it (up to 5 s).
    if (this.serverKind === 'nginx')
      while (Date.now() - started < 5000 && this.reloadCount() === reloadsBefore) await sleep(20);
  }

  // ---- NodeExecutor -----------------------------------------------------------------------------

  /** The custom inventory file the install script wrote (`<inventory dir>/AcmExportCertificate.json`). */
  collectInventory(): CustomInventoryItem[] | undefined {
    if (!existsSync(this.inventoryDir)) return undefined;
    const items: CustomInventoryItem[] = [];
    for (const entry of readdirSync(this.inventoryDir)) {
      if (!entry.endsWith('.json') || entry.startsWith('.')) continue;
      items.push(JSON.parse(readFileSync(path.join(this.inventoryDir, entry), 'utf8')) as CustomInventoryItem);
    }
    return items;
  }

  isOnline(): boolean {
    return this.faults.offline !== true;
  }

  forcedOutcome(): ForcedOutcome | undefined {
    return this.faults.outcome;
  }

  agentVersion(): string {
    return this.faults.agentVersion ?? LOCAL_AGENT_VERSION;
  }

  environmentFor(request: StepRequest): Record<string, string> {
    const env: Record<string, string> = {
      PATH: `${path.join(this.dir, 'bin')}:${process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin'}`,
      HOME: process.env.HOME ?? this.dir,
      LANG: 'C.UTF-8',
      TMPDIR: path.join(this.dir, 'work'),
      AWS_SSM_INSTANCE_ID: this.instanceId,
      AWS_SSM_REGION_NAME: this.options.aws.region,
      AWS_REGION: this.options.aws.region,
      AWS_ENDPOINT_URL: this.options.aws.endpoint,
      AWS_ACCESS_KEY_ID: this.options.aws.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: this.options.aws.credentials.secretAccessKey,
      ACM_EXPORT_NGINX_CONF: this.confPath,
      ACM_EXPORT_INVENTORY_DIR: this.inventoryDir,
      ACM_EXPORT_STATE_DIR: this.stateDir,
      ACM_EXPORT_HOOKS_DIR: this.hooksDir,
      ACM_EXPORT_TAKEOVER_DIR: this.takeoverDir,
      ACM_EXPORT_LOG_DIR: this.mapPath(DEFAULT_DIRS.HooksLogDir),
      ACM_EXPORT_ALLOW_STICKY_ANCESTOR: '1',
      ...(this.options.env ?? {}),
      ...(this.faults.secretDenied ? { ACM_EXPORT_LOCAL_AWS_DENY: '1' } : {}),
    };
    for (const [k, v] of Object.entries(request.environment)) {
      const param = k.slice(4);
      if ((PATH_PARAMETERS as readonly string[]).includes(param) && v.startsWith('/')) env[k] = this.mapPath(v);
      else if (param === 'VerifyPort' && v !== '0') env[k] = String(this.port);
      else env[k] = v;
    }
    return env;
  }

  async runStep(request: StepRequest): Promise<StepResult> {
    // A slow node: the delay is part of the step, so it counts against the step's execution timeout.
    const delayMs = this.faults.delayMs ?? 0;
    if (delayMs >= request.timeoutMs) {
      await sleep(request.timeoutMs);
      return { exitCode: -1, stdout: '', stderr: '', timedOut: true };
    }
    if (delayMs > 0) await sleep(delayMs);
    // A stopped node runs nothing more (commands still being dispatched while local mode shuts down).
    if (this.stopped) return { exitCode: 1, stdout: '', stderr: 'the node was stopped\n', timedOut: false };
    const timeoutMs = request.timeoutMs - delayMs;
    const env = this.environmentFor(request);
    return new Promise<StepResult>((resolve) => {
      const child = spawn('bash', ['-c', request.script], {
        env,
        cwd: request.workingDirectory ? this.mapPath(request.workingDirectory) : path.join(this.dir, 'work'),
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      this.runningScripts.add(child);
      let stdout = '';
      let stderr = '';
      let timedOut = false;
      child.stdout.on('data', (d: Buffer) => {
        if (stdout.length < MAX_OUTPUT) stdout += d.toString('utf8');
      });
      child.stderr.on('data', (d: Buffer) => {
        if (stderr.length < MAX_OUTPUT) stderr += d.toString('utf8');
      });
      const timer = setTimeout(() => {
        timedOut = true;
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          /* gone */
        }
      }, timeoutMs);
      child.on('error', (err) => {
        this.runningScripts.delete(child);
        clearTimeout(timer);
        resolve({ exitCode: 127, stdout, stderr: `${stderr}${err.message}\n`, timedOut: false });
      });
      child.on('close', (code, signal) => {
        this.runningScripts.delete(child);
        clearTimeout(timer);
        resolve({ exitCode: code ?? (signal ? 128 : 1), stdout, stderr, timedOut });
      });
    });
  }
}

/** Starts a node, applies the emulator's fault switches for it (by name or id) and registers it with SSM. */
export async function startLocalNode(
  emulator: AwsEmulator,
  options: Omit<LocalNodeOptions, 'aws'>,
): Promise<LocalNode> {
  const node = new LocalNode({
    ...options,
    aws: { endpoint: emulator.endpoint, region: emulator.region, credentials: emulator.credentials },
  });
  const envFaults = { ...(emulator.faults.nodes[node.name] ?? {}), ...(emulator.faults.nodes[node.instanceId] ?? {}) };
  node.faults = { ...envFaults, ...node.faults };
  await node.start();
  emulator.ssm.registerNode({ instanceId: node.instanceId, name: node.name, tags: node.tags, executor: node });
  return node;
}

/** Starts `count` nodes named node-1..node-N with the same tags. */
export async function startLocalNodes(
  emulator: AwsEmulator,
  options: Omit<LocalNodeOptions, 'aws' | 'name'> & { count: number },
): Promise<LocalNode[]> {
  const { count, ...rest } = options;
  const starts = await Promise.allSettled(
    Array.from({ length: count }, (_, i) => startLocalNode(emulator, { ...rest, name: `node-${i + 1}` })),
  );
  const started = starts.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = starts.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    // Wait for all of them (above), then stop and forget every node that did start.
    await Promise.allSettled(started.map((n) => n.stop()));
    for (const n of started) emulator.ssm.deregisterNode(n.instanceId);
    throw failed.reason;
  }
  return started;
}

/** Creates `dir` (and missing parents) and sets its mode, whatever the umask. */
function ensureDir(dir: string, mode: number): void {
  mkdirSync(dir, { recursive: true, mode });
  if ((statSync(dir).mode & 0o7777) !== mode) chmodSync(dir, mode);
}

/** Creates every directory from `base` down to `dir`: 0755, the last one `mode`. */
function ensureDirs(base: string, dir: string, mode: number): void {
  const rel = path.relative(base, dir);
  let cur = base;
  ensureDir(cur, 0o755);
  const parts = rel.split(path.sep).filter(Boolean);
  parts.forEach((p, i) => {
    cur = path.join(cur, p);
    ensureDir(cur, i === parts.length - 1 ? mode : 0o755);
  });
}
