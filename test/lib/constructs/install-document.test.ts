import { Match } from 'aws-cdk-lib/assertions';
import { ENV } from '../../../lambda/shared/contract';
import { buildStack, logicalId } from '../fixture';

const { stack, template } = buildStack();

describe('install document and outputs', () => {
  test('Command document, new versions on update, no fixed name', () => {
    template.resourceCountIs('AWS::SSM::Document', 1);
    const document = Object.values(template.findResources('AWS::SSM::Document'))[0];
    expect(document.Properties).toMatchObject({ DocumentType: 'Command', UpdateMethod: 'NewVersion' });
    expect(document.Properties.Name).toBeUndefined();
    expect(document.Properties.Content.schemaVersion).toBe('2.2');
  });

  test('ssm-run gets the document name, the output log group and a command timeout', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          [ENV.DOCUMENT_NAME]: { Ref: logicalId(stack.installDocument.document) },
          [ENV.COMMAND_LOG_GROUP]: { Ref: logicalId(stack.installDocument.commandLogGroup) },
          [ENV.COMMAND_TIMEOUT_SECONDS]: '600',
          [ENV.TABLE_NAME]: { Ref: logicalId(stack.inventory.table) },
        }),
      },
    });
  });
});
