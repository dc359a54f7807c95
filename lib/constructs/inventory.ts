import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { COMMAND_WAIT, INVENTORY } from '../../lambda/shared/contract';
import { REASONS, acknowledgeWildcardAction } from '../nag';

/** What {@link Inventory.grantQuery} can grant Query on: the base table or one of its indexes. */
export type InventoryQuerySource = 'table' | typeof INVENTORY.byTargetIndex | typeof INVENTORY.byExpiryIndex;

/** A function (or anything with a role) that gets item permissions; the role carries the nag acknowledgements. */
export type InventoryGrantee = iam.IGrantable & { readonly role?: iam.IRole };

export interface InventoryProps {
  /** @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The certificate inventory: one item per (certificate, target). Functions get only the item actions
 * their code calls (grantQuery/grantGetItem/grantUpdate/grantDelete): nothing scans, batch-writes or reads
 * streams. A renewal is a Query on the partition
 * key; "which certificates go to this fleet" is a Query on ByTarget; "what expires soon" is a Query on
 * ByExpiry (constant partition `itemType`, sorted by expiry date).
 */
export class Inventory extends Construct {
  public readonly table: dynamodb.Table;
  public readonly key: kms.Key;
  /** Key access already granted per principal, so each gets the key statements once. */
  private readonly keyAccess = new Map<iam.IPrincipal, 'read' | 'write'>();

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
      // Only the workflow's stored task tokens carry it: DynamoDB removes a token nobody removed after its wait.
      timeToLiveAttribute: COMMAND_WAIT.ttlAttribute,
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

  /**
   * Query on the base table (`'table'`) and/or the named indexes, nothing else (no Scan, no
   * BatchGetItem, no stream reads). Index ARNs are exact, not `<table>/index/*`.
   */
  grantQuery(grantee: InventoryGrantee, sources: readonly InventoryQuerySource[]): iam.Grant {
    if (sources.length === 0) throw new Error('grantQuery needs the table and/or index names it queries');
    const resources = [...new Set(sources)].map((source) =>
      source === 'table' ? this.table.tableArn : `${this.table.tableArn}/index/${source}`,
    );
    return this.grantItems(grantee, ['dynamodb:Query'], resources, false);
  }

  /** GetItem on the base table. */
  grantGetItem(grantee: InventoryGrantee): iam.Grant {
    return this.grantItems(grantee, ['dynamodb:GetItem'], [this.table.tableArn], false);
  }

  /** UpdateItem on the base table (creates the item when absent, so no PutItem). */
  grantUpdate(grantee: InventoryGrantee): iam.Grant {
    return this.grantItems(grantee, ['dynamodb:UpdateItem'], [this.table.tableArn], true);
  }

  /** DeleteItem on the base table. */
  grantDelete(grantee: InventoryGrantee): iam.Grant {
    return this.grantItems(grantee, ['dynamodb:DeleteItem'], [this.table.tableArn], true);
  }

  /**
   * Item actions plus what DynamoDB needs on the table's customer managed key: Decrypt/DescribeKey to
   * read, Encrypt/ReEncrypt/GenerateDataKey as well to write (the same key actions as the table's own
   * grants, each added once per principal).
   */
  private grantItems(grantee: InventoryGrantee, actions: string[], resources: string[], writes: boolean): iam.Grant {
    const grant = iam.Grant.addToPrincipal({ grantee, actions, resourceArns: resources });
    const had = this.keyAccess.get(grantee.grantPrincipal);
    if (!had) this.key.grant(grantee, 'kms:Decrypt', 'kms:DescribeKey');
    if (writes && had !== 'write') {
      this.key.grant(grantee, 'kms:Encrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*');
      if (grantee.role) {
        acknowledgeWildcardAction(grantee.role, 'kms:GenerateDataKey*', REASONS.kmsGrantActions);
        acknowledgeWildcardAction(grantee.role, 'kms:ReEncrypt*', REASONS.kmsGrantActions);
      }
    }
    this.keyAccess.set(grantee.grantPrincipal, writes || had === 'write' ? 'write' : 'read');
    return grant;
  }
}
