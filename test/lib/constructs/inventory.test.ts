import { RemovalPolicy } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { INVENTORY } from '../../../lambda/shared/contract';
import { actionsOfRole, asArray, buildStack, functionRoles, identityStatements, logicalId } from '../fixture';

const { stack, template } = buildStack();

describe('inventory', () => {
  test('table: keys, GSIs, on-demand, PITR, encrypted with the inventory CMK', () => {
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [
        { AttributeName: INVENTORY.partitionKey, KeyType: 'HASH' },
        { AttributeName: INVENTORY.sortKey, KeyType: 'RANGE' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: {
        SSEEnabled: true,
        SSEType: 'KMS',
        KMSMasterKeyId: { 'Fn::GetAtt': [logicalId(stack.inventory.key), 'Arn'] },
      },
      GlobalSecondaryIndexes: Match.arrayWith([
        Match.objectLike({
          IndexName: INVENTORY.byTargetIndex,
          KeySchema: [
            { AttributeName: INVENTORY.sortKey, KeyType: 'HASH' },
            { AttributeName: INVENTORY.partitionKey, KeyType: 'RANGE' },
          ],
        }),
        Match.objectLike({
          IndexName: INVENTORY.byExpiryIndex,
          KeySchema: [
            { AttributeName: INVENTORY.itemTypeAttribute, KeyType: 'HASH' },
            { AttributeName: INVENTORY.expiryAttribute, KeyType: 'RANGE' },
          ],
        }),
      ]),
    });
  });

  test('retained by default, destroyable on request', () => {
    template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    const destroyable = buildStack({ removalPolicy: RemovalPolicy.DESTROY });
    destroyable.template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Delete' });
  });
});

describe('IAM', () => {
  const dynamoActionsOf = (fn: { executionRole: unknown }) =>
    [
      ...new Set(
        actionsOfRole(template, logicalId(fn.executionRole as never)).filter((a) => a.startsWith('dynamodb:')),
      ),
    ].sort();

  test('inventory: each function gets exactly the item actions its code calls; none may Scan or batch-write', () => {
    expect(functionRoles(template)).toHaveLength(10);
    for (const role of functionRoles(template)) {
      const actions = actionsOfRole(template, role);
      for (const forbidden of [
        'dynamodb:Scan',
        'dynamodb:BatchWriteItem',
        'dynamodb:BatchGetItem',
        'dynamodb:PutItem',
        'dynamodb:GetRecords',
        'dynamodb:*',
      ]) {
        expect([role, actions.includes(forbidden)]).toEqual([role, false]);
      }
    }
    expect(dynamoActionsOf(stack.workflow.findNodesFunction)).toEqual([]);
    expect(dynamoActionsOf(stack.workflow.acmExportFunction)).toEqual([]);
    expect(dynamoActionsOf(stack.workflow.ssmRunFunction)).toEqual(['dynamodb:GetItem', 'dynamodb:UpdateItem']);
    expect(dynamoActionsOf(stack.workflow.statusCheckFunction)).toEqual(['dynamodb:UpdateItem']);
    // The event path: await-command stores the token (and removes it when its own check completed the wait);
    // command-events reads it, records the outcome and removes it.
    expect(dynamoActionsOf(stack.workflow.awaitCommandFunction)).toEqual([
      'dynamodb:DeleteItem',
      'dynamodb:UpdateItem',
    ]);
    expect(dynamoActionsOf(stack.workflow.commandEventsFunction)).toEqual([
      'dynamodb:DeleteItem',
      'dynamodb:GetItem',
      'dynamodb:UpdateItem',
    ]);
    expect(dynamoActionsOf(stack.renewalTrigger.function)).toEqual(['dynamodb:Query']);
    expect(dynamoActionsOf(stack.exportApi.function)).toEqual([
      'dynamodb:DeleteItem',
      'dynamodb:GetItem',
      'dynamodb:Query',
      'dynamodb:UpdateItem',
    ]);
    // The drift check records a deploy that the install association caught up (one conditional UpdateItem).
    expect(dynamoActionsOf(stack.driftCheck.function)).toEqual(['dynamodb:Query', 'dynamodb:UpdateItem']);
    // execution-end records an abnormal end on the item its execution owns (one conditional UpdateItem).
    expect(dynamoActionsOf(stack.executionEnd.function)).toEqual(['dynamodb:UpdateItem']);
  });

  test('inventory Query is scoped to the table or the one index each function uses', () => {
    const table = { 'Fn::GetAtt': [logicalId(stack.inventory.table), 'Arn'] };
    const byExpiry = { 'Fn::Join': ['', [table, `/index/${INVENTORY.byExpiryIndex}`]] };
    const queryResources = (fn: { executionRole: unknown }) => {
      const role = logicalId(fn.executionRole as never);
      return identityStatements(template)
        .filter(({ policy }) =>
          (template.toJSON().Resources[policy].Properties.Roles as { Ref: string }[] | undefined)?.some(
            (r) => r.Ref === role,
          ),
        )
        .filter(({ statement }) => asArray(statement.Action).includes('dynamodb:Query'))
        .flatMap(({ statement }) => asArray(statement.Resource));
    };
    expect(queryResources(stack.renewalTrigger.function)).toEqual([table]);
    expect(queryResources(stack.exportApi.function)).toEqual([byExpiry]);
    expect(queryResources(stack.driftCheck.function)).toEqual([byExpiry]);
    // Readers may decrypt with the inventory key; only writers may also encrypt with it.
    const inventoryKey = JSON.stringify({ 'Fn::GetAtt': [logicalId(stack.inventory.key), 'Arn'] });
    const keyActions = (fn: { executionRole: unknown }) => {
      const role = logicalId(fn.executionRole as never);
      return identityStatements(template)
        .filter(({ policy }) =>
          (template.toJSON().Resources[policy].Properties.Roles as { Ref: string }[] | undefined)?.some(
            (r) => r.Ref === role,
          ),
        )
        .filter(({ statement }) => JSON.stringify(statement.Resource) === inventoryKey)
        .flatMap(({ statement }) => asArray(statement.Action))
        .sort();
    };
    expect(keyActions(stack.renewalTrigger.function)).toEqual(['kms:Decrypt', 'kms:DescribeKey']);
    const writer = ['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey*', 'kms:ReEncrypt*'].sort();
    expect(keyActions(stack.driftCheck.function)).toEqual(writer);
    expect(keyActions(stack.workflow.statusCheckFunction)).toEqual(writer);
  });
});
