import { Arn, ArnFormat, RemovalPolicy, SecretValue, Stack } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { acknowledge } from '../nag';

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
  /** ARN pattern of the certificate secrets of one target, given its hash (or a policy variable holding it). */
  public readonly secretsOfTarget: (targetHash: string) => string;
  /**
   * ARN pattern of the per-target secrets only (`<prefix>/<certificate id>/<target hash>`): not the canary,
   * whose name has one segment after the prefix. Deleting a target's secret is granted on this.
   */
  public readonly targetSecretArnPattern: string;
  /**
   * The canary the install document's preflight reads (`acm-export selftest`): under the same prefix and
   * key as the certificate secrets, so reading it proves a node could read and decrypt theirs. It holds
   * no key material. Its name has no certificate id segment, so no certificate secret can take it.
   */
  public readonly canary: secretsmanager.Secret;

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
      {
        service: 'secretsmanager',
        resource: 'secret',
        resourceName: `${this.namePrefix}/*`,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      },
      stack,
    );
    this.secretsOfTarget = (targetHash: string) =>
      Arn.format(
        {
          service: 'secretsmanager',
          resource: 'secret',
          // `<prefix>/<certificate id>/<target hash>` and AWS's 6-character suffix.
          resourceName: `${this.namePrefix}/*/${targetHash}-??????`,
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        },
        stack,
      );
    this.targetSecretArnPattern = Arn.format(
      {
        service: 'secretsmanager',
        resource: 'secret',
        resourceName: `${this.namePrefix}/*/*`,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      },
      stack,
    );
    this.canary = new secretsmanager.Secret(this, 'PreflightCanary', {
      secretName: `${this.namePrefix}/preflight-canary`,
      description: "Read by the install document's preflight to check node access; holds no key material",
      encryptionKey: this.key,
      secretStringValue: SecretValue.unsafePlainText('acm-export preflight canary: holds no key material'),
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    acknowledge(
      this.canary,
      'AwsSolutions-SMG4',
      'The preflight canary holds a fixed, public text and no credential, so there is nothing to rotate.',
    );
  }
}
