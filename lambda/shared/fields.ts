/**
 * The field registry: one entry per option a caller, the workflow, the inventory or a node document knows.
 * Everything else is generated from it: the zod request schema (schemas.ts), the API Gateway model
 * (export-api/api-model.ts), the CLI flags (cli/export.ts), the mapping request → inventory item → renewal
 * request, the document parameters of a run, each document's `parameters:` block and the bash tables the
 * node scripts check their parameters with. A new option is one entry here plus what the node does with it.
 *
 * Value rules are the bodies of FIELD_RULES (patterns.ts), which the stack's other checks share.
 */
import { FIELD_RULES, FieldRule, INSTALL_DEFAULTS, RESERVED_TAG_PREFIX } from './patterns';

/** The node documents, one per action; each declares only the parameters its program reads. */
export const DOCUMENTS = ['install', 'report', 'remove', 'preflight'] as const;
export type DocumentName = (typeof DOCUMENTS)[number];

export type JsonType = 'string' | 'integer' | 'boolean';

export interface FieldEntry {
  readonly rule: FieldRule;
  /** The JSON type in the API body (document parameters are always strings). */
  readonly json: JsonType;
  /** A closed list of values (the API refuses any other with the rule's message). */
  readonly values?: readonly [string, ...string[]];
  /** integer only: the inclusive range the API accepts. */
  readonly range?: readonly [number, number];
  /** Extra refusal beyond the pattern (e.g. a reserved prefix), with its own message. */
  readonly refuse?: { readonly pattern: RegExp; readonly message: string };
  /** In `POST /exports`: required, or optional (its default applies when absent). Absent: not an API field. */
  readonly api?: 'required' | 'optional';
  /** Applied when the caller leaves the field out. None on an optional field: resolved elsewhere (stack setting). */
  readonly default?: string | number | boolean;
  /**
   * Stored on the inventory item under its API name. `legacy`: the camelCase name older items stored it under,
   * which is also its name in the `GET /certificates` view.
   */
  readonly stored?: { readonly legacy: string };
  /** The documents that receive it as a parameter (of the same name). */
  readonly documents?: readonly DocumentName[];
  /**
   * The document parameter's description (the API and CLI say it in their own words). Short: each document
   * counts against SSM's 64 KB, and the details live in docs/*.md.
   */
  readonly description: string;
  /** The description in a document where the parameter means something narrower (e.g. reported, never read). */
  readonly describedIn?: Partial<Record<DocumentName, string>>;
  /** The `acm-export export` option: flag (with `<value>` unless boolean) and help text. */
  readonly cli?: { readonly flag: string; readonly help: string };
}

const ALL_DOCUMENTS = DOCUMENTS;
/** The documents that handle a target's files (the preflight only checks the node and the canary secret). */
const FILE_DOCUMENTS = ['install', 'report', 'remove'] as const;

export const FIELDS = {
  CertificateArn: {
    rule: FIELD_RULES.CertificateArn,
    json: 'string',
    api: 'required',
    description: 'ARN of the ACM certificate.',
    cli: { flag: '--arn <arn>', help: 'ARN of the ACM certificate (created with export enabled)' },
  },
  CertName: {
    rule: FIELD_RULES.CertName,
    json: 'string',
    api: 'required',
    stored: { legacy: 'certName' },
    documents: FILE_DOCUMENTS,
    description: 'File name stem: <CertName>.crt, .chain.pem, .fullchain.pem and .key.',
    cli: {
      flag: '--name <name>',
      help: 'file name stem on the servers: <name>.crt, <name>.chain.pem, <name>.fullchain.pem, <name>.key',
    },
  },
  TargetTagKey: {
    rule: FIELD_RULES.TargetTagKey,
    json: 'string',
    api: 'required',
    refuse: { pattern: RESERVED_TAG_PREFIX, message: 'must not start with "aws:" (reserved by AWS)' },
    stored: { legacy: 'targetTagKey' },
    description: 'Key of the tag that selects the nodes.',
  },
  TargetTagValue: {
    rule: FIELD_RULES.TargetTagValue,
    json: 'string',
    api: 'required',
    stored: { legacy: 'targetTagValue' },
    description: 'Value of the tag that selects the nodes.',
  },
  CertDir: {
    rule: FIELD_RULES.CertDir,
    json: 'string',
    api: 'optional',
    default: INSTALL_DEFAULTS.CertDir,
    stored: { legacy: 'certDir' },
    documents: FILE_DOCUMENTS,
    description: 'Directory of the certificate files.',
    cli: { flag: '--cert-dir <dir>', help: 'directory for the certificate files (default /etc/ssl/certs)' },
  },
  KeyDir: {
    rule: FIELD_RULES.KeyDir,
    json: 'string',
    api: 'optional',
    default: INSTALL_DEFAULTS.KeyDir,
    stored: { legacy: 'keyDir' },
    documents: FILE_DOCUMENTS,
    description: 'Directory of the key file.',
    cli: { flag: '--key-dir <dir>', help: 'directory for the private key (default /etc/ssl/private)' },
  },
  Service: {
    rule: FIELD_RULES.Service,
    json: 'string',
    values: ['auto', 'none', 'nginx', 'apache2', 'httpd'],
    api: 'optional',
    default: INSTALL_DEFAULTS.Service,
    stored: { legacy: 'service' },
    documents: FILE_DOCUMENTS,
    // auto: the one of nginx, apache2 and httpd that is running (active systemd unit or process) and on PATH;
    // none running: the files are installed without a reload; several: the run fails before changing anything.
    description: 'Web server to test and reload: auto (the running one), none, nginx, apache2 or httpd.',
    describedIn: {
      report: "The target's Service, reported in the node's inventory (a report reloads nothing).",
      remove: 'Web server whose config test must pass without the files: auto, none, nginx, apache2 or httpd.',
    },
    cli: {
      flag: '--service <service>',
      help: 'web server to test and reload: auto (default: the one running on the node; none running: no reload), none, nginx, apache2 or httpd',
    },
  },
  VerifyPort: {
    rule: FIELD_RULES.VerifyPort,
    json: 'integer',
    range: [0, 65535],
    api: 'optional',
    default: INSTALL_DEFAULTS.VerifyPort,
    stored: { legacy: 'verifyPort' },
    documents: ['install', 'report'],
    description: 'Local TLS port that must serve the new serial; 0 skips the check.',
    cli: {
      flag: '--verify-port <port>',
      help: 'after install, check the certificate served on this local port (0 = skip)',
    },
  },
  MaxConcurrency: {
    rule: FIELD_RULES.MaxConcurrency,
    json: 'string',
    api: 'optional',
    default: INSTALL_DEFAULTS.MaxConcurrency,
    stored: { legacy: 'maxConcurrency' },
    description: 'How many nodes install at once (Run Command MaxConcurrency).',
    cli: { flag: '--max-concurrency <n|%>', help: 'how many nodes install at once (default 10%)' },
  },
  MaxErrors: {
    rule: FIELD_RULES.MaxErrors,
    json: 'string',
    api: 'optional',
    default: INSTALL_DEFAULTS.MaxErrors,
    stored: { legacy: 'maxErrors' },
    description: 'Failures allowed before the rollout stops (Run Command MaxErrors).',
    cli: { flag: '--max-errors <n|%>', help: 'failures allowed before the rollout stops (default 0)' },
  },
  KeyOwner: {
    rule: FIELD_RULES.KeyOwner,
    json: 'string',
    api: 'optional',
    default: INSTALL_DEFAULTS.KeyOwner,
    stored: { legacy: 'keyOwner' },
    documents: ['install'],
    description: 'Owner of the key, combined PEM and PKCS#12 files; empty: root.',
    cli: { flag: '--key-owner <user>', help: 'owner of the key, combined PEM and PKCS#12 files (default root)' },
  },
  KeyGroup: {
    rule: FIELD_RULES.KeyGroup,
    json: 'string',
    api: 'optional',
    default: INSTALL_DEFAULTS.KeyGroup,
    stored: { legacy: 'keyGroup' },
    documents: ['install'],
    description: 'Group of the key files (then mode 0640); empty: root only (0600).',
    cli: { flag: '--key-group <group>', help: 'group of the key files (default root; the key becomes 0640)' },
  },
  KeyMode: {
    rule: FIELD_RULES.KeyMode,
    json: 'string',
    api: 'optional',
    default: INSTALL_DEFAULTS.KeyMode,
    stored: { legacy: 'keyMode' },
    documents: ['install'],
    description: 'Mode of the key files; empty: 0600, or 0640 with KeyGroup.',
    cli: { flag: '--key-mode <mode>', help: 'mode of the key files: 0600, 0640, 0400 or 0440' },
  },
  CertOwner: {
    rule: FIELD_RULES.CertOwner,
    json: 'string',
    api: 'optional',
    default: INSTALL_DEFAULTS.CertOwner,
    stored: { legacy: 'certOwner' },
    documents: ['install'],
    description: 'Owner of the certificate files; empty: root.',
    cli: { flag: '--cert-owner <user>', help: 'owner of the certificate files (default root)' },
  },
  CertGroup: {
    rule: FIELD_RULES.CertGroup,
    json: 'string',
    api: 'optional',
    default: INSTALL_DEFAULTS.CertGroup,
    stored: { legacy: 'certGroup' },
    documents: ['install'],
    description: 'Group of the certificate files; empty: root.',
    cli: { flag: '--cert-group <group>', help: 'group of the certificate files (default root)' },
  },
  CertMode: {
    rule: FIELD_RULES.CertMode,
    json: 'string',
    api: 'optional',
    default: INSTALL_DEFAULTS.CertMode,
    stored: { legacy: 'certMode' },
    documents: ['install'],
    description: 'Mode of the certificate files.',
    cli: {
      flag: '--cert-mode <mode>',
      help: 'mode of the certificate files: 0644 (default), 0640, 0444, 0440, 0600 or 0400',
    },
  },
  Pkcs12: {
    rule: FIELD_RULES.Pkcs12,
    json: 'boolean',
    api: 'optional',
    default: INSTALL_DEFAULTS.Pkcs12,
    stored: { legacy: 'pkcs12' },
    documents: ['install', 'report'],
    description: "Also write KeyDir/<CertName>.p12, protected by the secret version's PFX passphrase.",
    cli: {
      flag: '--pkcs12',
      help: 'also write <name>.p12 (key, certificate and chain; its passphrase is stored in the same secret version)',
    },
  },
  CombinedPem: {
    rule: FIELD_RULES.CombinedPem,
    json: 'boolean',
    api: 'optional',
    default: INSTALL_DEFAULTS.CombinedPem,
    stored: { legacy: 'combinedPem' },
    documents: ['install', 'report'],
    description: 'Also write KeyDir/<CertName>.combined.pem (key + full chain).',
    cli: { flag: '--combined-pem', help: 'also write <name>.combined.pem (key + full chain, e.g. for HAProxy)' },
  },
  ConvergenceSchedule: {
    rule: FIELD_RULES.ConvergenceSchedule,
    json: 'string',
    // No default here: the stack's setting applies (ssm-run knows it).
    api: 'optional',
    stored: { legacy: 'convergenceSchedule' },
    description: "Schedule of the target's convergence association.",
    cli: {
      flag: '--convergence-schedule <rate>',
      help: 'how often nodes are re-checked and repaired, e.g. "rate(6 hours)" (default: the stack\'s, rate(12 hours))',
    },
  },
  DryRun: {
    rule: { pattern: '^(true|false)$', maxLength: 5, rule: 'must be true or false' },
    json: 'boolean',
    api: 'optional',
    default: INSTALL_DEFAULTS.DryRun,
    description: 'List the matching nodes; export and install nothing.',
    cli: { flag: '--dry-run', help: 'list the matching nodes, export and install nothing' },
  },
  // Run parameters: set by the workflow for each run, never by the caller.
  SecretId: {
    rule: FIELD_RULES.SecretId,
    json: 'string',
    documents: ALL_DOCUMENTS,
    description: 'ARN of the secret holding the exported certificate.',
    describedIn: {
      report: 'ARN of the secret the files were installed from (reported; never read).',
      remove: 'ARN of the secret the files were installed from (never read; refused if the node recorded another).',
      preflight: "ARN of the stack's canary secret (no key material), read to check the node's access.",
    },
  },
  SecretVersionId: {
    rule: FIELD_RULES.SecretVersionId,
    json: 'string',
    default: '',
    documents: ['install'],
    description: 'The secret version to install (pushes). Give it or SecretVersionStage, not both.',
  },
  SecretVersionStage: {
    rule: FIELD_RULES.SecretVersionStage,
    json: 'string',
    default: '',
    documents: ['install'],
    description: "AWSCURRENT: install the secret's current version (associations). Or SecretVersionId.",
  },
  Region: {
    rule: FIELD_RULES.Region,
    json: 'string',
    documents: ['install', 'preflight'],
    description: 'Region of the secret.',
  },
  Target: {
    rule: FIELD_RULES.Target,
    json: 'string',
    default: '',
    documents: ['install', 'report'],
    description: "The target (<TagKey>=<TagValue>), reported in the node's inventory.",
  },
} as const satisfies Record<string, FieldEntry>;

export type Registry = Readonly<Record<string, FieldEntry>>;
type Fields = typeof FIELDS;
export type RegistryName = keyof Fields;

/** The TypeScript type of a field's value in the API body and the workflow input. */
type ValueOf<E> = E extends { json: 'boolean' }
  ? boolean
  : E extends { json: 'integer' }
    ? number
    : E extends { values: readonly (infer V)[] }
      ? V
      : string;

type NamesWhere<Cond> = { [K in RegistryName]: Fields[K] extends Cond ? K : never }[RegistryName];
export type RequiredApiName = NamesWhere<{ api: 'required' }>;
export type OptionalApiName = NamesWhere<{ api: 'optional' }>;
/** Optional API fields with a default of their own (ConvergenceSchedule's is the stack's). */
export type DefaultedApiName = NamesWhere<{ api: 'optional'; default: unknown }>;
export type StoredName = NamesWhere<{ stored: object }>;

/** The body of `POST /exports`, as the generated zod schema parses it. */
export type ExportRequestFields = { [K in RequiredApiName]: ValueOf<Fields[K]> } & {
  [K in OptionalApiName]?: ValueOf<Fields[K]>;
};
/** The request with every default filled in: what the workflow runs with. */
export type ResolvedRequestFields = { [K in RequiredApiName | DefaultedApiName]: ValueOf<Fields[K]> } & {
  [K in Exclude<OptionalApiName, DefaultedApiName>]?: ValueOf<Fields[K]>;
};
/** The options stored on an inventory item, under their API names (optional: those without a default of their own). */
export type StoredOptions = { [K in StoredName & (RequiredApiName | DefaultedApiName)]: ValueOf<Fields[K]> } & {
  [K in Exclude<StoredName, RequiredApiName | DefaultedApiName>]?: ValueOf<Fields[K]>;
};

function entries(registry: Registry): [string, FieldEntry][] {
  return Object.entries(registry);
}

/** Names of the API fields, in registry order. */
export function apiFieldNames(registry: Registry = FIELDS): string[] {
  return entries(registry)
    .filter(([, e]) => e.api !== undefined)
    .map(([name]) => name);
}

/** The request with each absent field that has a default set to it. */
export function applyDefaults<T extends object>(request: T, registry: Registry = FIELDS): T {
  const out: Record<string, unknown> = {};
  for (const [name, entry] of entries(registry)) {
    if (entry.api === 'optional' && entry.default !== undefined) out[name] = entry.default;
  }
  for (const [name, value] of Object.entries(request)) if (value !== undefined) out[name] = value;
  return out as T;
}

/** The JSON-schema type of each API field, and which are required (the API Gateway model's parts). */
export function apiStructure(registry: Registry = FIELDS): {
  properties: Record<string, { type: JsonType }>;
  required: string[];
} {
  const properties: Record<string, { type: JsonType }> = {};
  const required: string[] = [];
  for (const [name, entry] of entries(registry)) {
    if (entry.api === undefined) continue;
    properties[name] = { type: entry.json };
    if (entry.api === 'required') required.push(name);
  }
  return { properties, required };
}

export interface CliFlag {
  /** The API field it sets. */
  field: string;
  /** Commander flag text: `--cert-dir <dir>`, or `--pkcs12` for a boolean. */
  flag: string;
  /** The option's name (`--cert-dir` → `certDir`). */
  option: string;
  help: string;
  boolean: boolean;
  required: boolean;
}

/** The `acm-export export` options of the API fields that have one, in registry order. */
export function cliFlags(registry: Registry = FIELDS): CliFlag[] {
  return entries(registry).flatMap(([field, entry]) => {
    if (!entry.cli || entry.api === undefined) return [];
    const long = entry.cli.flag.split(' ')[0];
    const option = long.slice(2).replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
    return [
      {
        field,
        flag: entry.cli.flag,
        option,
        help: entry.cli.help,
        boolean: entry.json === 'boolean',
        required: entry.api === 'required',
      },
    ];
  });
}

/** The options an item holds, under their API names, read from either naming (absent ones stay absent). */
export function heldOptions(
  item: Readonly<Record<string, unknown>>,
  registry: Registry = FIELDS,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, entry] of entries(registry)) {
    if (!entry.stored) continue;
    const value = item[name] ?? item[entry.stored.legacy];
    if (value !== undefined) out[name] = value;
  }
  return out;
}

/**
 * The stored options of an inventory item, read under their API names or, for items written before the
 * registry, under their old camelCase names; defaults for options the item predates.
 */
export function storedOptions(item: Readonly<Record<string, unknown>>, registry: Registry = FIELDS): StoredOptions {
  const held = heldOptions(item, registry);
  const out: Record<string, unknown> = {};
  for (const [name, entry] of entries(registry)) {
    const value = held[name] ?? (entry.stored ? entry.default : undefined);
    if (value !== undefined) out[name] = value;
  }
  return out as StoredOptions;
}

/** The attributes an export writes for its options: each stored field under its API name. */
export function optionsToStore(request: Readonly<Record<string, unknown>>, registry: Registry = FIELDS): StoredOptions {
  const out: Record<string, unknown> = {};
  for (const [name, entry] of entries(registry)) {
    if (entry.stored && request[name] !== undefined) out[name] = request[name];
  }
  return out as StoredOptions;
}

/** The stored options under their camelCase names, as the `GET /certificates` view publishes them. */
export function optionsView(options: StoredOptions, registry: Registry = FIELDS): Record<string, unknown> {
  const values = options as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [name, entry] of entries(registry)) {
    if (entry.stored && values[name] !== undefined) out[entry.stored.legacy] = values[name];
  }
  return out;
}

/** The old attribute names of the stored options: an export removes them when it writes the new ones. */
export function legacyAttributeNames(registry: Registry = FIELDS): string[] {
  return entries(registry).flatMap(([, entry]) => (entry.stored ? [entry.stored.legacy] : []));
}

/**
 * The request a renewal starts for a stored target: the certificate and the options it holds (the workflow
 * applies today's defaults to those an older item lacks).
 */
export function requestFromStored(
  certificateArn: string,
  item: Readonly<Record<string, unknown>>,
  registry: Registry = FIELDS,
): Record<string, unknown> {
  const options = heldOptions(item, registry);
  const out: Record<string, unknown> = { CertificateArn: certificateArn };
  for (const [name, entry] of entries(registry)) {
    if (entry.api !== undefined && options[name] !== undefined) out[name] = options[name];
  }
  return out;
}

/** The string a document parameter carries for a value (booleans and numbers as JSON writes them). */
function parameterText(value: unknown): string {
  return typeof value === 'string' ? value : String(value);
}

/**
 * The parameters a run of `document` is sent: each field the document declares, from `values` (a resolved
 * request plus the run's SecretId, version, Region and Target), as SSM's one-element string lists. Fields
 * without a value are left out (the document's default applies).
 */
export function runParameters(
  document: DocumentName,
  values: Readonly<Record<string, unknown>>,
  registry: Registry = FIELDS,
): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [name, entry] of entries(registry)) {
    if (!entry.documents?.includes(document)) continue;
    const value = values[name];
    if (value !== undefined) out[name] = [parameterText(value)];
  }
  return out;
}

/** One parameter of an SSM command document (schema 2.2), as the stack deploys it. */
export interface DocumentParameter {
  type: 'String';
  description: string;
  default?: string;
  allowedValues?: string[];
  allowedPattern: string;
  maxChars: number;
  interpolationType: 'ENV_VAR';
}

/** The `parameters:` block of `document`: its fields in registry order, each a String passed as SSM_<Name>. */
export function documentParameters(
  document: DocumentName,
  registry: Registry = FIELDS,
): Record<string, DocumentParameter> {
  const out: Record<string, DocumentParameter> = {};
  for (const [name, entry] of entries(registry)) {
    if (!entry.documents?.includes(document)) continue;
    out[name] = {
      type: 'String',
      description: entry.describedIn?.[document] ?? entry.description,
      ...(entry.default !== undefined ? { default: parameterText(entry.default) } : {}),
      ...(entry.values ? { allowedValues: [...entry.values] } : {}),
      allowedPattern: entry.rule.pattern,
      maxChars: entry.rule.maxLength,
      interpolationType: 'ENV_VAR',
    };
  }
  return out;
}

/** A bash single-quoted word (patterns hold no single quote, but a registry entry must not break the text). */
function bashQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * The rules a document's program checks its parameters with (ssm-documents/load.ts writes them into
 * lib/params.sh): one line per parameter setting RE (pattern), MAX (length), DEFAULT (for those that have one)
 * and LARGEST (an integer's upper bound; patterns admit no sign), then the tables made read-only.
 */
export function bashParamPrelude(document: DocumentName, registry: Registry = FIELDS): string {
  const declared = entries(registry).filter(([, e]) => e.documents?.includes(document));
  // A name is written into shell text and becomes SSM_<Name>: letters and digits only.
  const odd = declared.find(([name]) => !/^[A-Za-z][A-Za-z0-9]*$/.test(name));
  if (odd) throw new Error(`field ${JSON.stringify(odd[0])}: a document parameter name is letters and digits`);
  const lines = declared.map(([name, e]) =>
    [
      `RE[${name}]=${bashQuote(e.rule.pattern)}`,
      `MAX[${name}]=${e.rule.maxLength}`,
      ...(e.default !== undefined ? [`DEFAULT[${name}]=${bashQuote(parameterText(e.default))}`] : []),
      ...(e.range ? [`LARGEST[${name}]=${e.range[1]}`] : []),
    ].join(' '),
  );
  return [
    `# Parameter rules of the ${document} document (generated from lambda/shared/fields.ts).`,
    'declare -A RE=() MAX=() DEFAULT=() LARGEST=()',
    // The parameters themselves, which read_params sets by name (declared here so shellcheck sees them).
    `declare ${declared.map(([name]) => name).join(' ')}`,
    ...lines,
    'readonly RE MAX DEFAULT LARGEST',
    '',
  ].join('\n');
}
