/**
 * How client commands (`acm-export local renew|ca|associations|drift-check`, `selftest --local`) find the
 * local mode they mean, and check they reached it.
 *
 * Every running `local up` writes `endpoint.json` in its state dir and one file per process in a per-user run
 * directory. A command given a state dir (--state-dir, or ACM_EXPORT_LOCAL_STATE_DIR) talks to that
 * instance only; without one it uses the only running instance of this user and refuses to guess when
 * several run. Before the first request it asks the API which instance it is (`GET /_local/whoami`), so a
 * port taken over by another process, or another local mode, cannot receive the command.
 */
import { existsSync, lstatSync, readdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import * as path from 'node:path';
import { z } from 'zod';
import { ApiClient } from '../cli/api-client';
import type { CliIo } from '../cli/context';
import { ApiError, CliError, errorMessage, oneLine } from '../cli/errors';
import { LOCAL_REGION, readLocalCredentials, type LocalCredentials } from './credentials';
import { ENDPOINT_FILE, ROOT_CA_FILE, type LocalEndpointFile } from './endpoint-file';
import { LocalModeError } from './errors';

/** Environment variable naming the state dir of the local mode client commands talk to (like --state-dir). */
export const STATE_DIR_ENV = 'ACM_EXPORT_LOCAL_STATE_DIR';

const WHAT = 'finding local mode';

/** Per-user directory where each running `local up` announces its endpoint (one file per process). */
export function localRunDir(): string {
  const user =
    typeof process.getuid === 'function'
      ? String(process.getuid())
      : userInfo().username.replace(/[^A-Za-z0-9_.-]/g, '_');
  return path.join(tmpdir(), `acm-export-run-${user}`);
}

/** The file a `local up` process announces itself in. */
export function runDirEndpointFile(runDir: string, pid = process.pid): string {
  return path.join(runDir, `endpoint-${pid}.json`);
}

/** The run directory must be a real directory of this user, not a link or someone else's. */
export function checkRunDir(dir: string): void {
  const st = lstatSync(dir);
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  if (!st.isDirectory() || st.isSymbolicLink() || (uid !== undefined && st.uid !== uid))
    throw new LocalModeError(`${dir} is not a directory owned by this user; remove it and try again`);
}

/** The state dir a client command was given: --state-dir, else ACM_EXPORT_LOCAL_STATE_DIR, else none. */
export function givenStateDir(option: string | undefined, env: CliIo['env']): string | undefined {
  return option ?? (env[STATE_DIR_ENV] || undefined);
}

const EndpointFileSchema = z.object({
  endpoint: z.url(),
  region: z.string(),
  accessKeyId: z.string(),
  pid: z.number().int().positive(),
  root: z.string().min(1),
  instance: z.string().min(1),
  rootCaFile: z.string().optional(),
  awsEndpoint: z.string(),
  preflightDocumentName: z.string(),
  preflightSecretArn: z.string(),
});

/** An endpoint file's content; undefined when it is missing or not one. */
function readEndpointFile(file: string): LocalEndpointFile | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
  const parsed = EndpointFileSchema.safeParse(raw);
  if (!parsed.success) return undefined;
  return { ...parsed.data, rootCaFile: parsed.data.rootCaFile ?? path.join(parsed.data.root, ROOT_CA_FILE) };
}

/** False only when no process has this pid (another user's process counts as running). */
function pidRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** Same directory, also through links and relative paths. */
function sameDir(a: string, b: string): boolean {
  const real = (p: string): string => {
    try {
      return realpathSync(p);
    } catch {
      return path.resolve(p);
    }
  };
  return real(a) === real(b);
}

/** The local modes this user runs (from the run directory); files of processes that are gone are removed. */
export function runningLocalModes(): LocalEndpointFile[] {
  const dir = localRunDir();
  try {
    checkRunDir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    if (error instanceof LocalModeError) throw new CliError(WHAT, error.message, 'Then run the command again.');
    throw error;
  }
  const found: LocalEndpointFile[] = [];
  for (const name of readdirSync(dir)) {
    if (!/^endpoint(-\d+)?\.json$/.test(name)) continue;
    const file = path.join(dir, name);
    const info = readEndpointFile(file);
    if (info && pidRunning(info.pid)) found.push(info);
    // Left by a "local up" that was killed (-9): it cannot remove it any more.
    else rmSync(file, { force: true });
  }
  return found.sort((a, b) => a.root.localeCompare(b.root));
}

const describe = (modes: LocalEndpointFile[]): string =>
  modes.map((m) => `state dir ${m.root}, pid ${m.pid}`).join('; ');

/**
 * The running local mode of `stateDir`, or, without one, the only local mode this user runs. Fails with one
 * line when it is not running (saying why: no endpoint file, a stale one, one of another state dir) or when
 * several run and none was named.
 */
export function findLocalMode(stateDir: string | undefined): LocalEndpointFile {
  if (stateDir === undefined) {
    const running = runningLocalModes();
    if (running.length === 1) return running[0];
    if (running.length === 0)
      throw new CliError(
        WHAT,
        'no running local mode (no "acm-export local up" is running for this user)',
        'Start "acm-export local up" first, or pass --endpoint URL (printed by "local up").',
      );
    throw new CliError(
      WHAT,
      `${running.length} local modes are running (${describe(running)})`,
      `Pick one with --state-dir DIR (or ${STATE_DIR_ENV}=DIR).`,
    );
  }
  const dir = path.resolve(stateDir);
  const others = (): string => {
    const running = runningLocalModes().filter((m) => !sameDir(m.root, dir));
    return running.length ? ` Running now: ${describe(running)} (pass one of these state dirs to use it).` : '';
  };
  if (!existsSync(dir))
    throw new CliError(
      WHAT,
      `the state dir ${dir} does not exist`,
      `Check --state-dir or ${STATE_DIR_ENV}.${others()}`,
    );
  const file = path.join(dir, ENDPOINT_FILE);
  const info = readEndpointFile(file);
  if (!info)
    throw new CliError(
      WHAT,
      `no running local mode with state dir ${dir} (no ${ENDPOINT_FILE} there)`,
      `Start it with "acm-export local up --state-dir ${dir}".${others()}`,
    );
  if (!pidRunning(info.pid))
    throw new CliError(
      WHAT,
      `no running local mode with state dir ${dir}: ${file} is stale (the "local up" that wrote it, pid ${info.pid}, is gone)`,
      `Start it again with "acm-export local up --state-dir ${dir}".${others()}`,
    );
  if (!sameDir(info.root, dir))
    throw new CliError(
      WHAT,
      `${file} belongs to the local mode with state dir ${info.root}, not ${dir}`,
      `Pass --state-dir ${info.root} to use that one.`,
    );
  return info;
}

/**
 * The key pair of the local mode of `info`, from its state dir (the endpoint file holds only the access key
 * id: it may be in a shared directory).
 */
export function localModeCredentials(info: LocalEndpointFile): LocalCredentials {
  const what = `reading the key pair of the local mode with state dir ${info.root}`;
  let credentials: LocalCredentials;
  try {
    credentials = readLocalCredentials(info.root);
  } catch (error) {
    if (error instanceof LocalModeError) throw new CliError(what, error.message, 'Then start local mode again.');
    throw new CliError(what, errorMessage(error), 'Run the command as the user who started local mode.', {
      cause: error,
    });
  }
  if (credentials.accessKeyId !== info.accessKeyId)
    throw new CliError(
      what,
      `its key pair file does not hold the access key id the running local mode announced (${info.accessKeyId})`,
      `Restart it: "acm-export local up --state-dir ${info.root}".`,
    );
  return credentials;
}

const Whoami = z.object({ instance: z.string(), root: z.string(), pid: z.number() });

/**
 * A signed client for the local API of `info`, after checking that the instance answering on its port is
 * that one (a port freed by a stopped local mode may belong to another program or another local mode now).
 */
export async function connectLocalMode(info: LocalEndpointFile, fetch: CliIo['fetch']): Promise<ApiClient> {
  const api = new ApiClient({
    endpoint: new URL(info.endpoint),
    region: LOCAL_REGION,
    credentials: localModeCredentials(info),
    fetch,
  });
  const what = `connecting to the local mode with state dir ${info.root}`;
  const restart = `Its "local up" (pid ${info.pid}) may have stopped; start it again with "acm-export local up --state-dir ${info.root}".`;
  let answer: unknown;
  try {
    answer = await api.request('GET', '/_local/whoami');
  } catch (error) {
    if (error instanceof ApiError)
      throw new CliError(
        what,
        `${info.endpoint} is not that local mode (it answered ${error.status}: ${oneLine(error.apiMessage, 80)})`,
        restart,
      );
    const why = error instanceof CliError ? error.why : errorMessage(error);
    throw new CliError(what, `${info.endpoint} does not answer (${why})`, restart, { cause: error });
  }
  const who = Whoami.safeParse(answer);
  if (!who.success) throw new CliError(what, `${info.endpoint} is not a local mode API`, restart);
  if (who.data.instance !== info.instance)
    throw new CliError(
      what,
      `${info.endpoint} is another local mode now (state dir ${who.data.root}, pid ${who.data.pid})`,
      `${restart} To use the other one, pass --state-dir ${who.data.root}.`,
    );
  return api;
}
