import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { TraceMap } from '@jridgewell/trace-mapping';
import { build, transformSync } from 'esbuild';
import { handlerBuildOptions } from '../../lib/constructs/node-function';
import { escapeRegExp } from '../../lambda/shared/regexp';
import { mapPositions, mapStackTraces, renameFrame, sourceLabel } from '../../lambda/shared/stack-trace';

const ROOT = path.join(__dirname, '..', '..');

/** A minified "bundle" of a two-line source and its map, as esbuild writes them. */
const SOURCE = [
  'export function parse(x: string): number {',
  '  if (!x) throw new TypeError("empty");',
  '  return x.length;',
  '}',
];
const built = transformSync(SOURCE.join('\n'), {
  loader: 'ts',
  format: 'cjs',
  minify: true,
  sourcemap: 'external',
  sourcefile: '../../../../build/host/lambda/shared/parse.ts',
});
/** `<line>:<column>` (1-based, as V8 prints them) of `token` in the minified code. */
function generated(token: string): string {
  const lines = built.code.split('\n');
  const line = lines.findIndex((l) => l.includes(token));
  return `${line + 1}:${lines[line].indexOf(token) + 1}`;
}

test('sources are shown from lambda/ for ours and from node_modules/ for packages', () => {
  expect(sourceLabel('../../../../build/host/lambda/shared/errors.ts')).toBe('lambda/shared/errors.ts');
  expect(sourceLabel('../../node_modules/@smithy/core/dist-es/index.js')).toBe(
    'node_modules/@smithy/core/dist-es/index.js',
  );
  expect(sourceLabel('../lambda/node_modules/zod/index.js')).toBe('node_modules/zod/index.js');
  expect(sourceLabel('./other.ts')).toBe('other.ts');
});

test("positions in the bundle become the source's; other files and unmapped positions stay", () => {
  const map = new TraceMap(built.map);
  const trace = [
    'TypeError: empty',
    `    at p (/var/task/index.js:${generated('throw')})`,
    `    at file:///var/task/index.js:${generated('return r.length')}`,
    // esbuild's own helper, in no source.
    `    at /var/task/index.js:${generated('var o=')}`,
    '    at Object.<anonymous> (/var/task/other.js:1:5)',
    `    at q (/var/task/index.js:99:1)`,
  ].join('\n');
  expect(mapPositions(trace, '/var/task/index.js', map).split('\n')).toEqual([
    'TypeError: empty',
    '    at p (lambda/shared/parse.ts:2:11)',
    '    at lambda/shared/parse.ts:3:3',
    `    at /var/task/index.js:${generated('var o=')}`,
    '    at Object.<anonymous> (/var/task/other.js:1:5)',
    '    at q (/var/task/index.js:99:1)',
  ]);
});

test('a frame gets the source name of its function wherever V8 writes the name', () => {
  const at = '(/var/task/index.js:1:2)';
  expect(renameFrame(`nU ${at}`, 'nU', 'parsePayload')).toBe(`parsePayload ${at}`);
  expect(renameFrame(`Object.nU ${at}`, 'nU', 'parsePayload')).toBe(`Object.parsePayload ${at}`);
  expect(renameFrame(`async nU ${at}`, 'nU', 'parsePayload')).toBe(`async parsePayload ${at}`);
  expect(renameFrame(`Ab.nU [as go] ${at}`, 'nU', 'parsePayload')).toBe(`Ab.parsePayload [as go] ${at}`);
  expect(renameFrame(`a$b ${at}`, 'a$b', 'check')).toBe(`check ${at}`);
  // Only the whole name, and only before the location.
  expect(renameFrame(`nUx ${at}`, 'nU', 'parsePayload')).toBe(`nUx ${at}`);
  expect(renameFrame('/var/task/index.js:1:2', 'nU', 'parsePayload')).toBe('/var/task/index.js:1:2');
});

describe('mapStackTraces', () => {
  let dir: string;
  beforeAll(() => (dir = mkdtempSync(path.join(tmpdir(), 'acm-export-stack-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('does nothing without a map beside the bundle (handlers run from source)', () => {
    const before = Error.prepareStackTrace;
    expect(mapStackTraces(path.join(dir, 'index.js'))).toBe(false);
    expect(Error.prepareStackTrace).toBe(before);
  });

  test('in a bundle, reads the map when the first trace is formatted, not when installed', async () => {
    // A source under a lambda/ folder, bundled as the handlers are.
    const source = path.join(dir, 'lambda', 'demo', 'thrower.ts');
    mkdirSync(path.dirname(source), { recursive: true });
    const lines = [
      `import { mapStackTraces } from ${JSON.stringify(path.join(ROOT, 'lambda', 'shared', 'stack-trace'))};`,
      'mapStackTraces(__filename);',
      'export function parseThing(x: string): number {',
      "  if (!x) throw new TypeError('empty');",
      '  return x.length;',
      '}',
      'export const handler = (x: string): number => parseThing(x);',
    ];
    writeFileSync(source, lines.join('\n'));
    const bundle = path.join(dir, 'out', 'index.js');
    await build({ ...handlerBuildOptions(), entryPoints: [source], outfile: bundle });
    /** The first two frames of the error the bundle throws, after `prepare` ran (the install is done by then). */
    const frames = (prepare: string): string[] => {
      const script = `const m = require(process.argv[1]); ${prepare}; try { m.handler(''); } catch (e) { process.stdout.write(e.stack); }`;
      const run = spawnSync(process.execPath, ['-e', script, bundle], { encoding: 'utf8', timeout: 20_000 });
      return run.stdout.split('\n').slice(0, 3);
    };
    expect(frames('')).toEqual([
      'TypeError: empty',
      '    at parseThing (lambda/demo/thrower.ts:4:17)',
      // An arrow function: V8's name for it stays.
      expect.stringMatching(/^ {4}at \S+ \(lambda\/demo\/thrower\.ts:7:\d+\)$/),
    ]);
    // The map moved away after the install, before the first trace: the trace names the bundle.
    const moved = frames(`require('node:fs').renameSync(process.argv[1] + '.map', process.argv[1] + '.moved')`);
    // Read once: a map that could not be read at the first trace is not read again when it is back.
    renameSync(`${bundle}.moved`, `${bundle}.map`);
    const again = frames(
      `const fs = require('node:fs'); fs.renameSync(process.argv[1] + '.map', process.argv[1] + '.away'); new Error().stack; fs.renameSync(process.argv[1] + '.away', process.argv[1] + '.map')`,
    );
    expect(again[1]).toBe(moved[1]);
    expect(moved[1]).toMatch(new RegExp(`^ {4}at \\S+ \\(${escapeRegExp(bundle)}:\\d+:\\d+\\)$`));
  });
});
