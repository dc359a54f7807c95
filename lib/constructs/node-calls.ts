/**
 * Every AWS call a node makes for acm-export, with the policy that lets it. The node policy (`NodeAccess`) must
 * grant exactly the calls marked `node-policy`; the others come from AWS's `AmazonSSMManagedInstanceCore`,
 * which operators attach next to it. The node-permission table in docs/security.md and test/lib/constructs/node-access.test.ts read this list.
 *
 * Not listed, on purpose:
 * - instance-role credentials (EC2 instance metadata) and, on hybrid `mi-*` nodes, the agent's credential
 *   refresh (`ssm:RequestManagedInstanceRoleToken`, signed with the node's registration key): neither is
 *   authorized by the node's role;
 * - `ssmmessages:CreateDataChannel`/`OpenDataChannel` (Session Manager sessions, not used by this product);
 * - `ssm:ListAssociations`/`ssm:UpdateAssociationStatus` (the agent's legacy single-association path);
 * - `ssm:DescribeDocument`, `ssm:GetParameter(s)`, `ssm:GetManifest`, `ssm:PutComplianceItems`,
 *   `ssm:PutConfigurePackageResult`, `ssm:GetDeployablePatchSnapshotForInstance`: in
 *   AmazonSSMManagedInstanceCore, but no path of this product was found to call them (the install document
 *   takes no `{{ssm:...}}` parameters; association compliance is synced by the service, not the agent).
 */

/** Which attached policy grants a call. */
export type NodeCallGrant = 'node-policy' | 'AmazonSSMManagedInstanceCore';

/** The resource a call names; `*` for actions without resource-level permissions. */
export type NodeCallResource =
  | 'certificate-secret' // a secret of the target named by the role's acm-export:target-hash tag
  | 'secrets-key' // the KMS key of the certificate secrets
  | 'node-library' // the node library object (the stack's S3 asset the install document names by sha256)
  | 'command-log-group' // the stack's Run Command output log group
  | 'command-log-stream' // a stream in that group (`<command id>/<node id>/<step>/stdout|stderr`)
  | 'managed-node' // the calling node itself
  | 'install-document' // the Install-ACMCertificate document (or AWS-GatherSoftwareInventory)
  | 'association' // a State Manager association targeting the node
  | '*';

export interface NodeCall {
  /** IAM action, `service:Action`. */
  readonly action: string;
  /** Who makes the call on the node. */
  readonly caller: string;
  readonly resource: NodeCallResource;
  readonly why: string;
  readonly grantedBy: NodeCallGrant;
  /**
   * Where the call was confirmed. `unverified:` means only that AmazonSSMManagedInstanceCore grants it and the
   * Service Authorization Reference describes it as an SSM Agent call; no agent code path was read.
   */
  readonly evidence: string;
}

const SCRIPT = 'install and preflight programs (aws secretsmanager get-secret-value)';
const AGENT_OUTPUT = 'SSM Agent, streaming Run Command output';
const AGENT_DELIVERY = 'SSM Agent, receiving and answering Run Command';
const AGENT_ASSOCIATIONS = 'SSM Agent, running State Manager associations';
const AGENT_SOURCE = 'SSM Agent source';
const UNVERIFIED =
  'unverified: granted by AmazonSSMManagedInstanceCore, described as an agent call by the Service Authorization Reference';

export const NODE_CALLS: readonly NodeCall[] = [
  {
    action: 'secretsmanager:GetSecretValue',
    caller: SCRIPT,
    resource: 'certificate-secret',
    why: "fetch the exact secret version of the export (--version-id); association runs first resolve AWSCURRENT (--version-stage); only secrets of the role's tagged target, and the preflight canary",
    grantedBy: 'node-policy',
    evidence: 'ssm-documents/install.sh and preflight.sh, the only AWS CLI calls of the node programs',
  },
  {
    action: 'secretsmanager:DescribeSecret',
    caller: 'install script (aws secretsmanager describe-secret)',
    resource: 'certificate-secret',
    why: 'an association run reads which version is AWSCURRENT (VersionIdsToStages; metadata only, no value, no KMS decrypt) and, when the node already holds it, fetches nothing; an install over a certificate name recorded for another secret of the same target reads whether that secret was deleted (DeletedDate); same secrets as GetSecretValue',
    grantedBy: 'node-policy',
    evidence:
      'ssm-documents/install.sh: an association run (SecretVersionStage) calls describe-secret --query VersionIdsToStages before any get-secret-value; holder_released calls describe-secret --query DeletedDate on the recorded secret',
  },
  {
    action: 's3:GetObject',
    caller: 'install program (aws s3 cp, lib/library.sh)',
    resource: 'node-library',
    why: "fetch the node library (the install program's steps, file handling and inventory code) when <state dir>/lib holds no copy with the sha256 the document names; exactly that object of the asset bucket",
    grantedBy: 'node-policy',
    evidence: 'ssm-documents/lib/library.sh: load_library, the only S3 call of the node programs',
  },
  {
    action: 'kms:Decrypt',
    caller: "Secrets Manager, on the node's behalf during GetSecretValue",
    resource: 'secrets-key',
    why: "the secret is encrypted with this stack's key; Secrets Manager decrypts it with the caller's permissions (kms:ViaService secretsmanager, encryption context SecretARN)",
    grantedBy: 'node-policy',
    evidence: "Secrets Manager's use of KMS: the caller needs kms:Decrypt on a customer managed key",
  },
  {
    action: 'logs:DescribeLogGroups',
    caller: AGENT_OUTPUT,
    resource: '*',
    why: 'find the output group (name prefix = group name, paged) before streaming',
    grantedBy: 'node-policy',
    evidence: `${AGENT_SOURCE}: CloudWatch Logs publisher, IsLogGroupPresent`,
  },
  {
    action: 'logs:CreateLogGroup',
    caller: AGENT_OUTPUT,
    resource: 'command-log-group',
    why: 'create the output group when DescribeLogGroups did not find it; with both denied the agent stops streaming',
    grantedBy: 'node-policy',
    evidence: `${AGENT_SOURCE}: CloudWatch Logs publisher, createLogGroupAndStream`,
  },
  {
    action: 'logs:DescribeLogStreams',
    caller: AGENT_OUTPUT,
    resource: 'command-log-group',
    why: "check whether the run's stream exists and read its upload sequence token",
    grantedBy: 'node-policy',
    evidence: `${AGENT_SOURCE}: CloudWatch Logs publisher, IsLogStreamPresent / GetSequenceTokenForStream`,
  },
  {
    action: 'logs:CreateLogStream',
    caller: AGENT_OUTPUT,
    resource: 'command-log-stream',
    why: 'one stream per command, node and step output',
    grantedBy: 'node-policy',
    evidence: `${AGENT_SOURCE}: CloudWatch Logs publisher, createLogGroupAndStream`,
  },
  {
    action: 'logs:PutLogEvents',
    caller: AGENT_OUTPUT,
    resource: 'command-log-stream',
    why: "upload the script's stdout/stderr (never key material)",
    grantedBy: 'node-policy',
    evidence: `${AGENT_SOURCE}: CloudWatch Logs service, PutLogEvents`,
  },
  {
    action: 'ssm:UpdateInstanceInformation',
    caller: 'SSM Agent, registering and sending its heartbeat',
    resource: 'managed-node',
    why: 'keeps the node Online; Run Command and State Manager only target online managed nodes',
    grantedBy: 'AmazonSSMManagedInstanceCore',
    evidence: UNVERIFIED,
  },
  ...(['GetEndpoint', 'GetMessages', 'AcknowledgeMessage', 'SendReply', 'FailMessage', 'DeleteMessage'] as const).map(
    (name): NodeCall => ({
      action: `ec2messages:${name}`,
      caller: AGENT_DELIVERY,
      resource: '*',
      why: "the message delivery service: fetch the SendCommand and association runs, acknowledge them, return each invocation's status and output",
      grantedBy: 'AmazonSSMManagedInstanceCore',
      evidence: UNVERIFIED,
    }),
  ),
  ...(['CreateControlChannel', 'OpenControlChannel'] as const).map((name): NodeCall => ({
    action: `ssmmessages:${name}`,
    caller: AGENT_DELIVERY,
    resource: '*',
    why: 'the control channel, over which SSM Agent 3.x can also receive Run Command jobs and send their replies',
    grantedBy: 'AmazonSSMManagedInstanceCore',
    evidence: UNVERIFIED,
  })),
  {
    action: 'ssm:ListInstanceAssociations',
    caller: AGENT_ASSOCIATIONS,
    resource: 'managed-node',
    why: 'find the install and report associations (and AWS-GatherSoftwareInventory) that target the node',
    grantedBy: 'AmazonSSMManagedInstanceCore',
    evidence: `${AGENT_SOURCE}: association processor, ProcessAssociation`,
  },
  {
    action: 'ssm:DescribeAssociation',
    caller: AGENT_ASSOCIATIONS,
    resource: 'association',
    why: "read an association's parameters (SecretVersionStage, paths)",
    grantedBy: 'AmazonSSMManagedInstanceCore',
    evidence: `${AGENT_SOURCE}: association service, LoadAssociationDetail`,
  },
  {
    action: 'ssm:GetDocument',
    caller: AGENT_ASSOCIATIONS,
    resource: 'install-document',
    why: "load the content of the association's document (Run Command delivers it inside the message instead)",
    grantedBy: 'AmazonSSMManagedInstanceCore',
    evidence: `${AGENT_SOURCE}: association service, LoadAssociationDetail`,
  },
  {
    action: 'ssm:UpdateInstanceAssociationStatus',
    caller: AGENT_ASSOCIATIONS,
    resource: 'association',
    why: "report each association run's status, which State Manager turns into association compliance",
    grantedBy: 'AmazonSSMManagedInstanceCore',
    evidence: `${AGENT_SOURCE}: association processor and runner`,
  },
  {
    action: 'ssm:PutInventory',
    caller: 'SSM Agent, running AWS-GatherSoftwareInventory',
    resource: '*',
    why: 'upload the Custom:AcmExportCertificate inventory the script writes, which the drift check reads',
    grantedBy: 'AmazonSSMManagedInstanceCore',
    evidence: `${AGENT_SOURCE}: inventory uploader`,
  },
];
