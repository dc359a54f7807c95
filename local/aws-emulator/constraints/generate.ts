/**
 * Writes aws-constraints.json: AWS's own input constraints (required, min/max, pattern, enum, sensitive)
 * for exactly the operations this product calls or the local emulator serves, extracted from the
 * service models AWS publishes in botocore. Nothing in the table is typed by hand.
 *
 * Regenerate (from a checkout of https://github.com/boto/botocore, or any copy of its botocore/data):
 *
 *   npx tsx local/aws-emulator/constraints/generate.ts <botocore checkout or its botocore/data> \
 *     --commit $(git -C <checkout> rev-parse HEAD) --commit-date $(git -C <checkout> log -1 --format=%cI)
 *
 * then review the diff and run test/local/aws-constraints.test.ts. Tests and CI never run this (no network).
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { DOCUMENT_CLIENT_OPERATIONS, findCommandsInCode, findServedOperations } from './code-operations';
import type { ConstraintTable, ModelShape, ServiceSource } from './table';

interface BotocoreMember {
  shape: string;
  sensitive?: boolean;
}

interface BotocoreShape {
  type: string;
  required?: string[];
  members?: Record<string, BotocoreMember>;
  member?: BotocoreMember;
  key?: BotocoreMember;
  value?: BotocoreMember;
  min?: number;
  max?: number;
  pattern?: string;
  enum?: string[];
  sensitive?: boolean;
  union?: boolean;
}

interface BotocoreModel {
  metadata: {
    apiVersion: string;
    serviceId: string;
    targetPrefix?: string;
    signingName?: string;
    endpointPrefix: string;
    protocol: string;
  };
  operations: Record<string, { input?: { shape: string } }>;
  shapes: Record<string, BotocoreShape>;
}

interface LoadedService {
  name: string;
  modelFile: string;
  model: BotocoreModel;
}

function usage(): never {
  console.error(
    'usage: generate.ts <botocore checkout or botocore/data> --commit <sha> --commit-date <iso date> [--repository <url>] [--out <file>]',
  );
  process.exit(2);
}

function parseArgs(argv: string[]): {
  dataDir: string;
  commit: string;
  commitDate: string;
  repository: string;
  out: string;
} {
  const positional: string[] = [];
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    if (argv[i].startsWith('--')) flags.set(argv[i].slice(2), argv[++i] ?? usage());
    else positional.push(argv[i]);
  }
  const root = positional[0] ?? usage();
  const dataDir = existsSync(path.join(root, 'botocore', 'data')) ? path.join(root, 'botocore', 'data') : root;
  const commit = flags.get('commit') ?? usage();
  const commitDate = flags.get('commit-date') ?? usage();
  if (!/^[0-9a-f]{40}$/.test(commit)) usage();
  return {
    dataDir,
    commit,
    commitDate,
    repository: flags.get('repository') ?? 'https://github.com/boto/botocore',
    out: flags.get('out') ?? path.join(__dirname, 'aws-constraints.json'),
  };
}

/** Every service's newest API version (botocore keeps old versions side by side, e.g. DynamoDB 2011-12-05). */
function loadServices(dataDir: string): LoadedService[] {
  const services: LoadedService[] = [];
  for (const entry of readdirSync(dataDir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const name = entry.name;
    const dir = path.join(dataDir, name);
    const versions = readdirSync(dir)
      .filter((v) => existsSync(path.join(dir, v, 'service-2.json')))
      .sort()
      .reverse();
    if (versions.length === 0) continue;
    const modelFile = path.join(dir, versions[0], 'service-2.json');
    services.push({
      name,
      modelFile: `botocore/data/${name}/${versions[0]}/service-2.json`,
      model: JSON.parse(readFileSync(modelFile, 'utf8')) as BotocoreModel,
    });
  }
  return services;
}

/** AWS SDK for JavaScript v3 names its packages after the model's serviceId: "Secrets Manager" → client-secrets-manager. */
function sdkPackageOf(service: LoadedService): string {
  return `client-${service.model.metadata.serviceId.toLowerCase().replace(/\s+/g, '-')}`;
}

function compactShape(shape: BotocoreShape): ModelShape {
  const out: ModelShape = { type: shape.type };
  if (shape.required?.length) out.required = [...shape.required];
  if (shape.members) {
    out.members = Object.fromEntries(
      Object.entries(shape.members).map(([name, m]) => [
        name,
        m.sensitive ? { shape: m.shape, sensitive: true } : { shape: m.shape },
      ]),
    );
  }
  if (shape.member) out.member = shape.member.shape;
  if (shape.key) out.key = shape.key.shape;
  if (shape.value) out.value = shape.value.shape;
  if (shape.min !== undefined) out.min = shape.min;
  if (shape.max !== undefined) out.max = shape.max;
  if (shape.pattern !== undefined) out.pattern = shape.pattern;
  if (shape.enum) out.enum = [...shape.enum];
  if (shape.sensitive) out.sensitive = true;
  if (shape.union) out.union = true;
  return out;
}

/** The shapes reachable from `root`, each once (recursive shapes, e.g. DynamoDB AttributeValue, stop at the second visit). */
function collectShapes(model: BotocoreModel, root: string, into: Record<string, ModelShape>): void {
  if (into[root]) return;
  const shape = model.shapes[root];
  if (!shape) throw new Error(`shape ${root} is not in the model`);
  into[root] = compactShape(shape);
  const children = [...Object.values(shape.members ?? {}), shape.member, shape.key, shape.value].filter(
    (m): m is BotocoreMember => m !== undefined,
  );
  for (const child of children) collectShapes(model, child.shape, into);
}

function main(): void {
  const args = parseArgs(process.argv.slice(2));
  const repoRoot = path.resolve(__dirname, '..', '..', '..');
  const services = loadServices(args.dataDir);
  const byPackage = new Map(services.map((s) => [sdkPackageOf(s), s]));
  const byTargetPrefix = new Map(
    services.filter((s) => s.model.metadata.targetPrefix).map((s) => [s.model.metadata.targetPrefix!, s]),
  );
  const needed = new Map<LoadedService, Set<string>>();
  const need = (service: LoadedService, operation: string, where: string): void => {
    if (!service.model.operations[operation])
      throw new Error(`${where}: ${service.name} has no operation ${operation}`);
    if (!needed.has(service)) needed.set(service, new Set());
    needed.get(service)!.add(operation);
  };

  const commands = findCommandsInCode(repoRoot);
  const productPackages = new Set(
    commands.map((c) => c.sdkPackage).filter((p): p is string => p !== undefined && p.startsWith('client-')),
  );
  for (const c of commands) {
    if (c.sdkPackage === 'lib-dynamodb') {
      const operation = DOCUMENT_CLIENT_OPERATIONS[c.command];
      if (!operation) throw new Error(`${c.file}: unknown document client command ${c.command}`);
      need(byPackage.get('client-dynamodb')!, operation, c.file);
      continue;
    }
    const operation = c.command.replace(/Command$/, '');
    if (c.sdkPackage) {
      const service = byPackage.get(c.sdkPackage);
      if (!service) throw new Error(`${c.file}: no model for @aws-sdk/${c.sdkPackage}`);
      need(service, operation, c.file);
      continue;
    }
    // Loaded without a static import (e.g. a shim that requires the client by path): the one product client that has it.
    const candidates = [...productPackages]
      .map((p) => byPackage.get(p))
      .filter((s): s is LoadedService => s?.model.operations[operation] !== undefined);
    if (candidates.length !== 1)
      throw new Error(
        `${c.file}: cannot tell which client ${c.command} belongs to (${candidates.map((s) => s.name).join(', ') || 'none'})`,
      );
    need(candidates[0], operation, c.file);
  }
  for (const served of findServedOperations(repoRoot)) {
    const service = byTargetPrefix.get(served.targetPrefix);
    if (!service) throw new Error(`${served.file}: no model with targetPrefix ${served.targetPrefix}`);
    need(service, served.operation, served.file);
  }

  const table: ConstraintTable = {
    source: { repository: args.repository, commit: args.commit, commitDate: args.commitDate, services: {} },
    services: {},
  };
  for (const [service, operations] of [...needed].sort((a, b) => a[0].name.localeCompare(b[0].name))) {
    const meta = service.model.metadata;
    const source: ServiceSource = {
      model: service.modelFile,
      apiVersion: meta.apiVersion,
      serviceId: meta.serviceId,
      protocol: meta.protocol,
      signingName: meta.signingName ?? meta.endpointPrefix,
      ...(meta.targetPrefix ? { targetPrefix: meta.targetPrefix } : {}),
    };
    table.source.services[service.name] = source;
    const shapes: Record<string, ModelShape> = {};
    const inputs: Record<string, string> = {};
    for (const operation of [...operations].sort()) {
      const input = service.model.operations[operation].input?.shape;
      if (!input) throw new Error(`${service.name}.${operation} has no input shape`);
      inputs[operation] = input;
      collectShapes(service.model, input, shapes);
    }
    table.services[service.name] = {
      operations: inputs,
      shapes: Object.fromEntries(Object.entries(shapes).sort(([a], [b]) => a.localeCompare(b))),
    };
  }
  writeFileSync(args.out, `${JSON.stringify(table, null, 1)}\n`);
  const count = Object.values(table.services).reduce((n, s) => n + Object.keys(s.operations).length, 0);
  console.log(
    `wrote ${path.relative(process.cwd(), args.out)}: ${count} operations of ${Object.keys(table.services).join(', ')}`,
  );
}

main();
