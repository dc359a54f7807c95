import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Stack } from 'aws-cdk-lib';
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
    const region = Stack.of(this).region;
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
        new iam.PolicyStatement({
          sid: 'WriteInstallOutput',
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'],
          resources: [props.commandLogGroup.logGroupArn],
        }),
      ],
    });
    acknowledgeWildcardResource(
      this.policy,
      props.secretArnPattern,
      'Only the certificate secrets under this stack\'s name prefix; they are created at run time, one per target, so their names are not known at deploy time.',
    );
  }
}
