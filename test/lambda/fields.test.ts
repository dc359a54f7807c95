/**
 * The field registry (lambda/shared/fields.ts): what it generates for the API, the CLI, the inventory and the
 * node documents (their parameters and the rules their programs check them with), that one new entry reaches
 * every generated place, and that docs/api.md's field table lists the registry's API fields.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { inputFromItem } from '../../lambda/acm-renew/acm-renew';
import { exportRequestStructure } from '../../lambda/export-api/api-model';
import { toView } from '../../lambda/export-api/list-certificates';
import {
  DOCUMENTS,
  FIELDS,
  FieldEntry,
  Registry,
  apiFieldNames,
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
import { documentScript, loadDocument } from '../../ssm-documents/load';
import { DEFAULT_PLACEMENT } from '../../lambda/shared/placement';
import { CERT_ARN, INPUT, SECRET_ARN, executionArn, startInventory } from './support';

/** The tables the generated rules declare, as bash reads them: `{ RE: { Name: pattern }, MAX: ..., ... }`. */
function bashTables(prelude: string): Record<'RE' | 'MAX' | 'DEFAULT' | 'LARGEST', Record<string, string>> {
  const dump =
    'for t in RE MAX DEFAULT LARGEST; do declare -n a=$t; for n in "${!a[@]}"; do printf "%s\\t%s\\t%s\\n" "$t" "$n" "${a[$n]}"; done; done';
  const r = spawnSync('bash', ['-c', `${prelude}\n${dump}`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`the rules are not valid bash: ${r.stderr}`);
  const out = { RE: {}, MAX: {}, DEFAULT: {}, LARGEST: {} } as Record<string, Record<string, string>>;
  for (const line of r.stdout.split('\n').filter(Boolean)) {
    const [table, name, value] = line.split('\t');
    out[table][name] = value;
  }
  return out;
}

describe('generated node documents', () => {
  test('the rules are valid bash holding each declared parameter’s pattern, length, default and bound', () => {
    for (const document of DOCUMENTS) {
      const tables = bashTables(bashParamPrelude(document));
      const declared = Object.entries(FIELDS as Registry).filter(([, e]) => e.documents?.includes(document));
      expect(Object.keys(tables.RE).sort()).toEqual(declared.map(([name]) => name).sort());
      for (const [name, e] of declared) {
        expect({ name, re: tables.RE[name], max: tables.MAX[name] }).toEqual({
          name,
          re: e.rule.pattern,
          max: String(e.rule.maxLength),
        });
        expect({ name, default: tables.DEFAULT[name] }).toEqual({
          name,
          default: e.default === undefined ? undefined : String(e.default),
        });
      }
      if (document === 'install') expect(tables.LARGEST).toEqual({ VerifyPort: '65535' });
    }
  });

  test('a name that is not letters and digits never reaches the shell text', () => {
    const odd: Registry = { ...FIELDS, 'X$(id)': { ...FIELDS.Target, documents: ['install'] } };
    expect(() => bashParamPrelude('install', odd)).toThrow('a document parameter name is letters and digits');
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
  });

  test('it reaches the documents as the stack deploys them, and the checks of their programs', () => {
    expect(loadDocument('install', DEFAULT_PLACEMENT, registry).parameters.Compression).toMatchObject({
      allowedPattern: '^(none|gzip)$',
      default: 'none',
    });
    expect(loadDocument('remove', DEFAULT_PLACEMENT, registry).parameters).not.toHaveProperty('Compression');
    expect(loadDocument('install').parameters).not.toHaveProperty('Compression');
    // The install program as shipped with the entry, its `main` swapped for reading the new parameter the way
    // each program reads its own: a bad value is refused with the registry's rule, an absent one defaulted.
    const script = documentScript('install', DEFAULT_PLACEMENT, { registry }).replace(
      /^main "\$@"$/m,
      'Compression=${SSM_Compression-${DEFAULT[Compression]}}; read_params "" Compression; echo "$Compression ${problems[*]}"',
    );
    const run = (env: Record<string, string>) =>
      spawnSync('bash', ['-c', script], {
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
        encoding: 'utf8',
      }).stdout;
    expect(run({ SSM_Compression: 'zip' })).toBe(
      'zip SSM_Compression does not match its allowedPattern ^(none|gzip)$ (at most 4 characters)\n',
    );
    expect(run({})).toBe('none \n');
  });
});

describe('docs/api.md', () => {
  const page = readFileSync(path.join(__dirname, '..', '..', 'docs', 'api.md'), 'utf8');
  /** The rows of the `POST /exports` field table: the fields each row names, required, default. */
  const rows = [...page.matchAll(/^\| (`\w+`(?:, `\w+`)*) \| (yes|no) \|([^|]*)\|/gm)].map((m) => ({
    fields: [...m[1].matchAll(/`(\w+)`/g)].map((f) => f[1]),
    required: m[2] === 'yes',
    default: m[3].trim(),
  }));

  test('its field table lists every API field once, required as the registry says, with the registry default', () => {
    const listed = rows.flatMap((row) => row.fields);
    expect([...listed].sort()).toEqual(apiFieldNames().sort());
    for (const row of rows) {
      for (const field of row.fields) {
        const entry: FieldEntry = FIELDS[field as keyof typeof FIELDS];
        expect({ field, required: row.required }).toEqual({ field, required: entry.api === 'required' });
        // A default written as a value is the registry's; an empty one ('' = root, 0600) is explained in words.
        const written = /^`([^`]*)`/.exec(row.default)?.[1];
        if (entry.default !== undefined && entry.default !== '')
          expect({ field, default: written }).toEqual({ field, default: String(entry.default) });
        if (entry.default === undefined) expect({ field, default: written }).toEqual({ field, default: undefined });
      }
    }
  });
});
