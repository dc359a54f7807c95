/**
 * A private nginx for tests: its own configuration, pid file, logs and temp paths under `dir`, TLS on
 * free 127.0.0.1 ports, run in the foreground as a child of the test (stop it in afterAll).
 *
 *   const nginx = await startNginx({ dir, servers: [{ certificate: crt, key }] });
 *   // install script: ACM_EXPORT_NGINX_CONF=nginx.conf, Service=nginx, VerifyPort=nginx.ports[0]
 *   servedSerial(nginx.ports[0], 'www.example.test');
 *   await nginx.stop();
 *
 * `includeDir` is included inside `http {}`: drop a *.conf there to change (or break) the configuration.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import * as path from 'node:path';
import { waitFor } from './wait';

export interface NginxServer {
  /** ssl_certificate (full chain) path. */
  certificate: string;
  /** ssl_certificate_key path. */
  key: string;
}

export interface TestNginx {
  /** The configuration file (pass as ACM_EXPORT_NGINX_CONF). */
  readonly conf: string;
  /** One port per server, same order. */
  readonly ports: number[];
  /** Directory included inside http {} (`*.conf`). */
  readonly includeDir: string;
  /** nginx's error log so far. */
  errorLog(): string;
  /**
   * Resolves once nginx has handled (and logged) every signal sent to it before the call: it sends the
   * master SIGUSR1 (reopen logs, harmless here) and waits for that to be logged. Pending signals are
   * delivered lowest number first, so a reload (SIGHUP, 1) sent earlier is logged before the reopen (10).
   * Use it before counting reloads, and before asserting that none happened.
   */
  settled(): Promise<void>;
  stop(): Promise<void>;
}

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/** Whether 127.0.0.1:`port` accepts a TCP connection (a server started by a test is up). */
export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function config(dir: string, servers: NginxServer[], ports: number[], includeDir: string): string {
  const tmp = path.join(dir, 'tmp');
  return [
    'daemon off;',
    'master_process on;',
    'worker_processes 1;',
    `pid ${path.join(dir, 'nginx.pid')};`,
    `error_log ${path.join(dir, 'error.log')} notice;`,
    'events { worker_connections 64; }',
    'http {',
    '  access_log off;',
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${path.join(tmp, t)};`),
    ...servers.map((s, i) =>
      [
        '  server {',
        `    listen 127.0.0.1:${ports[i]} ssl;`,
        '    server_name _;',
        `    ssl_certificate ${s.certificate};`,
        `    ssl_certificate_key ${s.key};`,
        '    return 200 "ok\\n";',
        '  }',
      ].join('\n'),
    ),
    `  include ${path.join(includeDir, '*.conf')};`,
    '}',
    '',
  ].join('\n');
}

/** Starts nginx in `dir` (created if needed); resolves once every port accepts connections. */
export async function startNginx(options: { dir: string; servers: NginxServer[] }): Promise<TestNginx> {
  const { dir, servers } = options;
  const includeDir = path.join(dir, 'conf.d');
  mkdirSync(path.join(dir, 'tmp'), { recursive: true });
  mkdirSync(includeDir, { recursive: true });
  const conf = path.join(dir, 'nginx.conf');
  for (let attempt = 0; ; attempt++) {
    const ports = await Promise.all(servers.map(() => freePort()));
    writeFileSync(conf, config(dir, servers, ports, includeDir));
    const child: ChildProcess = spawn('nginx', ['-c', conf, '-e', path.join(dir, 'error.log')], { stdio: 'ignore' });
    let exited = false;
    let spawnError: Error | undefined;
    child.once('exit', () => {
      exited = true;
    });
    child.once('error', (err) => {
      exited = true;
      spawnError = err;
    });
    const deadline = Date.now() + 10_000;
    while (!exited && Date.now() < deadline) {
      const up = await Promise.all(ports.map(canConnect));
      if (up.every(Boolean)) {
        return {
          conf,
          ports,
          includeDir,
          errorLog: () => readFileSync(path.join(dir, 'error.log'), 'utf8'),
          settled: async () => {
            const reopens = () =>
              (readFileSync(path.join(dir, 'error.log'), 'utf8').match(/signal 10 \(SIGUSR1\) received/g) ?? []).length;
            const before = reopens();
            if (!child.pid) throw new Error('nginx has no pid');
            process.kill(child.pid, 'SIGUSR1');
            await waitFor(() => reopens() > before, 5000, 'nginx to log the SIGUSR1 sent to settle it');
          },
          stop: () => stopChild(child),
        };
      }
      await sleep(50);
    }
    if (spawnError) throw new Error(`cannot run nginx (install nginx-light): ${spawnError.message}`);
    await stopChild(child);
    if (attempt >= 4) {
      throw new Error(`nginx did not start: ${readFileSync(path.join(dir, 'error.log'), 'utf8').slice(-2000)}`);
    }
  }
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGQUIT');
  });
}

/** Serial (upper-case hex) served on 127.0.0.1:port for SNI `serverName`, or '' if none. */
export function servedSerial(port: number, serverName: string): string {
  const hello = spawnSync('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', serverName], {
    input: '',
    encoding: 'utf8',
    timeout: 10_000,
  });
  const x509 = spawnSync('openssl', ['x509', '-noout', '-serial'], { input: hello.stdout ?? '', encoding: 'utf8' });
  return x509.status === 0 ? x509.stdout.trim().replace(/^serial=/, '') : '';
}
