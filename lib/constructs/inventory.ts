import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct, IConstruct } from 'constructs';
import { INVENTORY } from '../../lambda/shared/contract';
import { REASONS, acknowledgeWildcardAction, acknowledgeWildcardResource } from '../nag';

export interface InventoryProps {
  /** @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The certificate inventory: one item per (certificate, target). A renewal is a Query on the partition
 * key; "which certificates go to this fleet" is a Query on ByTarget; "what expires soon" is a Query on
 * ByExpiry (constant partition `itemType`, sorted by expiry date).
 */
export class Inventory extends Construct {
  public readonly table: dynamodb.Table;
  public readonly key: kms.Key;

  constructor(scope: Construct, id: string, props: InventoryProps = {}) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    this.key = new kms.Key(this, 'Key', {
      description: 'Encrypts the acm-export certificate inventory table',
      enableKeyRotation: true,
      removalPolicy,
    });
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: INVENTORY.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: INVENTORY.sortKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: this.key,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: removalPolicy === RemovalPolicy.RETAIN,
      removalPolicy,
    });
    this.table.addGlobalSecondaryIndex({
      indexName: INVENTORY.byTargetIndex,
      partitionKey: { name: INVENTORY.sortKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: INVENTORY.partitionKey, type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.ALL,
    });
    this.table.addGlobalSecondaryIndex({
      indexName: INVENTORY.byExpiryIndex,
      partitionKey: { name: INVENTORY.itemTypeAttribute, type: dynamodb.AttributeType.STRING },
      sortKey: { name: INVENTORY.expiryAttribute, type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.ALL,
    });
  }

  /** Item reads (GetItem/Query/Scan, base table and indexes). */
  grantReadData(grantee: iam.IGrantable & { readonly role?: iam.IRole }): iam.Grant {
    const grant = this.table.grantReadData(grantee);
    this.acknowledgeGrant(grantee.role, false);
    return grant;
  }

  /** Item writes (PutItem/UpdateItem/DeleteItem/BatchWrite). */
  grantWriteData(grantee: iam.IGrantable & { readonly role?: iam.IRole }): iam.Grant {
    const grant = this.table.grantWriteData(grantee);
    this.acknowledgeGrant(grantee.role, true);
    return grant;
  }

  grantReadWriteData(grantee: iam.IGrantable & { readonly role?: iam.IRole }): iam.Grant {
    const grant = this.table.grantReadWriteData(grantee);
    this.acknowledgeGrant(grantee.role, true);
    return grant;
  }

  // The table grants add "<table>/index/(any)" and, for writes, kms:GenerateDataKey(any)/ReEncrypt(any) on this key.
  private acknowledgeGrant(role: IConstruct | undefined, writes: boolean): void {
    if (!role) return;
    acknowledgeWildcardResource(role, `${this.table.tableArn}/index/*`, REASONS.tableIndexes);
    if (writes) {
      acknowledgeWildcardAction(role, 'kms:GenerateDataKey*', REASONS.kmsGrantActions);
      acknowledgeWildcardAction(role, 'kms:ReEncrypt*', REASONS.kmsGrantActions);
    }
  }
}
