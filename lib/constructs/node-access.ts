import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import { ArnFormat, Stack } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { acknowledgeWildcardResource } from '../nag';

export interface NodeAccessProps {
  /** ARN pattern of this stack's certificate secrets. */
  readonly secretArnPattern: string;
  /** Key of the certificate secrets. */
  readonly secretsKey: kms.IKey;
  /** Log group receiving the Run Command output of the install document. */
  readonly commandLogGroup: logs.ILogGroup;
}

/**
 * The managed policy node instance roles attach (next to AmazonSSMManagedInstanceCore): read this stack's
 * certificate secrets, decrypt them only through Secrets Manager, and stream install output.
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
    this.policy = new iam.ManagedPolicy(this, 'Policy', {
      description: 'Lets a node fetch and decrypt the certificates acm-export installs on it',
      statements: [
        new iam.PolicyStatement({
          sid: 'ReadCertificateSecrets',
          actions: ['secretsmanager:GetSecretValue'],
          resources: [props.secretArnPattern],
        }),
        new iam.PolicyStatement({
          sid: 'DecryptCertificateSecrets',
          actions: ['kms:Decrypt'],
          resources: [props.secretsKey.keyArn],
          conditions: {
            StringEquals: { 'kms:ViaService': `secretsmanager.${region}.amazonaws.com` },
            // Secrets Manager puts the secret ARN in the encryption context: only this stack's secrets.
            StringLike: { 'kms:EncryptionContext:SecretARN': props.secretArnPattern },
          },
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
      props.secretArnPattern,
      "Only the certificate secrets under this stack's name prefix; they are created at run time, one per target, so their names are not known at deploy time.",
    );
  }
}
