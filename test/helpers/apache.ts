/**
 * A private Apache 2.4 for tests: its own ServerRoot, configuration, pid file, logs and runtime directory under
 * `dir`, TLS on a free 127.0.0.1 port, run in the foreground as a child of the test (stop it in afterAll).
 *
 *   const apache = await startApache({ dir, certificate: crt, key });
 *   // install script: APACHE_CONFDIR=apache.confDir (Debian's apache2ctl reads dir/apache2.conf and
 *   // dir/envvars), PATH starting with apache.binDir, Service=apache2, VerifyPort=apache.port
 *   servedSerial(apache.port, 'www.example.test');
 *   await apache.stop();
 *
 * `includeDir/*.conf` is included at the end of the configuration: drop a file there to add a virtual host or
 * break the configuration. `binDir` holds an `apachectl` that logs its arguments and runs the real one, so a
 * test can tell which calls the install script made, synchronously (a graceful restart is only logged once
 * Apache handled the signal).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { startServerProcess } from './server-process';

export interface TestApache {
  /** ServerRoot and configuration directory (pass as APACHE_CONFDIR). */
  readonly confDir: string;
  /** Port of the virtual host serving `certificate`. */
  readonly port: number;
  /** Directory whose `*.conf` files are included. */
  readonly includeDir: string;
  /** Directory with the logging `apachectl` (put it first on the install script's PATH). */
  readonly binDir: string;
  /** Arguments of each apachectl call through binDir since the last `clearCalls()`. */
  calls(): string[];
  clearCalls(): void;
  /** Graceful restarts Apache has logged so far. */
  gracefulRestarts(): number;
  errorLog(): string;
  stop(): Promise<void>;
}

const MODULES = '/usr/lib/apache2/modules';

function config(dir: string, port: number, certificate: string, key: string, includeDir: string): string {
  const run = path.join(dir, 'run');
  return [
    `ServerRoot ${dir}`,
    'ServerName 127.0.0.1',
    `PidFile ${path.join(dir, 'apache2.pid')}`,
    `ErrorLog ${path.join(dir, 'error.log')}`,
    // notice: graceful restarts are logged ("AH00493: SIGUSR1 received").
    'LogLevel notice',
    `DefaultRuntimeDir ${run}`,
    `LoadModule mpm_event_module ${MODULES}/mod_mpm_event.so`,
    `LoadModule socache_shmcb_module ${MODULES}/mod_socache_shmcb.so`,
    `LoadModule ssl_module ${MODULES}/mod_ssl.so`,
    // Apache refuses to serve as root: started as root, its children run as nobody (ignored otherwise).
    'User #65534',
    'Group #65534',
    'StartServers 1',
    'ServerLimit 1',
    'ThreadsPerChild 4',
    'MinSpareThreads 1',
    'MaxSpareThreads 4',
    'MaxRequestWorkers 4',
    `SSLSessionCache shmcb:${path.join(run, 'ssl_scache')}(65536)`,
    `Listen 127.0.0.1:${port}`,
    `<VirtualHost 127.0.0.1:${port}>`,
    '  SSLEngine on',
    `  SSLCertificateFile ${certificate}`,
    `  SSLCertificateKeyFile ${key}`,
    '</VirtualHost>',
    `IncludeOptional ${path.join(includeDir, '*.conf')}`,
    '',
  ].join('\n');
}

/** Starts Apache in `dir` (created if needed) serving `certificate` and `key`; resolves once its port accepts connections. */
export async function startApache(options: { dir: string; certificate: string; key: string }): Promise<TestApache> {
  const { dir, certificate, key } = options;
  const includeDir = path.join(dir, 'conf.d');
  const binDir = path.join(dir, 'bin');
  const run = path.join(dir, 'run');
  // Debian's apache2ctl creates (and chowns) these unless they exist: keep it out of /var/run and /var/lock.
  for (const d of [includeDir, binDir, path.join(run, 'socks'), path.join(dir, 'lock')])
    mkdirSync(d, { recursive: true });
  const conf = path.join(dir, 'apache2.conf'); // the name apache2ctl reads in APACHE_CONFDIR
  const errorLog = path.join(dir, 'error.log');
  const callLog = path.join(dir, 'apachectl-calls.log');
  writeFileSync(
    path.join(dir, 'envvars'),
    [`export APACHE_RUN_DIR='${run}'`, `export APACHE_LOCK_DIR='${path.join(dir, 'lock')}'`, ''].join('\n'),
  );
  const realApachectl = spawnSync('sh', ['-c', 'command -v apachectl || command -v apache2ctl'], {
    encoding: 'utf8',
    env: { PATH: `${process.env.PATH ?? '/usr/bin:/bin'}:/usr/sbin:/sbin` },
  }).stdout.trim();
  if (!realApachectl) throw new Error('cannot run Apache: apachectl is not on PATH (install apache2)');
  writeFileSync(path.join(binDir, 'apachectl'), `#!/bin/sh\necho "$*" >>'${callLog}'\nexec '${realApachectl}' "$@"\n`, {
    mode: 0o755,
  });
  const readLog = () => (existsSync(errorLog) ? readFileSync(errorLog, 'utf8') : '');
  const {
    ports: [port],
    stop,
  } = await startServerProcess({
    ports: 1,
    spawn: ([port]) => {
      writeFileSync(conf, config(dir, port, certificate, key, includeDir));
      return spawn('apache2', ['-d', dir, '-f', conf, '-DFOREGROUND'], {
        stdio: 'ignore',
        env: { ...process.env, PATH: `${process.env.PATH ?? '/usr/bin:/bin'}:/usr/sbin:/sbin` },
      });
    },
    // SIGTERM stops Apache and its children at once (SIGWINCH would wait for open connections).
    stopSignal: 'SIGTERM',
    cannotRun: (error) => `cannot run apache2 (install apache2): ${error.message}`,
    didNotStart: () => `Apache did not start: ${readLog().slice(-2000)}`,
  });
  return {
    confDir: dir,
    port,
    includeDir,
    binDir,
    calls: () => (existsSync(callLog) ? readFileSync(callLog, 'utf8').trim().split('\n').filter(Boolean) : []),
    clearCalls: () => writeFileSync(callLog, ''),
    gracefulRestarts: () => (readLog().match(/AH00493: SIGUSR1 received/g) ?? []).length,
    errorLog: readLog,
    stop,
  };
}
