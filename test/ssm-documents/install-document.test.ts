/**
 * Offline checks of the four documents (install, report, remove, preflight) and their scripts: schema 2.2
 * rules, parameters generated from the field registry, a bad value refused alike by Run Command (the emulator)
 * and the program, each program reading exactly its document's parameters, hostile values rejected, each
 * document's size, the shipped script parsing to the same program as its source, shellcheck clean, and no
 * `{{ }}` interpolation anywhere.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { parse } from 'yaml';
import { FIELD_RULES, INSTALL_DEFAULTS } from '../../lambda/shared/patterns';
import {
  DOCUMENT_KINDS,
  INSTALL_DOCUMENT_PATH,
  NODE_LIBRARY_FILES,
  documentIncludes,
  documentPath,
  documentScript,
  joinScript,
  loadDocument,
  loadInstallDocument,
  nodeLibrary,
  joinedLines,
  scriptLines,
  scriptSegments,
} from '../../ssm-documents/load';
import { DEFAULT_PLACEMENT } from '../../lambda/shared/placement';
import { documentParameters as registryDocumentParameters } from '../../lambda/shared/fields';
import {
  ACCEPTED_VALUES,
  BAD_BOOLEANS,
  BAD_FILE_STEMS,
  BAD_MODES,
  BAD_POSIX_NAMES,
  BAD_SERVICES,
  BAD_VERSION_STAGES,
  NON_CANONICAL_PATHS,
  WORLD_READABLE_MODES,
} from '../helpers/field-values';
import { DOCUMENT_PARAMETERS, EXIT, INSTALL_SCRIPT_PATH, runInstall } from '../helpers/install-script';
import { resolveParameters } from '../../local/aws-emulator/parameters';
import { HOSTILE_VALUES } from './fixture';

const PARAMETERS = DOCUMENT_PARAMETERS;
/** SecretVersionId and SecretVersionStage are each optional; the script wants exactly one of them. */
const REQUIRED = ['CertName', 'SecretId', 'Region'];

const doc = loadInstallDocument();
const raw = parse(readFileSync(INSTALL_DOCUMENT_PATH, 'utf8')) as { mainSteps: { inputs: { runCommand: string[] } }[] };
/** The install document's whole script, comments kept (library files, then install.sh). */
const script = documentScript('install', DEFAULT_PLACEMENT, { keepComments: true });
/** What an install runs on the node: the document's script and the node library it fetches and sources. */
const installCode = [
  script,
  ...NODE_LIBRARY_FILES.map((name) => readFileSync(path.join(path.dirname(INSTALL_DOCUMENT_PATH), name), 'utf8')),
].join('\n');
/** install.sh's own header: the node's user-facing description. */
const installHeader = readFileSync(INSTALL_SCRIPT_PATH, 'utf8').split(/\n(?!#)/)[0];

/** Runs bash's own regex engine (as the script does: LC_ALL=C, [[ =~ ]]) on many cases in one process. */
function bashAccepts(cases: { pattern: string; max: number; value: string }[]): boolean[] {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', LC_ALL: 'C', N: String(cases.length) };
  cases.forEach((c, i) => Object.assign(env, { [`P${i}`]: c.pattern, [`M${i}`]: String(c.max), [`V${i}`]: c.value }));
  const loop =
    'for ((i = 0; i < N; i++)); do p=P$i m=M$i v=V$i; val=${!v}; if [ "${#val}" -le "${!m}" ] && [[ $val =~ ${!p} ]]; then echo 1; else echo 0; fi; done';
  const r = spawnSync('bash', ['-c', loop], { env, encoding: 'utf8' });
  return r.stdout
    .trim()
    .split('\n')
    .map((l) => l === '1');
}

describe('document structure', () => {
  test('schema 2.2 command document with a description', () => {
    expect(doc.schemaVersion).toBe('2.2');
    expect(doc.description).toEqual(expect.stringContaining('ACM'));
    expect(Object.keys(doc).sort()).toEqual(['description', 'mainSteps', 'parameters', 'schemaVersion']);
  });

  test('exactly the designed parameters, all String, ENV_VAR, with pattern and maxChars from FIELD_RULES', () => {
    expect(Object.keys(doc.parameters).sort()).toEqual([...PARAMETERS].sort());
    for (const name of PARAMETERS) {
      const p = doc.parameters[name];
      expect({ name, type: p.type, interpolationType: p.interpolationType }).toEqual({
        name,
        type: 'String',
        interpolationType: 'ENV_VAR',
      });
      expect({ name, allowedPattern: p.allowedPattern }).toEqual({ name, allowedPattern: FIELD_RULES[name].pattern });
      expect({ name, maxChars: p.maxChars }).toEqual({ name, maxChars: FIELD_RULES[name].maxLength });
      expect(p.description).toBeTruthy();
    }
  });

  test('required parameters have no default; optional ones default to INSTALL_DEFAULTS', () => {
    for (const name of REQUIRED) expect(doc.parameters[name].default).toBeUndefined();
    for (const name of [
      'CertDir',
      'KeyDir',
      'KeyGroup',
      'Service',
      'VerifyPort',
      'KeyOwner',
      'KeyMode',
      'CertOwner',
      'CertGroup',
      'CertMode',
      'Pkcs12',
      'CombinedPem',
    ] as const) {
      expect({ name, default: doc.parameters[name].default }).toEqual({
        name,
        default: String(INSTALL_DEFAULTS[name]),
      });
    }
    for (const name of ['SecretVersionId', 'SecretVersionStage', 'Target'] as const)
      expect({ name, default: doc.parameters[name].default }).toEqual({ name, default: '' });
    expect(doc.parameters.Service.allowedValues).toEqual(['auto', 'none', 'nginx', 'apache2', 'httpd']);
    expect(doc.parameters).not.toHaveProperty('Action');
  });

  test('one Linux-only aws:runShellScript step with a timeout', () => {
    expect(doc.mainSteps).toHaveLength(1);
    const [step] = doc.mainSteps;
    expect(step.action).toBe('aws:runShellScript');
    expect(step.name).toMatch(/^[A-Za-z0-9_.-]+$/);
    expect(step.precondition).toEqual({ StringEquals: ['platformType', 'Linux'] });
    expect(Number(step.inputs.timeoutSeconds)).toBeGreaterThanOrEqual(5);
    expect(Number(step.inputs.timeoutSeconds)).toBeLessThanOrEqual(172800);
    expect(raw.mainSteps[0].inputs.runCommand).toEqual([
      ...['prelude', 'run', 'params', 'lock', 'library', 'node'].map((lib) => `#include lib/${lib}.sh`),
      '#include install.sh',
    ]);
  });

  test('runCommand is the joined script without its comment-only and blank lines and its indentation, continued lines joined, starting with its bash shebang (the agent runs it via sh -c <file>)', () => {
    const lines = doc.mainSteps[0].inputs.runCommand[0].replace(/\n$/, '').split('\n');
    expect(lines[0]).toBe('#!/usr/bin/env bash');
    // The comment-free lines of the commented script, continued lines joined (that bash reads them alike: the
    // shell tests below).
    const code = joinedLines(scriptLines(script));
    expect(lines.slice(1)).toEqual(code);
    expect(lines[lines.length - 1]).toBe('main "$@"');
    expect(lines).toContain('set -Eeuo pipefail');
    // Still a valid bash program.
    const r = spawnSync('bash', ['-n'], { input: lines.join('\n'), encoding: 'utf8' });
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
  });

  test('bash is a documented requirement: a node without it fails with 127 before any acm-export line', () => {
    // The minimum the script enforces, read from its version check; its header and docs/security.md must
    // state that minimum, and the page the exit code such a node really gets (run below).
    const check = /BASH_VERSINFO\[1\]:-0\}\)\)" -lt (\d+)(\d\d) \]/.exec(script);
    expect(check).not.toBeNull();
    const enforced = `${Number(check?.[1])}.${Number(check?.[2])}`;
    expect(enforced).toBe('4.4');
    const header = installHeader;
    expect([...header.matchAll(/bash ([\d.]+) or later/g)].map((m) => m[1])).toEqual([enforced]);
    const page = readFileSync(path.join(__dirname, '..', '..', 'docs', 'security.md'), 'utf8');
    // The security bullets: everything before the page's first section.
    const security = page.slice(0, page.indexOf('\n## '));
    const bullets = security.split(/\n(?=- )/).filter((bullet) => /bash [\d.]+ or later/.test(bullet));
    expect(bullets).toHaveLength(1);
    expect(/bash ([\d.]+) or later/.exec(bullets[0])?.[1]).toBe(enforced);
    const documentedExit = Number(/exit code (\d+)/.exec(bullets[0])?.[1]);
    // As the agent runs it (sh -c <file>) on a node where no bash is found: exit 127, no acm-export line.
    const dir = mkdtempSync(path.join(tmpdir(), 'acm-export-nobash-'));
    try {
      const file = path.join(dir, '_script.sh');
      writeFileSync(file, `${doc.mainSteps[0].inputs.runCommand.join('\n')}\n`, { mode: 0o700 });
      const r = spawnSync('/bin/sh', ['-c', file], { env: { PATH: path.join(dir, 'empty') }, encoding: 'utf8' });
      expect(r.status).toBe(127);
      expect(r.status).toBe(documentedExit);
      expect(r.stderr).toMatch(/bash/);
      expect(r.stderr).not.toContain('acm-export:');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the programs use nothing newer than the bash they require (4.4)', () => {
    // Unset on an older bash, so set -u stops the run where they are read: EPOCHSECONDS, EPOCHREALTIME and
    // BASH_ARGV0 are bash 5.0, SRANDOM, `wait -p` and the U/u/L/K/k transformations 5.1.
    const newer = /\b(EPOCHSECONDS|EPOCHREALTIME|SRANDOM|BASH_ARGV0)\b|\bwait -p\b|\$\{[^}]*@[UuLKk]\}/;
    const texts = [...DOCUMENT_KINDS.map((kind) => documentScript(kind)), nodeLibrary().text];
    for (const text of texts) expect(text.split('\n').filter((line) => newer.test(line))).toEqual([]);
  });

  test('every return names its status', () => {
    // A bare `return` in a function run from the EXIT trap (a failure recorded in the inventory, a rollback)
    // returns the status the trap was entered with, not that of its last command: the failure went unrecorded.
    const bare = /\breturn(?=\s*$|\s*;|\s+\})/;
    const texts = [...DOCUMENT_KINDS.map((kind) => documentScript(kind)), nodeLibrary().text];
    for (const text of texts) expect(text.split('\n').filter((line) => bare.test(line))).toEqual([]);
  });

  test('no {{ }} interpolation anywhere: values arrive only as SSM_<Name> environment variables', () => {
    const text = doc.mainSteps[0].inputs.runCommand.join('\n');
    expect(text).not.toContain('{{');
    expect(readFileSync(INSTALL_DOCUMENT_PATH, 'utf8')).not.toContain('{{');
    for (const name of PARAMETERS) expect(script).toContain(`SSM_${name}`);
  });
});

// SSM allows 64 KB (65536 bytes) of document content, and per AWS that quota "also includes the content specified
// for input parameters at runtime": a document's JSON plus the longest values its parameters accept must fit.
// Sizes are in the test names, so every run prints them (the quiet test environment holds console output back).
const SSM_DOCUMENT_QUOTA = 65536;
/** Room kept under the quota, for how SSM may encode what it stores (escaping, field names) beyond our JSON. */
const QUOTA_MARGIN = 4 * 1024;
/**
 * Each document's own budget, with room for the next features. Install sources the node library (its steps and
 * file handling) from the stack's S3 object instead of embedding it; report and remove embed what they run,
 * remove the most (the file handling its own rollback needs, and the slow and fast paths of the shared
 * preflight checks), so its budget is the largest.
 */
const SIZE_BUDGET: Record<(typeof DOCUMENT_KINDS)[number], number> = {
  install: 40 * 1024,
  report: 40 * 1024,
  // 48.9 KB since a removal puts back what a stopped one moved aside; the next feature of remove should load
  // the node library as install does rather than raise this again.
  remove: 50 * 1024,
  preflight: 20 * 1024,
};
const SIZES = DOCUMENT_KINDS.map((kind) => {
  const loaded = loadDocument(kind);
  const bytes = Buffer.byteLength(JSON.stringify(loaded));
  // The longest runtime content: every parameter at its maxChars, with its name.
  const parameterBytes = Object.entries(loaded.parameters).reduce(
    (sum, [name, p]) => sum + Buffer.byteLength(name) + (p.maxChars ?? 0),
    0,
  );
  return { kind, bytes, parameterBytes, total: bytes + parameterBytes, budget: SIZE_BUDGET[kind] };
});
describe(`document sizes (JSON + longest parameter values, of the ${SSM_DOCUMENT_QUOTA} bytes SSM allows, ${QUOTA_MARGIN} kept free)`, () => {
  test.each(SIZES)(
    '$kind document: $bytes bytes of JSON (budget $budget) + $parameterBytes of parameters = $total',
    ({ bytes, total, budget }) => {
      expect(bytes).toBeLessThanOrEqual(budget);
      expect(total).toBeLessThanOrEqual(SSM_DOCUMENT_QUOTA - QUOTA_MARGIN);
    },
  );
});

describe('the four documents', () => {
  test.each(DOCUMENT_KINDS)('%s: schema 2.2, one Linux step of library files then its program, no Action', (kind) => {
    const loaded = loadDocument(kind);
    expect(loaded.schemaVersion).toBe('2.2');
    expect(loaded.description).toBeTruthy();
    expect(loaded.parameters).not.toHaveProperty('Action');
    expect(loaded.mainSteps).toHaveLength(1);
    expect(loaded.mainSteps[0].precondition).toEqual({ StringEquals: ['platformType', 'Linux'] });
    const includes = documentIncludes(documentPath(kind));
    expect(includes[0]).toBe('lib/prelude.sh');
    expect(includes[includes.length - 1]).toBe(`${kind}.sh`);
    expect(includes.slice(0, -1).every((file) => file.startsWith('lib/'))).toBe(true);
    // One string (a list entry per line costs a byte more per line of the 64 KB quota).
    expect(loaded.mainSteps[0].inputs.runCommand).toHaveLength(1);
    const lines = loaded.mainSteps[0].inputs.runCommand[0].replace(/\n$/, '').split('\n');
    expect(lines[0]).toBe('#!/usr/bin/env bash');
    expect(lines[lines.length - 1]).toBe('main "$@"');
  });

  test.each(DOCUMENT_KINDS)(
    '%s: every parameter is String, ENV_VAR, with the FIELD_RULES pattern and length, described in a line',
    (kind) => {
      const loaded = loadDocument(kind);
      for (const [name, p] of Object.entries(loaded.parameters)) {
        const rule = FIELD_RULES[name as keyof typeof FIELD_RULES];
        expect({ name, type: p.type, interpolationType: p.interpolationType }).toEqual({
          name,
          type: 'String',
          interpolationType: 'ENV_VAR',
        });
        expect({ name, allowedPattern: p.allowedPattern, maxChars: p.maxChars }).toEqual({
          name,
          allowedPattern: rule.pattern,
          maxChars: rule.maxLength,
        });
        expect({ name, description: (p.description ?? '').length <= 120 }).toEqual({ name, description: true });
      }
    },
  );

  test.each(DOCUMENT_KINDS)('%s: the field registry sends it exactly the parameters it declares', (kind) => {
    expect(Object.keys(registryDocumentParameters(kind)).sort()).toEqual(
      Object.keys(loadDocument(kind).parameters).sort(),
    );
  });

  test.each(DOCUMENT_KINDS)('%s: its program reads and checks exactly the parameters its document declares', (kind) => {
    const program = readFileSync(path.join(path.dirname(documentPath(kind)), `${kind}.sh`), 'utf8');
    const declared = loadDocument(kind).parameters;
    // What it sets from SSM_<Name> and checks: read_params "<required>" <names...> (one call, continued over lines);
    // nothing else reads SSM_<Name> but install's choice of what is required.
    expect([...program.matchAll(/\$\{SSM_(\w+)-/g)]).toEqual([]);
    const calls = [...program.replace(/\\\n\s*/g, '').matchAll(/^\s*read_params ("[^"]*") (.*)$/gm)];
    expect(calls).toHaveLength(1);
    const [, requiredArg, names] = calls[0];
    expect(names.trim().split(/\s+/).sort()).toEqual(Object.keys(declared).sort());
    // Required: every parameter without a default (install's are set in `local required=`).
    const required = (
      requiredArg === '"$required"'
        ? [...program.matchAll(/required="([^"]*)"/g)].map((m) => m[1]).join(' ')
        : requiredArg
    )
      .replace(/"/g, '')
      .split(/\s+/)
      .filter(Boolean);
    for (const [name, p] of Object.entries(declared))
      if (p.default === undefined)
        expect({ name, required: required.includes(name) }).toEqual({ name, required: true });
    for (const name of required) expect(Object.keys(declared)).toContain(name);
  });

  test.each(DOCUMENT_KINDS)(
    '%s: a bad value of each parameter is refused by Run Command and by the program, by the same rule',
    async (kind) => {
      const declared = loadDocument(kind).parameters;
      const bad = HOSTILE_VALUES.commandSubstitution;
      const good = Object.fromEntries(
        Object.keys(declared).map((name) => [name, [ACCEPTED_VALUES[name as keyof typeof ACCEPTED_VALUES][0]]]),
      );
      expect(() => resolveParameters(loadDocument(kind), good)).not.toThrow();
      // Run Command (the emulator checks as the agent does) refuses each one on its own ...
      for (const [name, p] of Object.entries(declared)) {
        expect(() => resolveParameters(loadDocument(kind), { ...good, [name]: [bad] })).toThrow(
          `Parameter "${name}" failed to satisfy constraint: Parameter value does not match pattern ${p.allowedPattern}`,
        );
      }
      // ... and the program, given them all at once, names each with the document's pattern and changes nothing.
      const params = Object.fromEntries(Object.keys(declared).map((name) => [name, bad]));
      const r = await runInstall({ program: kind, params });
      expect(r.code).toBe(EXIT.parameters);
      for (const [name, p] of Object.entries(declared)) {
        expect(r.stderr).toContain(
          `SSM_${name} does not match its allowedPattern ${p.allowedPattern} (at most ${p.maxChars} characters)`,
        );
      }
      expect(JSON.parse(r.stdout)).toMatchObject({ failedStep: 'parameters', exitCode: EXIT.parameters });
      expect(r.stdout + r.stderr).not.toContain(bad);
    },
  );
});

describe('the loader ships only the functions a program can reach', () => {
  test('a function is kept when its name is a word of reachable code: a call, a trap string, a "$fn" call', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'acm-export-reach-'));
    try {
      const lib = [
        '# shellcheck shell=bash',
        '#parameter-rules',
        '# Called by main.',
        'called() { helper; }',
        '# Only called by called.',
        'helper() {',
        '  echo helper',
        '}',
        'on_exit() { echo bye; }',
        'by_name() { echo by-name; }',
        'unused() {',
        '  only_from_unused',
        '}',
        'only_from_unused() { echo never; }',
        'in_a_comment_only() { echo never; }',
        'GLOBAL=kept',
      ];
      const program = [
        '#!/usr/bin/env bash',
        "trap 'on_exit' EXIT",
        'main() {',
        '  local fn=by_name',
        '  called',
        '  "$fn" # in_a_comment_only is named here, in a comment',
        '  echo "$GLOBAL"',
        '}',
        'main "$@"',
      ];
      writeFileSync(path.join(dir, 'lib.sh'), `${lib.join('\n')}\n`);
      writeFileSync(path.join(dir, 'prog.sh'), `${program.join('\n')}\n`);
      const defined = (text: string) => [...text.matchAll(/^(\w+)\(\) \{/gm)].map((m) => m[1]).sort();
      const shipped = joinScript('preflight', ['lib.sh', 'prog.sh'], dir);
      expect(defined(shipped)).toEqual(['by_name', 'called', 'helper', 'main', 'on_exit']);
      // The comment above a dropped function goes with it; the one above a kept function stays (keepComments).
      const commented = joinScript('preflight', ['lib.sh', 'prog.sh'], dir, { keepComments: true });
      expect(commented).toContain('# Only called by called.\nhelper() {');
      expect(commented).not.toContain('only_from_unused');
      const r = spawnSync('bash', ['-c', shipped], { encoding: 'utf8' });
      expect({ status: r.status, stdout: r.stdout, stderr: r.stderr }).toEqual({
        status: 0,
        stdout: 'helper\nby-name\nkept\nbye\n',
        stderr: '',
      });
      expect(defined(joinScript('preflight', ['lib.sh', 'prog.sh'], dir, { keepUnreachable: true }))).toEqual([
        'by_name',
        'called',
        'helper',
        'in_a_comment_only',
        'main',
        'on_exit',
        'only_from_unused',
        'unused',
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a definition whose end cannot be found is an error, not a guess', () => {
    expect(() => scriptSegments(['f() {', '  echo', '  }'])).toThrow('function f has no closing } line');
    expect(() => scriptSegments(['f() {', 'g() {', '}', '}'])).toThrow('function f: a definition inside it');
  });

  // Every test that runs a program runs this shipped text, so a function wrongly left out fails there; here,
  // the name of every function left out appears nowhere in the code that is shipped.
  const DROPPED = DOCUMENT_KINDS.map((kind) => {
    const all = documentScript(kind, DEFAULT_PLACEMENT, { keepUnreachable: true });
    const shipped = documentScript(kind);
    const names = (text: string) => new Set([...text.matchAll(/^(\w+)\(\) \{/gm)].map((m) => m[1]));
    const kept = names(shipped);
    const dropped = [...names(all)].filter((name) => !kept.has(name));
    return { kind, shipped, kept: kept.size, dropped, count: dropped.length };
  });
  test.each(DROPPED)('$kind: $kept functions shipped, $count left out, none of them named in it', (d) => {
    const words = new Set(
      scriptLines(d.shipped)
        .join('\n')
        .match(/[A-Za-z_]\w*/g),
    );
    expect(d.dropped.filter((name) => words.has(name))).toEqual([]);
  });
});

describe('parameter patterns', () => {
  test('patterns compile, are anchored, and accept realistic values', () => {
    const cases = PARAMETERS.flatMap((name) =>
      ACCEPTED_VALUES[name].map((value) => ({
        name,
        value,
        pattern: FIELD_RULES[name].pattern,
        max: FIELD_RULES[name].maxLength,
      })),
    );
    const bash = bashAccepts(cases);
    cases.forEach(({ name, value, pattern }, i) => {
      expect(pattern.startsWith('^') && pattern.endsWith('$')).toBe(true);
      expect({ name, value, js: new RegExp(pattern).test(value), bash: bash[i] }).toEqual({
        name,
        value,
        js: true,
        bash: true,
      });
    });
  });

  test('every hostile value is rejected by every pattern, in JavaScript and in bash', () => {
    const cases = PARAMETERS.flatMap((name) =>
      Object.entries(HOSTILE_VALUES).map(([label, value]) => ({
        name,
        label,
        value,
        pattern: FIELD_RULES[name].pattern,
        max: FIELD_RULES[name].maxLength,
      })),
    );
    for (const { name, label, value, pattern, max } of cases) {
      expect({ name, label, js: new RegExp(pattern).test(value) && value.length <= max }).toEqual({
        name,
        label,
        js: false,
      });
    }
    // NUL cannot reach a process's environment at all (execve strings end at NUL): bash checks the rest.
    const viaEnv = cases.filter((c) => !c.value.includes('\u0000'));
    const bash = bashAccepts(viaEnv);
    expect(bash).toHaveLength(viaEnv.length);
    viaEnv.forEach(({ name, label }, i) =>
      expect({ name, label, bash: bash[i] }).toEqual({ name, label, bash: false }),
    );
  });

  test('paths with . or .. components and names starting with a dot or dash are rejected', () => {
    const dir = new RegExp(FIELD_RULES.CertDir.pattern);
    for (const bad of NON_CANONICAL_PATHS) expect({ bad, ok: dir.test(bad) }).toEqual({ bad, ok: false });
    const name = new RegExp(FIELD_RULES.CertName.pattern);
    for (const bad of BAD_FILE_STEMS) expect({ bad, ok: name.test(bad) }).toEqual({ bad, ok: false });
  });

  test('modes are limited to sane octal values; booleans and the stage accept nothing else', () => {
    const mode = (name: 'KeyMode' | 'CertMode') => new RegExp(FIELD_RULES[name].pattern);
    for (const bad of BAD_MODES) {
      expect({ bad, key: mode('KeyMode').test(bad), cert: mode('CertMode').test(bad) }).toEqual({
        bad,
        key: false,
        cert: false,
      });
    }
    for (const bad of WORLD_READABLE_MODES)
      expect({ bad, key: mode('KeyMode').test(bad) }).toEqual({ bad, key: false });
    for (const bad of BAD_BOOLEANS) expect(new RegExp(FIELD_RULES.Pkcs12.pattern).test(bad)).toBe(false);
    for (const bad of BAD_VERSION_STAGES)
      expect(new RegExp(FIELD_RULES.SecretVersionStage.pattern).test(bad)).toBe(false);
    for (const bad of BAD_POSIX_NAMES) expect(new RegExp(FIELD_RULES.KeyOwner.pattern).test(bad)).toBe(false);
  });

  test('Service allowedValues are exactly what its pattern accepts', () => {
    const regex = new RegExp(FIELD_RULES.Service.pattern);
    for (const v of doc.parameters.Service.allowedValues ?? []) expect(regex.test(v)).toBe(true);
    for (const v of BAD_SERVICES) expect(regex.test(v)).toBe(false);
  });
});

describe('shell', () => {
  // Each program is checked as its document joins it (every library file and program is in one of them,
  // comments kept for shellcheck's directives, functions it cannot reach left out). install uses every library
  // global; the others use a part, so there unused globals (SC2034) are expected, and functions only a trap
  // calls (SC2317). The install program sources the node library: it is checked with the library's files after it.
  test.each(DOCUMENT_KINDS)('shellcheck is clean on the %s program and its library files', (kind) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'acm-export-shellcheck-'));
    try {
      const file = path.join(dir, `${kind}.sh`);
      const sourced = documentIncludes(documentPath(kind)).includes('lib/library.sh')
        ? NODE_LIBRARY_FILES.map((name) => readFileSync(path.join(path.dirname(documentPath(kind)), name), 'utf8'))
        : [];
      writeFileSync(file, [documentScript(kind, DEFAULT_PLACEMENT, { keepComments: true }), ...sourced].join('\n'));
      const exclude = kind === 'install' ? [] : ['--exclude=SC2034,SC2317'];
      const r = spawnSync('shellcheck', ['--shell=bash', '--severity=style', '--format=gcc', ...exclude, file], {
        encoding: 'utf8',
      });
      if (r.error) throw new Error(`shellcheck is not installed: ${r.error.message}`);
      // A library function only another program calls may read that program's parameter (remove never rolls
      // back an install, whose rollback waits on VerifyPort): unassigned here, and never read.
      const declared = Object.keys(loadDocument(kind).parameters);
      const othersOnly = Object.keys(loadDocument('install').parameters).filter((name) => !declared.includes(name));
      const findings = (r.stdout + r.stderr)
        .split('\n')
        .filter(Boolean)
        .filter((line) => {
          const unassigned = / (\w+) is referenced but not assigned\. \[SC2154\]$/.exec(line)?.[1];
          return !(kind !== 'install' && unassigned !== undefined && othersOnly.includes(unassigned));
        });
      expect(findings).toEqual([]);
      const parsed = spawnSync('bash', ['-n', file], { encoding: 'utf8' });
      expect({ status: parsed.status, stderr: parsed.stderr }).toEqual({ status: 0, stderr: '' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("comments, blank lines and indentation are dropped; never a # inside quotes or a ${#var}, never a multi-line string's text", () => {
    const source = [
      '  # a comment line',
      '',
      '  f "$1" # name value',
      '  echo "a # b" # trailing',
      "  [[ $x == *' # '* ]] && n=${#x}",
      '  echo "a \\" # b"',
      "  echo 'it''s' # ok, isn't it",
      "  g() { # the key's mode",
      "    awk '",
      '      # inside the program',
      "      { print $1 }' \\",
      '      file',
      '  }',
    ].join('\n');
    expect(scriptLines(source)).toEqual([
      'f "$1"',
      'echo "a # b"',
      "[[ $x == *' # '* ]] && n=${#x}",
      'echo "a \\" # b"',
      "echo 'it''s'",
      'g() {',
      "awk '",
      '      # inside the program',
      "      { print $1 }' \\",
      'file',
      '}',
    ]);
  });

  test('lines after which bash reads on are joined by a space, never inside a multi-line string', () => {
    const source = [
      'if a; then',
      'b &&',
      'c',
      'fi',
      'f() {',
      'echo x \\',
      'y',
      'echo x\\\\',
      "awk '",
      '{ print $1 } &&',
      "' file |",
      'cat',
      '}',
    ];
    expect(joinedLines(source)).toEqual([
      'if a; then b && c',
      'fi',
      'f() { echo x y',
      'echo x\\\\',
      "awk '",
      '{ print $1 } &&',
      // A line that starts inside a string is kept as it is.
      "' file |",
      'cat',
      '}',
    ]);
  });

  // The loader drops comments, blank lines and trailing comments: bash must read the same program either way.
  test.each(DOCUMENT_KINDS)('the shipped %s script parses to the same program as its commented source', (kind) => {
    const parsed = (text: string) => {
      const r = spawnSync('bash', ['--pretty-print'], { input: text, encoding: 'utf8' });
      expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
      return r.stdout.replace(/\n\n+/g, '\n');
    };
    const shipped = loadDocument(kind).mainSteps[0].inputs.runCommand.join('\n');
    expect(shipped.length).toBeLessThan(documentScript(kind, DEFAULT_PLACEMENT, { keepComments: true }).length);
    expect(parsed(shipped)).toBe(parsed(documentScript(kind, DEFAULT_PLACEMENT, { keepComments: true })));
  });

  test('the passphrase never goes to openssl on the command line, only by fd or env', () => {
    expect(installCode).not.toMatch(/-pass(in|out)\s+pass:/);
    expect(installCode).not.toMatch(/openssl rsa\b/);
    expect(installCode).toMatch(/openssl pkcs8 .*-passin fd:3/);
  });

  test('the secret is fetched with exactly the designed aws invocation', () => {
    expect(installCode.replace(/\\\n\s*/g, '')).toContain(
      'aws secretsmanager get-secret-value --region "$Region" --secret-id "$SecretId" --version-id "$SecretVersionId" --query SecretString --output text',
    );
  });
});
