import { Match } from 'aws-cdk-lib/assertions';
import { ENV } from '../../../lambda/shared/contract';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { DOCUMENT_KINDS, loadDocument, nodeLibrary } from '../../../ssm-documents/load';
import { InstallDocument } from '../../../lib/constructs/install-document';
import { ACCOUNT, REGION, buildStack, logicalId } from '../fixture';

const { stack, template } = buildStack();
/** Where the stack's node library asset lies: the bootstrap bucket of the fixture's account and region. */
const NODE_LIBRARY_LOCATION = {
  bucket: `cdk-hnb659fds-assets-${ACCOUNT}-${REGION}`,
  key: stack.installDocument.nodeLibrary.s3ObjectKey,
  region: REGION,
};

describe('node library', () => {
  test('shipped as a file asset whose content is the library the install document checks by sha256', () => {
    const staged = path.join(
      stack.node.root instanceof App ? stack.node.root.outdir : '',
      stack.installDocument.nodeLibrary.assetPath,
    );
    const text = readFileSync(staged, 'utf8');
    expect(text).toBe(nodeLibrary().text);
    expect(stack.installDocument.nodeLibrarySha256).toBe(createHash('sha256').update(text).digest('hex'));
    expect(stack.installDocument.nodeLibrary.s3ObjectKey).toMatch(/^[0-9a-f]{64}\.sh$/);
  });

  test('written inside the cloud assembly only: a synth leaves nothing in the temporary directory', () => {
    const root = mkdtempSync(path.join(tmpdir(), 'synth-'));
    const saved = process.env.TMPDIR;
    try {
      const temp = path.join(root, 'tmp');
      const outdir = path.join(root, 'cdk.out');
      process.env.TMPDIR = temp;
      mkdirSync(temp);
      const app = new App({ outdir });
      new InstallDocument(new Stack(app, 'Documents'), 'Install');
      app.synth();
      expect(readdirSync(temp)).toEqual([]);
      expect(readdirSync(outdir).filter((f) => f.endsWith('.sh'))).toHaveLength(2); // the written file, the staged asset
    } finally {
      process.env.TMPDIR = saved;
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('node documents and outputs', () => {
  test('four Command documents (install, report, remove, preflight), new versions on update, no fixed name', () => {
    template.resourceCountIs('AWS::SSM::Document', 4);
    const documents = template.findResources('AWS::SSM::Document');
    for (const kind of DOCUMENT_KINDS) {
      const document = documents[logicalId(stack.installDocument.documents[kind].document)];
      expect(document.Properties).toMatchObject({ DocumentType: 'Command', UpdateMethod: 'NewVersion' });
      expect(document.Properties.Name).toBeUndefined();
      expect(document.Properties.Content).toEqual(loadDocument(kind, undefined, undefined, NODE_LIBRARY_LOCATION));
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
