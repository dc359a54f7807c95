import { Match } from 'aws-cdk-lib/assertions';
import { ENV } from '../../../lambda/shared/contract';
import { DOCUMENT_KINDS, loadDocument } from '../../../ssm-documents/load';
import { buildStack, logicalId } from '../fixture';

const { stack, template } = buildStack();

describe('node documents and outputs', () => {
  test('four Command documents (install, report, remove, preflight), new versions on update, no fixed name', () => {
    template.resourceCountIs('AWS::SSM::Document', 4);
    const documents = template.findResources('AWS::SSM::Document');
    for (const kind of DOCUMENT_KINDS) {
      const document = documents[logicalId(stack.installDocument.documents[kind].document)];
      expect(document.Properties).toMatchObject({ DocumentType: 'Command', UpdateMethod: 'NewVersion' });
      expect(document.Properties.Name).toBeUndefined();
      expect(document.Properties.Content).toEqual(loadDocument(kind));
    }
    // The install document keeps its construct id, so a deployed stack keeps its name.
    expect(stack.installDocument.documents.install.document.node.id).toBe('Document');
  });

  test('one output per document', () => {
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(outputs.DocumentName.Value).toEqual({ Ref: logicalId(stack.installDocument.documents.install.document) });
    expect(outputs.ReportDocumentName.Value).toEqual({
      Ref: logicalId(stack.installDocument.documents.report.document),
    });
    expect(outputs.RemoveDocumentName.Value).toEqual({
      Ref: logicalId(stack.installDocument.documents.remove.document),
    });
    expect(outputs.PreflightDocumentName.Value).toEqual({
      Ref: logicalId(stack.installDocument.documents.preflight.document),
    });
  });

  test('ssm-run gets the install and report document names, the output log group and a command timeout', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          [ENV.DOCUMENT_NAME]: { Ref: logicalId(stack.installDocument.document) },
          [ENV.REPORT_DOCUMENT_NAME]: { Ref: logicalId(stack.installDocument.documents.report.document) },
          [ENV.COMMAND_LOG_GROUP]: { Ref: logicalId(stack.installDocument.commandLogGroup) },
          [ENV.COMMAND_TIMEOUT_SECONDS]: '600',
          [ENV.TABLE_NAME]: { Ref: logicalId(stack.inventory.table) },
        }),
      },
    });
  });
});
