/**
 * The SDK floor of a handler's cold start: a bundle built with the handler bundles' esbuild options that only
 * constructs the SDK clients the handler's bundle contains. The clients are found from the handler's esbuild
 * metafile (the modules under lambda/shared/clients/ it bundles), and the floor runs those same modules, so
 * each client is built as the handler builds it, with none of our code, Powertools or X-Ray around it.
 * The libraries floor adds what every handler loads beside the SDK: the clients built through
 * lambda/shared/clients.ts (X-Ray capture when tracing), Powertools as lambda/shared/powertools.ts sets it up,
 * and zod/mini with one schema; above it is the handler's own code.
 */
import * as path from 'node:path';
import { build, type Metafile, type Plugin } from 'esbuild';
import { handlerBuildOptions } from '../lib/constructs/node-function';

const ROOT = path.join(__dirname, '..');
const CLIENT_MODULE = /^lambda\/shared\/clients\/([a-z0-9-]+)\.ts$/;

/** The client modules (repository-relative, e.g. `lambda/shared/clients/ssm.ts`) that `entry`'s bundle contains. */
export async function bundledClientModules(entry: string): Promise<string[]> {
  const result = await build({
    ...handlerBuildOptions(),
    entryPoints: [entry],
    write: false,
    outdir: ROOT,
    metafile: true,
  });
  return bundledInputs(result.metafile, entry)
    .filter((file) => CLIENT_MODULE.test(file))
    .sort();
}

/** The source files that put code into the bundle of a one-entry build (`what` names it in the error). */
function bundledInputs(metafile: Metafile, what: string): string[] {
  const output = Object.values(metafile.outputs).find((o) => o.entryPoint !== undefined);
  if (!output) throw new Error(`${what}: esbuild produced no bundle`);
  return Object.entries(output.inputs)
    .filter(([, input]) => input.bytesInOutput > 0)
    .map(([file]) => file);
}

/** The client name of a client module (`lambda/shared/clients/ssm.ts` is `ssm`). */
export function clientName(module: string): string {
  const m = CLIENT_MODULE.exec(module);
  if (!m) throw new Error(`${module} is not a module under lambda/shared/clients/`);
  return m[1];
}

/** The client modules import `../clients` (cache, X-Ray capture); the floor resolves it to bench/sdk-floor-clients.ts. */
const withoutClientsWrapper: Plugin = {
  name: 'sdk-floor-clients',
  setup(b) {
    b.onResolve({ filter: /^\.\.\/clients$/ }, (args) =>
      path.relative(ROOT, args.importer).startsWith(path.join('lambda', 'shared', 'clients'))
        ? { path: path.join(ROOT, 'bench', 'sdk-floor-clients.ts') }
        : undefined,
    );
  },
};

/**
 * Writes to `outfile` a bundle that constructs the clients of `clientModules` at load (every factory each
 * module exports) and exports a `handler`, as a handler bundle does. Returns the files that put code into it.
 * With `libraries`, the libraries floor: the clients through lambda/shared/clients.ts, Powertools and zod/mini.
 */
export async function buildSdkFloor(
  clientModules: readonly string[],
  outfile: string,
  options: { libraries?: boolean } = {},
): Promise<string[]> {
  for (const m of clientModules) clientName(m);
  const imports = clientModules.map((m, i) => `import * as clients${i} from './${m.replace(/\.ts$/, '')}';`);
  const libraries = options.libraries
    ? [
        "import { logger, metrics } from './lambda/shared/powertools';",
        "import * as z from './lambda/shared/zod';",
        'const used = [logger, metrics, z.object({ id: z.string() })];',
      ]
    : ['const used: unknown[] = [];'];
  const contents = [
    ...imports,
    ...libraries,
    `const modules: Record<string, unknown>[] = [${clientModules.map((_, i) => `clients${i}`).join(', ')}];`,
    'const clients = modules.flatMap((m) => Object.values(m)).map((create) => (create as () => unknown)());',
    'export const handler = async (): Promise<number> => clients.length + used.length;',
  ].join('\n');
  const result = await build({
    ...handlerBuildOptions(),
    stdin: {
      contents,
      resolveDir: ROOT,
      sourcefile: options.libraries ? 'libraries-floor.ts' : 'sdk-floor.ts',
      loader: 'ts',
    },
    outfile,
    metafile: true,
    plugins: options.libraries ? [] : [withoutClientsWrapper],
  });
  return bundledInputs(result.metafile, 'the SDK floor');
}
