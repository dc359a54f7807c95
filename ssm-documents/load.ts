/**
 * Loads the acm-export Command documents: one per action (install, report, remove, preflight), each with its
 * own parameters and one program. The shell logic lives in its own files so it can be shellchecked and run
 * in tests: shared functions in lib/*.sh, one small program per action (install.sh, report.sh, remove.sh,
 * preflight.sh, each ending in `main "$@"`). A document's step names them with `#include <file>` lines in
 * its `runCommand` (library files first, the program last); they are joined here into one script: the
 * program's shebang, then every file's lines without their comment-only and blank lines and without their
 * indentation, so the commented source stays in the repository and each document stays well under SSM's 64 KB
 * content limit. No file has a multi-line string whose lines start with "#" or whose leading blanks matter.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
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

/** The lines of a script file that a document step runs: every line that is not a comment or blank. */
export function scriptLines(script: string): string[] {
  return script
    .replace(/\n$/, '')
    .split('\n')
    .filter((line) => !/^\s*(#|$)/.test(line))
    .map((line) => line.replace(/^\s+/, ''));
}

/** Whether a script file carries the placement policy lines (lib/params.sh). */
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
 * One script from the included files (relative to `dir`): the last file's shebang first, then each file's
 * lines that are not comments or blank, the placement policy written into the file that carries it.
 */
export function joinScript(
  includes: readonly string[],
  dir: string,
  placement: PlacementPolicy,
  options: { keepComments?: boolean } = {},
): string {
  const texts = includes.map((name) => readFileSync(path.join(dir, name), 'utf8'));
  const shebang = texts[texts.length - 1]?.split('\n')[0] ?? '';
  if (!shebang.startsWith('#!')) throw new Error(`${includes[includes.length - 1]} does not start with a shebang`);
  const lines = texts.flatMap((text) => {
    const rendered = carriesPlacement(text) ? renderInstallScript(text, placement) : text;
    // keepComments: the whole text (for shellcheck, whose directives are comments), minus each shebang.
    return options.keepComments
      ? rendered
          .replace(/\n$/, '')
          .split('\n')
          .filter((l) => !l.startsWith('#!'))
      : scriptLines(rendered);
  });
  return [shebang, ...lines].join('\n') + '\n';
}

/** The script a document runs (what the tests execute), its placement policy set to `placement`. */
export function documentScript(
  kind: DocumentKind,
  placement: PlacementPolicy = DEFAULT_PLACEMENT,
  options: { keepComments?: boolean } = {},
): string {
  const file = documentPath(kind);
  return joinScript(documentIncludes(file), path.dirname(file), placement, options);
}

/** A document, its script's placement policy set to `placement` (the stack's setting). */
export function loadDocument(
  kind: DocumentKind | { file: string },
  placement: PlacementPolicy = DEFAULT_PLACEMENT,
): SsmCommandDocument {
  const file = typeof kind === 'string' ? documentPath(kind) : kind.file;
  const doc = parse(readFileSync(file, 'utf8')) as SsmCommandDocument;
  for (const step of doc.mainSteps) {
    const includes = step.inputs.runCommand.flatMap((line) => {
      const include = INCLUDE.exec(line.trim());
      return include ? [include[1]] : [];
    });
    const other = step.inputs.runCommand.filter((line) => !INCLUDE.test(line.trim()));
    if (includes.length === 0) continue;
    if (other.length > 0) throw new Error(`${path.basename(file)}: a step with #include lines has no other lines`);
    step.inputs.runCommand = joinScript(includes, path.dirname(file), placement).replace(/\n$/, '').split('\n');
  }
  return doc;
}

/** The install document (kept for callers that name the install document's file). */
export function loadInstallDocument(
  file = INSTALL_DOCUMENT_PATH,
  placement: PlacementPolicy = DEFAULT_PLACEMENT,
): SsmCommandDocument {
  return loadDocument({ file }, placement);
}
