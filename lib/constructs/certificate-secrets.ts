import { Arn, ArnFormat, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';

export interface CertificateSecretsProps {
  /** @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * Where exported certificates are kept: Secrets Manager secrets created at run time by the acm-export
 * function under `acm-export/<stackName>/`, encrypted with a key of their own. A dedicated key (rather
 * than the inventory key) lets node roles decrypt certificate secrets without ever being able to use
 * the key that protects the inventory, and keeps the two audit trails apart.
 */
export class CertificateSecrets extends Construct {
  public readonly key: kms.Key;
  /** Name prefix of every certificate secret (no trailing slash). */
  public readonly namePrefix: string;
  /** ARN pattern matching every certificate secret of this stack (and nothing else). */
  public readonly secretArnPattern: string;

  constructor(scope: Construct, id: string, props: CertificateSecretsProps = {}) {
    super(scope, id);
    const stack = Stack.of(this);
    this.key = new kms.Key(this, 'Key', {
      description: 'Encrypts the acm-export certificate secrets',
      enableKeyRotation: true,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    this.namePrefix = `acm-export/${stack.stackName}`;
    // Secret ARNs end in a random 6-character suffix, so the name part has to end with a wildcard.
    this.secretArnPattern = Arn.format(
      { service: 'secretsmanager', resource: 'secret', resourceName: `${this.namePrefix}/*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME },
      stack,
    );
  }
}
