import { resourceSchemaFindings } from './resource-schema-checks';
import { CloudFormationTemplate, copyOf, synthesizeTemplate, TemplateResource } from './template';

const template = synthesizeTemplate();

/** The one resource of a type in a copy of the template, with its logical id. */
function onlyResource(
  copy: CloudFormationTemplate,
  type: string,
): [string, TemplateResource & { Properties: Record<string, unknown> }] {
  const matches = Object.entries(copy.Resources).filter(([, resource]) => resource.Type === type);
  if (matches.length !== 1 || matches[0][1].Properties === undefined)
    throw new Error(`expected one ${type} with properties`);
  return matches[0] as [string, TemplateResource & { Properties: Record<string, unknown> }];
}

describe('resources against the CloudFormation registry schemas', () => {
  test('every type exists, every property is known and well-shaped, required ones are set, every Fn::GetAtt exists', () => {
    expect(resourceSchemaFindings(template)).toEqual([]);
  });

  test('an unknown top-level property is a finding', () => {
    const broken = copyOf(template);
    const [id, table] = onlyResource(broken, 'AWS::DynamoDB::Table');
    table.Properties.PointInTimeRecovery = table.Properties.PointInTimeRecoverySpecification;
    delete table.Properties.PointInTimeRecoverySpecification;
    expect(resourceSchemaFindings(broken)).toEqual([
      `${id} (AWS::DynamoDB::Table): unknown property PointInTimeRecovery`,
    ]);
  });

  test('an unknown nested property, and a value of the wrong shape, are findings', () => {
    const broken = copyOf(template);
    const [id, table] = onlyResource(broken, 'AWS::DynamoDB::Table');
    table.Properties.PointInTimeRecoverySpecification = { PointInTimeRecoveryEnable: true };
    table.Properties.SSESpecification = 'KMS';
    expect(resourceSchemaFindings(broken)).toEqual([
      `${id} (AWS::DynamoDB::Table).PointInTimeRecoverySpecification: unknown property PointInTimeRecoveryEnable`,
      `${id} (AWS::DynamoDB::Table).SSESpecification: expected an object`,
    ]);
  });

  test('a missing required property is a finding', () => {
    const broken = copyOf(template);
    const [id, machine] = onlyResource(broken, 'AWS::StepFunctions::StateMachine');
    delete machine.Properties.RoleArn;
    expect(resourceSchemaFindings(broken)).toEqual([
      `${id} (AWS::StepFunctions::StateMachine): missing required property RoleArn`,
    ]);
  });

  test('an unknown resource type and an attribute the type does not return are findings', () => {
    const broken = copyOf(template);
    const [tableId, table] = onlyResource(broken, 'AWS::DynamoDB::Table');
    broken.Resources.Extra = { Type: 'AWS::DynamoDB::Tabel', Properties: {} };
    broken.Resources.Reader = {
      Type: 'AWS::SSM::Parameter',
      Properties: { Type: 'String', Value: { 'Fn::GetAtt': [tableId, 'TableArn'] } },
    };
    expect(table.Type).toBe('AWS::DynamoDB::Table');
    expect(resourceSchemaFindings(broken)).toEqual([
      'Extra: unknown resource type AWS::DynamoDB::Tabel',
      `Fn::GetAtt ${tableId}.TableArn: AWS::DynamoDB::Table has no attribute TableArn`,
    ]);
  });
});
