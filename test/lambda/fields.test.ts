/**
 * The field registry (lambda/shared/fields.ts): what it generates for the API, the CLI, the inventory and the
 * node documents, compared with today's hand-written document and script tables so the swap to the
 * generated ones changes nothing a node sees; and that one new entry reaches every generated place.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { parse } from 'yaml';
import { inputFromItem } from '../../lambda/acm-renew/acm-renew';
import { exportRequestStructure } from '../../lambda/export-api/api-model';
import { toView } from '../../lambda/export-api/list-certificates';
import {
  DOCUMENTS,
  DocumentName,
  FIELDS,
  FieldEntry,
  Registry,
  bashParamPrelude,
  cliFlags,
  documentParameters,
  legacyAttributeNames,
  optionsView,
  requestFromStored,
  runParameters,
  storedOptions,
} from '../../lambda/shared/fields';
import { documentParameters as runDocumentParameters, profileFromItem } from '../../lambda/shared/install-command';
import { getItem, recordExport, targetsOfCertificate } from '../../lambda/shared/inventory';
import { exportRequestSchema, parseWith, withDefaults } from '../../lambda/shared/schemas';
import { documentPath } from '../../ssm-documents/load';
import { CERT_ARN, INPUT, SECRET_ARN, executionArn, startInventory } from './support';

/** `[Name]='value'` or `[Name]=value` pairs of one `declare -rA NAME=(...)` table in a bash text. */
function bashTable(text: string, table: 'RE' | 'MAX' | 'DEFAULT'): Record<string, string> {
  const block = new RegExp(`declare -rA ${table}=\\(\\n?([\\s\\S]*?)\\n\\)`).exec(text);
  if (!block) throw new Error(`no ${table} table`);
  const out: Record<string, string> = {};
  for (const m of block[1].matchAll(/\[(\w+)\]=('([^']*)'|(\S+))/g)) out[m[1]] = m[3] ?? m[4];
  return out;
}

const yamlParameters = (document: DocumentName) =>
  (parse(readFileSync(documentPath(document), 'utf8')) as { parameters: Record<string, Record<string, unknown>> })
    .parameters;
const paramsLibrary = readFileSync(path.join(path.dirname(documentPath('install')), 'lib', 'params.sh'), 'utf8');

describe.each(DOCUMENTS)('generated %s document against the hand-written one', (document) => {
  const generated = documentParameters(document);

  test('declares exactly the written parameters, with the same type, pattern, length, default and values', () => {
    const today = yamlParameters(document);
    expect(Object.keys(generated).sort()).toEqual(Object.keys(today).sort());
    const shape = (p: Record<string, unknown>) => ({
      type: p.type,
      default: p.default,
      allowedValues: p.allowedValues,
      allowedPattern: p.allowedPattern,
      maxChars: p.maxChars,
      interpolationType: p.interpolationType,
    });
    for (const name of Object.keys(today)) {
      expect({ name, ...shape(generated[name] as unknown as Record<string, unknown>) }).toEqual({
        name,
        ...shape(today[name]),
      });
    }
  });

  test('its bash prelude holds the library’s RE, MAX and DEFAULT rows for those parameters', () => {
    const prelude = bashParamPrelude(document);
    const declared = Object.keys(generated);
    for (const table of ['RE', 'MAX', 'DEFAULT'] as const) {
      const written = bashTable(paramsLibrary, table);
      expect({ table, rows: bashTable(prelude, table) }).toEqual({
        table,
        rows: Object.fromEntries(Object.entries(written).filter(([name]) => declared.includes(name))),
      });
    }
  });
});

describe('generated node documents', () => {
  test('the prelude is valid bash that declares the tables the checks read', () => {
    for (const document of DOCUMENTS) {
      const r = spawnSync(
        'bash',
        ['-c', `${bashParamPrelude(document)}\nfor n in "\${!RE[@]}"; do echo "$n \${MAX[$n]}"; done | sort`],
        { encoding: 'utf8' },
      );
      expect(r.status).toBe(0);
      const declared = Object.keys(documentParameters(document)).sort();
      expect(r.stdout.trim().split('\n')).toEqual(
        declared.map((name) => `${name} ${FIELDS[name as keyof typeof FIELDS].rule.maxLength}`).sort(),
      );
    }
  });

  test('each action’s document declares only what its program reads, and none has Action', () => {
    const names = (document: (typeof DOCUMENTS)[number]) => Object.keys(documentParameters(document));
    for (const document of DOCUMENTS) expect(names(document)).not.toContain('Action');
    expect(names('install')).toContain('SecretVersionId');
    for (const document of ['report', 'remove', 'preflight'] as const) {
      expect(names(document)).not.toContain('SecretVersionId');
      expect(names(document)).not.toContain('SecretVersionStage');
      expect(names(document)).not.toContain('KeyOwner');
    }
    // What each program reads (ssm-documents/report.sh, remove.sh and preflight.sh).
    expect(names('report').sort()).toEqual(
      ['CertDir', 'CertName', 'CombinedPem', 'KeyDir', 'Pkcs12', 'SecretId', 'Service', 'Target', 'VerifyPort'].sort(),
    );
    expect(names('remove').sort()).toEqual(['CertDir', 'CertName', 'KeyDir', 'SecretId', 'Service'].sort());
    expect(names('preflight').sort()).toEqual(['Region', 'SecretId']);
  });
});

describe('the request', () => {
  test('a bad value is refused with the field and its rule, never the value', () => {
    const result = parseWith(exportRequestSchema(), { ...INPUT, KeyMode: '0777', TargetTagKey: 'aws:x' });
    expect(result).toEqual({
      ok: false,
      message: expect.stringContaining(`KeyMode: ${FIELDS.KeyMode.rule.rule}`),
    });
    expect(!result.ok && result.message).toContain('TargetTagKey: must not start with "aws:" (reserved by AWS)');
    expect(!result.ok && result.message).not.toContain('0777');
  });

  test('defaults apply to every optional field that has one; the schedule stays the stack’s', () => {
    const resolved = withDefaults(exportRequestSchema().parse(INPUT));
    expect(resolved).toMatchObject({ CertDir: '/etc/ssl/certs', CertMode: '0644', VerifyPort: 0, Pkcs12: false });
    expect(resolved).not.toHaveProperty('ConvergenceSchedule');
  });

  test('the API model and the CLI list the registry’s API fields', () => {
    const structure = exportRequestStructure();
    expect(structure.properties.VerifyPort).toEqual({ type: 'integer' });
    expect(structure.properties).not.toHaveProperty('SecretId');
    expect(cliFlags().map((f) => f.flag.split(' ')[0])).toEqual(
      expect.arrayContaining(['--arn', '--name', '--cert-dir', '--pkcs12', '--dry-run']),
    );
  });
});

describe('inventory items', () => {
  const LEGACY = {
    certificateArn: CERT_ARN,
    target: 'Role=web',
    itemType: 'target',
    certName: 'www',
    targetTagKey: 'Role',
    targetTagValue: 'web',
    certDir: '/etc/nginx/ssl',
    keyDir: '/etc/nginx/ssl/private',
    service: 'nginx',
    verifyPort: 443,
    maxConcurrency: '2',
    maxErrors: '0',
    keyGroup: 'www-data',
    pkcs12: true,
    convergenceSchedule: 'rate(6 hours)',
    certExpiryDate: '2027-06-01T00:00:00.000Z',
    lastExportedDate: '2026-11-01T00:00:00.000Z',
    lastExportStartedAt: '2026-11-01T00:00:00.000Z',
    lastSerial: '01',
    lastSecretArn: SECRET_ARN,
    lastSecretVersionId: '11111111-2222-4333-8444-555555555555',
    lastExecutionArn: executionArn('old'),
  };
  let inventory: Awaited<ReturnType<typeof startInventory>>;
  beforeAll(async () => {
    inventory = await startInventory();
  });
  afterAll(() => inventory.stop());

  test('an item written with the old camelCase names is read under the API names, defaults for what it lacks', async () => {
    await inventory.ddb.send(new PutCommand({ TableName: inventory.tableName, Item: LEGACY }));
    const item = await getItem(inventory, { certificateArn: CERT_ARN, target: 'Role=web' });
    expect(item).toMatchObject({ CertName: 'www', CertDir: '/etc/nginx/ssl', KeyGroup: 'www-data', Pkcs12: true });
    expect(item).not.toHaveProperty('certName');
    expect(profileFromItem(item!)).toMatchObject({ KeyOwner: '', CertMode: '0644', CombinedPem: false });
    const [listed] = await targetsOfCertificate(inventory, CERT_ARN);
    expect(listed).toEqual(item);

    // Its renewal repeats its options, and the request passes the API's own schema.
    const renewal = inputFromItem(item!);
    expect(renewal).toMatchObject({
      CertName: 'www',
      Service: 'nginx',
      VerifyPort: 443,
      ConvergenceSchedule: 'rate(6 hours)',
    });
    expect(exportRequestSchema().safeParse(renewal).success).toBe(true);
    // GET /certificates shows it under the view's camelCase names, the defaults filled in.
    expect(toView(item!, new Date('2026-12-01T00:00:00.000Z'))).toMatchObject({
      certName: 'www',
      keyGroup: 'www-data',
      keyOwner: '',
      maxConcurrency: '2',
      convergenceSchedule: 'rate(6 hours)',
    });
    // Its convergence association gets the stored profile (KeyGroup from the old name, the rest defaults).
    const parameters = runDocumentParameters(
      profileFromItem(item!),
      { secretArn: SECRET_ARN, stage: 'AWSCURRENT' },
      'us-east-1',
    );
    expect(parameters).toMatchObject({
      SecretVersionStage: ['AWSCURRENT'],
      CertName: ['www'],
      KeyGroup: ['www-data'],
      Target: ['Role=web'],
    });
  });

  test('a new export over an old item stores the API names and drops the camelCase ones', async () => {
    const request = withDefaults(exportRequestSchema().parse({ ...INPUT, CertName: 'www2', KeyOwner: 'nginx' }));
    const claim = await recordExport(
      inventory,
      { certificateArn: CERT_ARN, target: 'Role=web' },
      {
        ...storedOptions(request as unknown as Record<string, unknown>),
        certExpiryDate: '2027-07-01T00:00:00.000Z',
        lastExportedDate: '2026-12-01T00:00:00.000Z',
        lastExportStartedAt: '2026-12-01T00:00:00.000Z',
        lastSerial: '02',
        lastSecretArn: SECRET_ARN,
        lastSecretVersionId: '22222222-2222-4333-8444-555555555555',
        lastExecutionArn: executionArn('new'),
      },
    );
    expect(claim.applied).toBe(true);
    const raw = (
      await inventory.ddb.send(
        new GetCommand({ TableName: inventory.tableName, Key: { certificateArn: CERT_ARN, target: 'Role=web' } }),
      )
    ).Item!;
    expect(raw).toMatchObject({ CertName: 'www2', KeyOwner: 'nginx', CertDir: '/etc/ssl/certs' });
    for (const legacy of legacyAttributeNames()) expect(raw).not.toHaveProperty(legacy);
  });
});

describe('a new option is one registry entry', () => {
  const Compression: FieldEntry = {
    rule: { pattern: '^(none|gzip)$', maxLength: 4, rule: 'must be none or gzip' },
    json: 'string',
    values: ['none', 'gzip'],
    api: 'optional',
    default: 'none',
    stored: { legacy: 'compression' },
    documents: ['install', 'report'],
    description: 'How the served files are compressed.',
    cli: { flag: '--compression <mode>', help: 'none (default) or gzip' },
  };
  const registry: Registry = { ...FIELDS, Compression };

  test('it reaches zod, the API model, the CLI, the stored item, the renewal and the documents', () => {
    const schema = exportRequestSchema({}, registry);
    expect(schema.safeParse({ ...INPUT, Compression: 'gzip' }).success).toBe(true);
    expect(parseWith(schema, { ...INPUT, Compression: 'zip' })).toEqual({
      ok: false,
      message: 'Compression: must be none or gzip',
    });
    // Without the entry the field is unknown.
    expect(exportRequestSchema().safeParse({ ...INPUT, Compression: 'gzip' }).success).toBe(false);

    expect(exportRequestStructure(registry).properties.Compression).toEqual({ type: 'string' });
    expect(cliFlags(registry)).toContainEqual(
      expect.objectContaining({ field: 'Compression', flag: '--compression <mode>', option: 'compression' }),
    );
    expect(storedOptions({ compression: 'gzip' }, registry)).toMatchObject({ Compression: 'gzip' });
    expect(requestFromStored(CERT_ARN, { ...INPUT, Compression: 'gzip' }, registry)).toMatchObject({
      Compression: 'gzip',
    });
    expect(optionsView(storedOptions({ Compression: 'gzip' }, registry), registry)).toMatchObject({
      compression: 'gzip',
    });
    expect(runParameters('install', { Compression: 'gzip' }, registry)).toEqual({ Compression: ['gzip'] });
    expect(documentParameters('report', registry).Compression).toEqual({
      type: 'String',
      description: 'How the served files are compressed.',
      default: 'none',
      allowedValues: ['none', 'gzip'],
      allowedPattern: '^(none|gzip)$',
      maxChars: 4,
      interpolationType: 'ENV_VAR',
    });
    expect(documentParameters('remove', registry)).not.toHaveProperty('Compression');
    expect(bashTable(bashParamPrelude('install', registry), 'RE').Compression).toBe('^(none|gzip)$');
    expect(bashTable(bashParamPrelude('install', registry), 'DEFAULT').Compression).toBe('none');
  });
});
