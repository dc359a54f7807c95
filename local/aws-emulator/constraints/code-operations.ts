/**
 * Finds the AWS operations this product depends on by reading its own source: every AWS SDK command
 * it constructs (`new <Name>Command(...)`) in lambda/, cli/ and local/, and every operation the local
 * emulator serves (the `operations: {` map next to a `targetPrefix`). The constraint generator uses it
 * to choose what to extract, and a test uses it to prove the committed table still covers the code.
 */
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

/** Where the product's AWS callers live, relative to the repository root. */
export const SOURCE_DIRS = ['lambda', 'cli', 'local'];

/** An SDK command the code constructs, by client package (e.g. `client-ssm`, `lib-dynamodb`) when the import says so. */
export interface CodeCommand {
  file: string;
  command: string;
  /** `@aws-sdk/<package>` the command is imported from; undefined when loaded some other way (e.g. a require of a path). */
  sdkPackage?: string;
}

/** An operation served by an emulated service, identified by its X-Amz-Target prefix. */
export interface ServedOperation {
  file: string;
  targetPrefix: string;
  operation: string;
}

/**
 * The DynamoDB document client's commands and the DynamoDB operation each one sends
 * (their inputs are native values that the client marshals into AttributeValues).
 */
export const DOCUMENT_CLIENT_OPERATIONS: Readonly<Record<string, string>> = {
  GetCommand: 'GetItem',
  PutCommand: 'PutItem',
  UpdateCommand: 'UpdateItem',
  DeleteCommand: 'DeleteItem',
  QueryCommand: 'Query',
  ScanCommand: 'Scan',
  BatchGetCommand: 'BatchGetItem',
  BatchWriteCommand: 'BatchWriteItem',
  TransactGetCommand: 'TransactGetItems',
  TransactWriteCommand: 'TransactWriteItems',
};

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules') out.push(...sourceFiles(full));
    } else if (/\.(ts|cjs|js)$/.test(entry.name) && !entry.name.endsWith('.d.ts')) out.push(full);
  }
  return out;
}

/** `import { A, B as C } from '@aws-sdk/x'` → A and B mapped to `x` (type-only imports included; harmless). */
function importedNames(text: string): Map<string, string> {
  const names = new Map<string, string>();
  for (const m of text.matchAll(/import\s+(?:type\s+)?\{([^}]*)\}\s*from\s*'@aws-sdk\/([\w-]+)'/g)) {
    for (const part of m[1].split(',')) {
      const name = part
        .trim()
        .replace(/^type\s+/, '')
        .split(/\s+as\s+/)[0];
      if (name) names.set(name, m[2]);
    }
  }
  return names;
}

export function findCommandsInCode(repoRoot: string): CodeCommand[] {
  const found: CodeCommand[] = [];
  for (const dir of SOURCE_DIRS) {
    for (const file of sourceFiles(path.join(repoRoot, dir))) {
      const text = readFileSync(file, 'utf8');
      const imports = importedNames(text);
      for (const m of text.matchAll(/new (\w+Command)\(/g)) {
        const sdkPackage = imports.get(m[1]);
        found.push({ file: path.relative(repoRoot, file), command: m[1], ...(sdkPackage ? { sdkPackage } : {}) });
      }
    }
  }
  return found;
}

export function findServedOperations(repoRoot: string): ServedOperation[] {
  const found: ServedOperation[] = [];
  for (const dir of SOURCE_DIRS) {
    for (const file of sourceFiles(path.join(repoRoot, dir))) {
      const text = readFileSync(file, 'utf8');
      const prefix = /targetPrefix: '([\w.]+)'/.exec(text);
      const block = /\n(\s*)operations: \{\n([\s\S]*?)\n\1\}/.exec(text);
      if (!prefix || !block) continue;
      for (const m of block[2].matchAll(/^\s*(\w+): /gm))
        found.push({ file: path.relative(repoRoot, file), targetPrefix: prefix[1], operation: m[1] });
    }
  }
  return found;
}
