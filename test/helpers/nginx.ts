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
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { startServerProcess } from './server-process';
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

export { canConnect, freePort, sleep } from './server-process';

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
  const errorLog = path.join(dir, 'error.log');
  const { ports, child, stop } = await startServerProcess({
    ports: servers.length,
    spawn: (ports) => {
      writeFileSync(conf, config(dir, servers, ports, includeDir));
      return spawn('nginx', ['-c', conf, '-e', errorLog], { stdio: 'ignore' });
    },
    // nginx's quick shutdown.
    stopSignal: 'SIGQUIT',
    cannotRun: (error) => `cannot run nginx (install nginx-light): ${error.message}`,
    didNotStart: () => `nginx did not start: ${readFileSync(errorLog, 'utf8').slice(-2000)}`,
  });
  return {
    conf,
    ports,
    includeDir,
    errorLog: () => readFileSync(errorLog, 'utf8'),
    settled: async () => {
      const reopens = () => (readFileSync(errorLog, 'utf8').match(/signal 10 \(SIGUSR1\) received/g) ?? []).length;
      const before = reopens();
      if (!child.pid) throw new Error('nginx has no pid');
      process.kill(child.pid, 'SIGUSR1');
      await waitFor(() => reopens() > before, 5000, 'nginx to log the SIGUSR1 sent to settle it');
    },
    stop,
  };
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
