/**
 * Loads the Install-ACMCertificate document. The shell logic lives in its own file so it can be
 * shellchecked and run directly in tests; the YAML names it with an `#include <file>` line in a step's
 * `runCommand`, which is replaced here by the file's lines, without its comment-only and blank lines: the
 * commented source stays in the repository, and the document stays well under SSM's 64 KB content limit.
 * The first line (the shebang) is kept. The script has no multi-line string whose lines start with "#".
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { FIELD_RULES } from '../lambda/shared/patterns';
import { DEFAULT_PLACEMENT, PlacementPolicy } from '../lambda/shared/placement';

export const INSTALL_DOCUMENT_PATH = path.join(__dirname, 'install-acm-certificate.yaml');

const INCLUDE = /^#include ([A-Za-z0-9._-]+)$/;

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

/** The lines of a script as a document step runs them: the shebang, then every line that is not a comment or blank. */
export function scriptLines(script: string): string[] {
  return script
    .replace(/\n$/, '')
    .split('\n')
    .filter((line, i) => i === 0 || !/^\s*(#|$)/.test(line));
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
      throw new Error(`the install script has no single ${key} policy line`);
  }
  const dirs = quoted(placement.allowedDirs, FIELD_RULES.CertDir.pattern, 'allowedDirs');
  const accounts = quoted(placement.keyAccounts, FIELD_RULES.KeyOwner.pattern, 'keyAccounts');
  out = out.replace(POLICY_LINES.allowedDirs, () => `declare -ra ALLOWED_DIRS=(${dirs})`);
  out = out.replace(POLICY_LINES.keyAccounts, () => `declare -ra ALLOWED_KEY_ACCOUNTS=(${accounts})`);
  return out;
}

/** The document, its script's placement policy set to `placement` (the stack's setting). */
export function loadInstallDocument(
  file = INSTALL_DOCUMENT_PATH,
  placement: PlacementPolicy = DEFAULT_PLACEMENT,
): SsmCommandDocument {
  const doc = parse(readFileSync(file, 'utf8')) as SsmCommandDocument;
  for (const step of doc.mainSteps) {
    step.inputs.runCommand = step.inputs.runCommand.flatMap((line) => {
      const include = INCLUDE.exec(line.trim());
      if (!include) return [line];
      const script = readFileSync(path.join(path.dirname(file), include[1]), 'utf8');
      return scriptLines(renderInstallScript(script, placement));
    });
  }
  return doc;
}
