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

export function loadInstallDocument(file = INSTALL_DOCUMENT_PATH): SsmCommandDocument {
  const doc = parse(readFileSync(file, 'utf8')) as SsmCommandDocument;
  for (const step of doc.mainSteps) {
    step.inputs.runCommand = step.inputs.runCommand.flatMap((line) => {
      const include = INCLUDE.exec(line.trim());
      if (!include) return [line];
      return scriptLines(readFileSync(path.join(path.dirname(file), include[1]), 'utf8'));
    });
  }
  return doc;
}
