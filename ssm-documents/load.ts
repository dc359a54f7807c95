/**
 * Loads the acm-export Command documents: one per action (install, report, remove, preflight), each with its
 * own parameters and one program. The shell logic lives in its own files so it can be shellchecked and run
 * in tests: shared functions in lib/*.sh, one small program per action (install.sh, report.sh, remove.sh,
 * preflight.sh, each ending in `main "$@"`). A document's step names them with `#include <file>` lines in
 * its `runCommand` (library files first, the program last); they are joined here into one script: the
 * program's shebang, then every file's lines without their comment-only and blank lines, their trailing comments,
 * their indentation and the library functions the program cannot reach, each line after which bash reads on
 * (`then`, `{`, `&&`, a `\` continuation ...) joined to the next, so the commented source stays in the
 * repository and each document stays well under SSM's 64 KB content limit (which counts parameter values too).
 *
 * What is per parameter comes from the field registry (lambda/shared/fields.ts): each document's `parameters:`
 * block, and the rules its program checks them with, written into lib/params.sh at its `#parameter-rules`
 * line. The YAML files hold only each document's description and step.
 *
 * The node library (NODE_LIBRARY_FILES, stripped the same way) is not embedded in the install document: the
 * stack ships it as an S3 asset, and the document carries its location and sha256 (written at the
 * `#library-object` line of lib/library.sh, which fetches, checks and sources it on the node).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Token } from 'aws-cdk-lib';
import { parse } from 'yaml';
import { FIELDS, Registry, bashParamPrelude, documentParameters } from '../lambda/shared/fields';
import { FIELD_RULES } from '../lambda/shared/patterns';
import { DEFAULT_PLACEMENT, PlacementPolicy } from '../lambda/shared/placement';

/** The documents, by the action their program performs. */
export const DOCUMENT_FILES = {
  install: 'install-acm-certificate.yaml',
  report: 'report-acm-certificate.yaml',
  remove: 'remove-acm-certificate.yaml',
  preflight: 'preflight-acm-node.yaml',
} as const;
export type DocumentKind = keyof typeof DOCUMENT_FILES;
export const DOCUMENT_KINDS = Object.keys(DOCUMENT_FILES) as DocumentKind[];

/** Path of a document's YAML source. */
export function documentPath(kind: DocumentKind): string {
  return path.join(__dirname, DOCUMENT_FILES[kind]);
}
export const INSTALL_DOCUMENT_PATH = documentPath('install');

/** A file below this directory: lib/params.sh, install.sh (no `..`, no absolute path). */
const INCLUDE = /^#include ((?:lib\/)?[A-Za-z0-9_-]+\.sh)$/;

/** The first SSM Agent version that passes `interpolationType: ENV_VAR` parameters as SSM_<Name> variables. */
export const ENV_VAR_MIN_AGENT_VERSION = '3.3.2746.0';

/** Whether a dotted agent version (e.g. 3.3.2746.0) is at least `minimum`; false when it is not a version. */
export function agentVersionAtLeast(version: string, minimum = ENV_VAR_MIN_AGENT_VERSION): boolean {
  if (!/^\d+(\.\d+){1,3}$/.test(version)) return false;
  const have = version.split('.').map(Number);
  const want = minimum.split('.').map(Number);
  for (let i = 0; i < want.length; i += 1) {
    const diff = (have[i] ?? 0) - want[i];
    if (diff !== 0) return diff > 0;
  }
  return true;
}

export interface SsmDocumentStep {
  action: string;
  name: string;
  precondition?: { StringEquals: [string, string] };
  inputs: { runCommand: string[]; timeoutSeconds?: string | number; workingDirectory?: string };
}

export interface SsmDocumentParameter {
  type: string;
  description?: string;
  default?: string;
  allowedPattern?: string;
  allowedValues?: string[];
  interpolationType?: string;
  maxChars?: number;
}

export interface SsmCommandDocument {
  schemaVersion: string;
  description?: string;
  parameters: Record<string, SsmDocumentParameter>;
  mainSteps: SsmDocumentStep[];
}

/**
 * Reads one line of bash as the shell would for quoting: where its trailing comment starts (a `#` at the start of
 * a word, outside quotes) and which quote it leaves open. `open`: the quote the line starts inside.
 */
function scanLine(line: string, open?: string): { code: string; open: string | undefined } {
  let quote = open;
  for (let i = 0; i < line.length; i += 1) {
    const c = line[i];
    if (quote === undefined) {
      if (c === '\\') i += 1;
      else if (c === "'" || c === '"') quote = c;
      else if (c === '#' && (i === 0 || /\s/.test(line[i - 1])))
        return { code: line.slice(0, i).trimEnd(), open: quote };
    } else if (quote === '"' && c === '\\') i += 1;
    else if (c === quote) quote = undefined;
  }
  return { code: line, open: quote };
}

/**
 * The lines of a script file that a document step runs: every line that is not a comment or blank, without its
 * leading indentation and its trailing comment. A line that starts inside a multi-line string (an awk program)
 * is kept as it is. Tests check that bash parses the result to the same program as the commented, indented
 * source in the repository, which is the text to read.
 */
export function scriptLines(script: string): string[] {
  const out: string[] = [];
  let open: string | undefined;
  for (const line of script.replace(/\n$/, '').split('\n')) {
    if (open !== undefined) {
      out.push(line);
      open = scanLine(line, open).open;
      continue;
    }
    const scanned = scanLine(line.trimStart());
    open = scanned.open;
    if (scanned.code !== '') out.push(scanned.code);
  }
  return out;
}

/** A line after which bash reads on: a keyword, an opening brace, `&&`, `||`, `|`, a case arm's `;;`. */
const READS_ON = [
  /^(?:if|elif) .*; then$/,
  /^(?:for|while|until) .*; do$/,
  /^(?:else|then|do|\{)$/,
  /^case .* in$/,
  /(?:\(\) | )\{$/,
  /(?:&&|\|\||\||;;)$/,
];

/**
 * Script lines with each line after which bash reads on (see READS_ON) or that ends in a `\` continuation
 * joined to the next by a space: a newline costs two bytes of the document's JSON, a space one. Never inside
 * a multi-line string. Tests check that bash parses the result to the same program.
 */
export function joinedLines(lines: readonly string[]): string[] {
  const out: string[] = [];
  let open: string | undefined;
  let joinNext = false;
  for (const line of lines) {
    const inside = open !== undefined;
    if (joinNext) out[out.length - 1] += line;
    else out.push(line);
    open = scanLine(line, open).open;
    joinNext = false;
    if (inside || open !== undefined) continue;
    const last = out[out.length - 1];
    const backslashes = /\\*$/.exec(last)?.[0].length ?? 0;
    if (backslashes % 2 === 1 && / \\$/.test(last)) {
      out[out.length - 1] = last.slice(0, -1);
      joinNext = true;
    } else if (READS_ON.some((re) => re.test(line))) {
      out[out.length - 1] += ' ';
      joinNext = true;
    }
  }
  return out;
}

export function carriesPlacement(script: string): boolean {
  return /^declare -ra ALLOWED_DIRS=/m.test(script);
}

const POLICY_LINES = {
  allowedDirs: /^declare -ra ALLOWED_DIRS=\(.*\)$/m,
  keyAccounts: /^declare -ra ALLOWED_KEY_ACCOUNTS=\(.*\)$/m,
} as const;

/**
 * The install script with `placement` written into its ALLOWED_DIRS and ALLOWED_KEY_ACCOUNTS lines. Each entry
 * must match the path or POSIX-name pattern (no quote, space or `$` can reach the shell text); whether the
 * policy is sensible is checked where it is configured (parsePlacementPolicy).
 */
export function renderInstallScript(script: string, placement: PlacementPolicy): string {
  const quoted = (values: readonly string[], pattern: string, what: string) =>
    values
      .map((v) => {
        if (!new RegExp(pattern).test(v) || v === '') throw new Error(`placement policy: ${what} entry is not valid`);
        return `'${v}'`;
      })
      .join(' ');
  let out = script;
  for (const [key, line] of Object.entries(POLICY_LINES) as [keyof typeof POLICY_LINES, RegExp][]) {
    if ((script.match(new RegExp(line.source, 'gm')) ?? []).length !== 1)
      throw new Error(`the script has no single ${key} policy line`);
  }
  const dirs = quoted(placement.allowedDirs, FIELD_RULES.CertDir.pattern, 'allowedDirs');
  const accounts = quoted(placement.keyAccounts, FIELD_RULES.KeyOwner.pattern, 'keyAccounts');
  out = out.replace(POLICY_LINES.allowedDirs, () => `declare -ra ALLOWED_DIRS=(${dirs})`);
  out = out.replace(POLICY_LINES.keyAccounts, () => `declare -ra ALLOWED_KEY_ACCOUNTS=(${accounts})`);
  return out;
}

/** The files the node library is made of; a document including lib/library.sh sources them instead. */
export const NODE_LIBRARY_FILES = [
  'lib/files.sh',
  'lib/inventory.sh',
  'lib/service.sh',
  'lib/hooks.sh',
  'lib/install-steps.sh',
] as const;
/** The include that loads the node library on the node. */
const LIBRARY_LOADER = 'lib/library.sh';
/** The line of lib/library.sh that the library's location and sha256 replace. */
const LIBRARY_OBJECT = /^#library-object$/m;

/** The node library as shipped: its text and the sha256 (hex) the documents check it against. */
export interface NodeLibrary {
  readonly text: string;
  readonly sha256: string;
}

/** The node library, joined and stripped like a document's script (no shebang: the program sources it). */
export function nodeLibrary(dir: string = __dirname): NodeLibrary {
  const joined = NODE_LIBRARY_FILES.map((name) => readFileSync(path.join(dir, name), 'utf8')).join('\n');
  const text = joinedLines(scriptLines(joined)).join('\n') + '\n';
  return { text, sha256: createHash('sha256').update(text).digest('hex') };
}

/** Where the node library lies: an S3 object, and the region the node fetches it from. */
export interface LibraryLocation {
  readonly bucket: string;
  readonly key: string;
  readonly region: string;
}

/**
 * A location as long as a deployed one (the CDK bootstrap bucket of a 12-digit account in a 14-character region,
 * key `<sha256>.sh`): what documents carry where no stack says where the library lies (tests, sizes).
 */
export const EXAMPLE_LIBRARY_LOCATION: LibraryLocation = {
  bucket: 'cdk-hnb659fds-assets-123456789012-ap-southeast-1',
  key: `${'0'.repeat(64)}.sh`,
  region: 'ap-southeast-1',
};

/**
 * The shell line that tells lib/library.sh where the library lies. A value is either a CDK token (the stack's
 * own asset bucket, key and region, resolved by CloudFormation) or matches its S3 / region rule, so no quote
 * or `$` reaches the shell text.
 */
function libraryObjectLine(location: LibraryLocation, sha256: string): string {
  const checked = (value: string, rule: RegExp, what: string) => {
    if (!Token.isUnresolved(value) && !rule.test(value)) throw new Error(`node library: ${what} is not valid`);
    return value;
  };
  const bucket = checked(location.bucket, /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'bucket');
  const key = checked(location.key, /^[A-Za-z0-9!_.*()/-]{1,512}$/, 'key');
  const region = checked(location.region, /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/, 'region');
  return `declare -r LIB_OBJECT='s3://${bucket}/${key}' LIB_REGION='${region}' LIB_SHA256='${sha256}'`;
}

/** The line of lib/params.sh that the document's generated parameter rules replace. */
const PARAMETER_RULES = /^#parameter-rules$/m;

/** A pattern ending in L[C]{1,N}$ (L one plain character), without alternation. */
const BOUNDED_TAIL = /^[^|]*[^\\]([A-Za-z0-9:/@=_-])\[([^\]\\]+)\]\{1,(\d+)\}\$$/;

/**
 * TAIL lines (then the PAIR lines of bashPairRules) for lib/params.sh's check_param: a document parameter whose
 * pattern ends in L[C]{1,N}$ with L not in C and N of 64 or more is checked in bash as L[C]+$ plus at most N
 * characters after the last L. That is the same set (the tail holds no L, so the last L of the value is where it
 * starts), and bash compiles a pattern at every use, a bound of N costing N copies of its atom (about 3 ms for the
 * SecretId pattern's {1,512}).
 */
export function bashTailRules(kind: DocumentKind, registry: Registry = FIELDS): string {
  const lines = Object.entries(registry).flatMap(([name, entry]) => {
    const m = entry.documents?.includes(kind) ? BOUNDED_TAIL.exec(entry.rule.pattern) : null;
    if (!m || Number(m[3]) < 64 || new RegExp(`^[${m[2]}]$`).test(m[1])) return [];
    return [`TAIL[${name}]='${m[1]} ${m[3]}'`];
  });
  return ['declare -A TAIL=() PAIR=()', ...lines, ...bashPairRules(kind, registry)].join('\n');
}

/** `^([K]{1,A}D[V]([W]{0,B}[V])?)?$`: an optional KEY<D>VALUE pair (D a plain character, V the same class twice). */
const BOUNDED_PAIR =
  /^\^\(\[([^\]\\{}]+)\]\{1,(\d+)\}([A-Za-z0-9:/@=_-])\[([^\]\\{}]+)\]\(\[([^\]\\{}]+)\]\{0,(\d+)\}\[([^\]\\{}]+)\]\)\?\)\?\$$/;

/**
 * PAIR lines for lib/params.sh's check_param: a document parameter whose pattern is an optional KEY<D>VALUE
 * pair, ^([K]{1,A}D[V]([W]{0,B}[V])?)?$ with D not in K and a bound of 64 or more, is checked in bash as the same
 * pattern with + and * for the two bounds, plus at most A characters before the first D and at most B + 2 after
 * it (PAIR: 'D A B'). That is the same set: the key holds no D, so the first D ends it, and a value of more than
 * one character is V, then B or fewer W, then V. Bash compiles a pattern at every use, and a bound of N costs N
 * copies of its atom (about 1.5 ms for the Target pattern's {0,254}). The TAIL table's declaration declares PAIR.
 */
export function bashPairRules(kind: DocumentKind, registry: Registry = FIELDS): string[] {
  return Object.entries(registry).flatMap(([name, entry]) => {
    const m = entry.documents?.includes(kind) ? BOUNDED_PAIR.exec(entry.rule.pattern) : null;
    if (!m) return [];
    const [, key, keyMax, delimiter, first, , middleMax, last] = m;
    if (first !== last || new RegExp(`^[${key}]$`).test(delimiter)) return [];
    if (Math.max(Number(keyMax), Number(middleMax)) < 64) return [];
    return [`PAIR[${name}]='${delimiter} ${keyMax} ${middleMax}'`];
  });
}

/** What a document's script is built with: the stack's placement policy and the field registry. */
export interface ScriptOptions {
  /** @default DEFAULT_PLACEMENT */
  placement?: PlacementPolicy;
  /** @default FIELDS */
  registry?: Registry;
  /** Keep comments and blank lines (for shellcheck, whose directives are comments). @default false */
  keepComments?: boolean;
  /** Keep library functions the program cannot reach. @default false */
  keepUnreachable?: boolean;
  /** Where the node library lies, for a document that loads it. @default EXAMPLE_LIBRARY_LOCATION */
  library?: LibraryLocation;
}

/** A function definition at the start of a line: `name() {`. */
const FUNCTION_START = /^([A-Za-z_][A-Za-z0-9_]*)\(\) \{/;
/** A shell word that may name a function. */
const WORD = /[A-Za-z_][A-Za-z0-9_]*/g;

/** One piece of a joined script: a function definition (with the comment lines just above it) or other text. */
interface Segment {
  lines: string[];
  /** The function it defines; undefined for top-level text. */
  defines?: string;
}

/**
 * Splits script lines into function definitions and the text between them. A definition starts at a line
 * `name() {` in column 0 and ends on that line when it ends with `}` (one-line form), else at the next line
 * that is exactly `}`; the comment lines directly above it belong to it.
 */
export function scriptSegments(lines: readonly string[]): Segment[] {
  const segments: Segment[] = [];
  let top: string[] = [];
  for (let i = 0; i < lines.length; i += 1) {
    const name = FUNCTION_START.exec(lines[i])?.[1];
    if (name === undefined) {
      top.push(lines[i]);
      continue;
    }
    let end = i;
    if (!/\}\s*$/.test(scriptLines(lines[i]).join(''))) {
      end = lines.indexOf('}', i + 1);
      if (end < 0) throw new Error(`function ${name} has no closing } line`);
      const nested = lines.slice(i + 1, end).find((line) => FUNCTION_START.test(line));
      if (nested !== undefined) throw new Error(`function ${name}: a definition inside it (${nested})`);
    }
    let start = top.length;
    while (start > 0 && /^#(?!!)/.test(top[start - 1])) start -= 1;
    segments.push({ lines: top.slice(0, start) });
    segments.push({ lines: [...top.slice(start), ...lines.slice(i, end + 1)], defines: name });
    top = [];
    i = end;
  }
  segments.push({ lines: top });
  return segments.filter((segment) => segment.lines.length > 0);
}

/**
 * The script without the functions its program cannot reach. Reachable: every function whose name is a word of
 * the top-level code (which ends in `main "$@"`) or of a reachable function's code, comments aside. That
 * covers calls, `trap` strings, `declare -F` tests and `"$fn"` calls of a name written out anywhere; a name
 * built at run time would not be seen, and no file builds one.
 */
export function reachableOnly(lines: readonly string[], roots: readonly string[] = []): string[] {
  const segments = scriptSegments(lines);
  const defined = new Set<string>();
  for (const { defines } of segments) {
    if (defines === undefined) continue;
    // Two files defining one name: the later would silently replace the earlier in the joined script.
    if (defined.has(defines)) throw new Error(`function ${defines} is defined twice`);
    defined.add(defines);
  }
  const words = (segment: Segment) => scriptLines(segment.lines.join('\n')).join('\n').match(WORD) ?? [];
  const reached = new Set<string>();
  const pending = [...roots, ...segments.filter((s) => s.defines === undefined).flatMap(words)];
  for (let name = pending.pop(); name !== undefined; name = pending.pop()) {
    if (!defined.has(name) || reached.has(name)) continue;
    reached.add(name);
    for (const segment of segments) if (segment.defines === name) pending.push(...words(segment));
  }
  return segments.filter((s) => s.defines === undefined || reached.has(s.defines)).flatMap((s) => s.lines);
}

/** The `#include` files of a document's single step, in order (library files, then the program). */
export function documentIncludes(file: string): string[] {
  const doc = parse(readFileSync(file, 'utf8')) as SsmCommandDocument;
  return doc.mainSteps.flatMap((step) =>
    step.inputs.runCommand.flatMap((line) => {
      const include = INCLUDE.exec(line.trim());
      return include ? [include[1]] : [];
    }),
  );
}

/**
 * One script for `kind` from the included files (relative to `dir`): the last file's shebang first, then each
 * file's lines that are not comments or blank, the placement policy and the document's parameter rules written
 * into the file that carries them.
 */
export function joinScript(
  kind: DocumentKind,
  includes: readonly string[],
  dir: string,
  options: ScriptOptions = {},
): string {
  const texts = includes.map((name) => readFileSync(path.join(dir, name), 'utf8'));
  const shebang = texts[texts.length - 1]?.split('\n')[0] ?? '';
  if (!shebang.startsWith('#!')) throw new Error(`${includes[includes.length - 1]} does not start with a shebang`);
  const rules = `${bashParamPrelude(kind, options.registry ?? FIELDS).replace(/\n$/, '')}\n${bashTailRules(kind, options.registry)}`;
  if (texts.filter((text) => PARAMETER_RULES.test(text)).length !== 1)
    throw new Error(`${kind}: the included files have no single #parameter-rules line`);
  // The node library's code runs in this program: what it calls here is reachable.
  const library = includes.includes(LIBRARY_LOADER) ? nodeLibrary(dir) : undefined;
  const libraryLine = library && libraryObjectLine(options.library ?? EXAMPLE_LIBRARY_LOCATION, library.sha256);
  const joined = texts.flatMap((text) => {
    let rendered = carriesPlacement(text) ? renderInstallScript(text, options.placement ?? DEFAULT_PLACEMENT) : text;
    rendered = rendered.replace(PARAMETER_RULES, () => rules);
    if (libraryLine !== undefined) rendered = rendered.replace(LIBRARY_OBJECT, () => libraryLine);
    // The whole text, minus each shebang.
    return rendered
      .replace(/\n$/, '')
      .split('\n')
      .filter((l) => !l.startsWith('#!'));
  });
  const kept = options.keepUnreachable ? joined : reachableOnly(joined, library?.text.match(WORD) ?? []);
  const lines = options.keepComments ? kept : joinedLines(scriptLines(kept.join('\n')));
  return [shebang, ...lines].join('\n') + '\n';
}

/** The script a document runs (what the tests execute), its placement policy set to `placement`. */
export function documentScript(
  kind: DocumentKind,
  placement: PlacementPolicy = DEFAULT_PLACEMENT,
  options: Omit<ScriptOptions, 'placement'> = {},
): string {
  const file = documentPath(kind);
  return joinScript(kind, documentIncludes(file), path.dirname(file), { ...options, placement });
}

/**
 * A document as the stack deploys it: its description, the parameters `registry` declares for it, and its
 * step's `#include` lines joined into one script with `placement` (the stack's setting).
 */
export function loadDocument(
  kind: DocumentKind | { file: string; kind: DocumentKind },
  placement: PlacementPolicy = DEFAULT_PLACEMENT,
  registry: Registry = FIELDS,
  library: LibraryLocation = EXAMPLE_LIBRARY_LOCATION,
): SsmCommandDocument {
  const [file, name] = typeof kind === 'string' ? [documentPath(kind), kind] : [kind.file, kind.kind];
  const source = parse(readFileSync(file, 'utf8')) as Omit<SsmCommandDocument, 'parameters'> & {
    parameters?: unknown;
  };
  if (source.parameters !== undefined)
    throw new Error(`${path.basename(file)}: parameters come from the field registry, not the YAML`);
  for (const step of source.mainSteps) {
    const includes = step.inputs.runCommand.flatMap((line) => {
      const include = INCLUDE.exec(line.trim());
      return include ? [include[1]] : [];
    });
    const other = step.inputs.runCommand.filter((line) => !INCLUDE.test(line.trim()));
    if (includes.length === 0) continue;
    if (other.length > 0) throw new Error(`${path.basename(file)}: a step with #include lines has no other lines`);
    // One string: a list entry per line would cost a byte more per line of SSM's 64 KB quota.
    step.inputs.runCommand = [joinScript(name, includes, path.dirname(file), { placement, registry, library })];
  }
  return {
    schemaVersion: source.schemaVersion,
    ...(source.description !== undefined ? { description: source.description } : {}),
    parameters: documentParameters(name, registry),
    mainSteps: source.mainSteps,
  };
}

/** The install document (kept for callers that name the install document's file). */
export function loadInstallDocument(
  file = INSTALL_DOCUMENT_PATH,
  placement: PlacementPolicy = DEFAULT_PLACEMENT,
): SsmCommandDocument {
  return loadDocument({ file, kind: 'install' }, placement);
}
