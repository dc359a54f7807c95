/**
 * Starting and stopping a test web server (nginx, Apache) run in the foreground as a child of the test: free
 * ports are picked, the server is spawned, and it counts as up once every port accepts connections. A port
 * taken between picking and binding makes the server exit; that is retried with new ports, 5 tries in all.
 */
import type { ChildProcess } from 'node:child_process';
import { createConnection, createServer } from 'node:net';

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

export interface ServerProcessOptions {
  /** How many ports the server listens on. */
  ports: number;
  /** Writes the configuration for these ports and spawns the server. */
  spawn: (ports: number[]) => ChildProcess;
  /** The signal that stops the server at once (SIGKILL follows after 5 s). */
  stopSignal: NodeJS.Signals;
  /** The error when the server's program cannot run at all (never a skip: the prerequisites install it). */
  cannotRun: (spawnError: Error) => string;
  /** The error after the last try, e.g. with the end of the server's error log. */
  didNotStart: () => string;
}

export interface ServerProcess {
  ports: number[];
  child: ChildProcess;
  stop: () => Promise<void>;
}

/** Resolves once every port of a spawned server accepts connections. */
export async function startServerProcess(options: ServerProcessOptions): Promise<ServerProcess> {
  for (let attempt = 0; ; attempt++) {
    const ports = await Promise.all(Array.from({ length: options.ports }, () => freePort()));
    const child = options.spawn(ports);
    let exited = false;
    let spawnError: Error | undefined;
    child.once('exit', () => {
      exited = true;
    });
    child.once('error', (err) => {
      exited = true;
      spawnError = err;
    });
    const stop = () => stopChild(child, options.stopSignal);
    const deadline = Date.now() + 10_000;
    while (!exited && Date.now() < deadline) {
      if ((await Promise.all(ports.map(canConnect))).every(Boolean)) return { ports, child, stop };
      await sleep(50);
    }
    if (spawnError) throw new Error(options.cannotRun(spawnError));
    await stop();
    if (attempt >= 4) throw new Error(options.didNotStart());
  }
}

function stopChild(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill(signal);
  });
}
