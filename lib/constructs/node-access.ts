import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import { ArnFormat, Stack } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { NODE_ROLE_TARGET_TAG } from '../../lambda/shared/contract';
import { acknowledgeWildcardResource } from '../nag';

export interface NodeAccessProps {
  /** ARN pattern of this stack's certificate secrets (every target). */
  readonly secretArnPattern: string;
  /** ARN pattern of one target's certificate secrets, given its hash (here: a policy variable). */
  readonly secretsOfTarget: (targetHash: string) => string;
  /** ARN of the preflight canary secret (no key material), which every node may read. */
  readonly canarySecretArn: string;
  /** Key of the certificate secrets. */
  readonly secretsKey: kms.IKey;
  /** Log group receiving the Run Command output of the install document. */
  readonly commandLogGroup: logs.ILogGroup;
  /** ARN of the node library object (the install document's S3 asset), which every node may read. */
  readonly nodeLibraryArn: string;
}

/**
 * The managed policy node instance roles attach (next to AmazonSSMManagedInstanceCore): read (and describe) the
 * certificate secrets of the one target the role's `acm-export:target-hash` tag names (and the preflight canary), decrypt
 * them only through Secrets Manager, and stream install output.
 *
 * Access follows the secret's name, `<prefix>/<certificate id>/<target hash>`, not its tags: a name cannot be
 * changed after creation, so nobody who can tag secrets can open one to another target. A role without the
 * tag reads no certificate secret.
 */
export class NodeAccess extends Construct {
  public readonly policy: iam.ManagedPolicy;

  constructor(scope: Construct, id: string, props: NodeAccessProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const region = stack.region;
    // CreateLogGroup is authorized on the group's own ARN; the stream calls on `<group ARN>:*`.
    const commandLogGroupArn = stack.formatArn({
      service: 'logs',
      resource: 'log-group',
      resourceName: props.commandLogGroup.logGroupName,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    const ownTargetSecrets = props.secretsOfTarget(`\${aws:PrincipalTag/${NODE_ROLE_TARGET_TAG}}`);
    const readableSecrets = [ownTargetSecrets, props.canarySecretArn];
    this.policy = new iam.ManagedPolicy(this, 'Policy', {
      description: 'Lets a node fetch and decrypt the certificates acm-export installs on it',
      statements: [
        new iam.PolicyStatement({
          sid: 'ReadCertificateSecrets',
          actions: ['secretsmanager:GetSecretValue'],
          resources: readableSecrets,
        }),
        // Metadata only (VersionIdsToStages: no value, no decrypt), on exactly the secrets it may read: an
        // association run on a node that already holds the AWSCURRENT version stops there, fetching nothing.
        new iam.PolicyStatement({
          sid: 'DescribeCertificateSecrets',
          actions: ['secretsmanager:DescribeSecret'],
          resources: readableSecrets,
        }),
        // Exactly the one object (not the bucket, not a prefix): the asset bucket holds every asset of the
        // account and region. Written out rather than asset.grantRead, which grants bucket-level reads too.
        new iam.PolicyStatement({
          sid: 'ReadNodeLibrary',
          actions: ['s3:GetObject'],
          resources: [props.nodeLibraryArn],
        }),
        new iam.PolicyStatement({
          sid: 'DecryptCertificateSecrets',
          actions: ['kms:Decrypt'],
          resources: [props.secretsKey.keyArn],
          conditions: {
            StringEquals: { 'kms:ViaService': `secretsmanager.${region}.amazonaws.com` },
            // Secrets Manager puts the secret ARN in the encryption context: only the role's target's secrets
            // (Secrets Manager decrypts only inside a GetSecretValue already allowed; this holds even if not).
            StringLike: { 'kms:EncryptionContext:SecretARN': [ownTargetSecrets, props.canarySecretArn] },
          },
        }),
        // The target tag is the node's whole authorization: a node must not move its role to another target,
        // nor retag secrets (whose tags other tools may trust), whatever else the role is granted.
        new iam.PolicyStatement({
          sid: 'KeepTargetTag',
          effect: iam.Effect.DENY,
          actions: ['iam:TagRole', 'iam:UntagRole'],
          resources: ['*'],
          conditions: { 'ForAnyValue:StringEquals': { 'aws:TagKeys': [NODE_ROLE_TARGET_TAG] } },
        }),
        new iam.PolicyStatement({
          sid: 'KeepSecretTags',
          effect: iam.Effect.DENY,
          actions: ['secretsmanager:TagResource', 'secretsmanager:UntagResource'],
          resources: [props.secretArnPattern],
        }),
        // The SSM Agent streams Run Command output only after it has found the group (DescribeLogGroups by
        // name prefix) or created it (CreateLogGroup); with both denied it silently stops streaming.
        new iam.PolicyStatement({
          sid: 'WriteInstallOutput',
          actions: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'],
          resources: [commandLogGroupArn, props.commandLogGroup.logGroupArn],
        }),
        new iam.PolicyStatement({
          sid: 'FindInstallOutputGroup',
          actions: ['logs:DescribeLogGroups'],
          resources: ['*'],
        }),
      ],
    });
    acknowledgeWildcardResource(
      this.policy,
      '*',
      'logs:DescribeLogGroups has no resource-level permissions (AWS requires "*"); the SSM Agent calls it to find the output log group before streaming Run Command output. It returns group metadata only, never log events.',
    );
    acknowledgeWildcardResource(
      this.policy,
      ownTargetSecrets,
      "Only the certificate secrets of the target named by the role's acm-export:target-hash tag (any certificate id, AWS's random name suffix); they are created at run time, so their names are not known at deploy time.",
    );
  }
}
