import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { TraceMap } from '@jridgewell/trace-mapping';
import { transformSync } from 'esbuild';
import { mapPositions, mapStackTraces, sourceLabel } from '../../lambda/shared/stack-trace';

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
  expect(sourceLabel('../../../../work/x/lambda/shared/errors.ts')).toBe('lambda/shared/errors.ts');
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

describe('mapStackTraces', () => {
  const saved = Error.prepareStackTrace;
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(tmpdir(), 'acm-export-stack-'))));
  afterEach(() => {
    Error.prepareStackTrace = saved;
    rmSync(dir, { recursive: true, force: true });
  });

  test('does nothing without a map beside the bundle (handlers run from source)', () => {
    const before = Error.prepareStackTrace;
    expect(mapStackTraces(path.join(dir, 'index.js'))).toBe(false);
    expect(Error.prepareStackTrace).toBe(before);
  });

  test('reads the map when the first trace is formatted, and maps the text of a formatter installed before', () => {
    const bundle = path.join(dir, 'index.js');
    writeFileSync(`${bundle}.map`, '{}');
    Error.prepareStackTrace = (error) => `${String(error)}\n    at p (${bundle}:${generated('throw')})`;
    expect(mapStackTraces(bundle)).toBe(true);
    // Written after the install: what the first trace reads.
    writeFileSync(`${bundle}.map`, built.map);
    expect(new TypeError('empty').stack).toBe('TypeError: empty\n    at p (lambda/shared/parse.ts:2:11)');
  });

  test('an unreadable map leaves traces as they were formatted', () => {
    const bundle = path.join(dir, 'index.js');
    writeFileSync(`${bundle}.map`, '{ not json');
    Error.prepareStackTrace = (error) => `${String(error)}\n    at p (${bundle}:1:2)`;
    mapStackTraces(bundle);
    expect(new RangeError('x').stack).toBe(`RangeError: x\n    at p (${bundle}:1:2)`);
  });
});
