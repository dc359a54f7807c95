/**
 * Loads the Install-ACMCertificate document. The shell logic lives in its own file so it can be
 * shellchecked and run directly in tests; the YAML names it with an `#include <file>` line in a step's
 * `runCommand`, which is replaced here by the file's lines.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';

export const INSTALL_DOCUMENT_PATH = path.join(__dirname, 'install-acm-certificate.yaml');

const INCLUDE = /^#include ([A-Za-z0-9._-]+)$/;

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

export function loadInstallDocument(file = INSTALL_DOCUMENT_PATH): SsmCommandDocument {
  const doc = parse(readFileSync(file, 'utf8')) as SsmCommandDocument;
  for (const step of doc.mainSteps) {
    step.inputs.runCommand = step.inputs.runCommand.flatMap((line) => {
      const include = INCLUDE.exec(line.trim());
      if (!include) return [line];
      return readFileSync(path.join(path.dirname(file), include[1]), 'utf8').replace(/\n$/, '').split('\n');
    });
  }
  return doc;
}
