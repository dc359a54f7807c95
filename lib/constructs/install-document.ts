import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { RemovalPolicy, Stack, Stage } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Asset } from 'aws-cdk-lib/aws-s3-assets';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { DOCUMENT_KINDS, DocumentKind, LibraryLocation, loadDocument, nodeLibrary } from '../../ssm-documents/load';
import { DEFAULT_PLACEMENT, PlacementPolicy, parsePlacementPolicy } from '../../lambda/shared/placement';

export interface InstallDocumentProps {
  /** @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Where the script may write (CertDir, KeyDir) and who may own the key: written into the script text, not a
   * parameter, so no SendCommand caller can widen it. @default DEFAULT_PLACEMENT
   */
  readonly placement?: PlacementPolicy;
}

/** Construct id of each document (the install document keeps its original id, so updates keep its name). */
const DOCUMENT_IDS: Record<DocumentKind, string> = {
  install: 'Document',
  report: 'ReportDocument',
  remove: 'RemoveDocument',
  preflight: 'PreflightDocument',
};

/** One node document: its name (Ref, passed to SendCommand and CreateAssociation) and ARN (for IAM). */
export interface NodeDocument {
  readonly document: ssm.CfnDocument;
  readonly name: string;
  /** `arn:<partition>:ssm:<region>:<account>:document/<name>`. */
  readonly arn: string;
}

/**
 * The node's Command documents, one per action (install, report, remove, preflight: see ssm-documents/), and
 * the log group that receives their Run Command output. No fixed document names: CloudFormation names them,
 * so two stacks in one account never collide, and updates create a new document version instead of a
 * replacement.
 */
export class InstallDocument extends Construct {
  /** Every document, by action. */
  public readonly documents: Record<DocumentKind, NodeDocument>;
  /** The install document. */
  public readonly document: ssm.CfnDocument;
  /** The install document's name (its Ref), passed to SendCommand and the install associations. */
  public readonly documentName: string;
  /** The install document's ARN. */
  public readonly documentArn: string;
  /** Run Command output of the installs (nodes write to it; the script never prints key material). */
  public readonly commandLogGroup: logs.LogGroup;
  /** The node library the install document fetches and checks by sha256 (see ssm-documents/lib/library.sh). */
  public readonly nodeLibrary: Asset;
  /** The node library's sha256 (hex), as the install document carries it. */
  public readonly nodeLibrarySha256: string;
  /** ARN of the node library object: what nodes may read of the asset bucket, and nothing else. */
  public readonly nodeLibraryArn: string;

  constructor(scope: Construct, id: string, props: InstallDocumentProps = {}) {
    super(scope, id);
    const placement = parsePlacementPolicy(props.placement ?? DEFAULT_PLACEMENT, 'InstallDocument placement');
    // The asset is staged from a file written at synth into the cloud assembly's directory (so nothing is left
    // outside it, and `--no-staging` still finds it); its hash is its content's.
    const library = nodeLibrary();
    const assemblyDir = Stage.of(this)?.assetOutdir;
    if (!assemblyDir) throw new Error('InstallDocument must be defined within an App or a Stage');
    const libraryFile = path.join(assemblyDir, `node-library.${library.sha256}.sh`);
    writeFileSync(libraryFile, library.text, { mode: 0o644 });
    this.nodeLibrary = new Asset(this, 'NodeLibrary', { path: libraryFile });
    this.nodeLibrarySha256 = library.sha256;
    this.nodeLibraryArn = this.nodeLibrary.bucket.arnForObjects(this.nodeLibrary.s3ObjectKey);
    const location: LibraryLocation = {
      bucket: this.nodeLibrary.s3BucketName,
      key: this.nodeLibrary.s3ObjectKey,
      region: Stack.of(this).region,
    };
    const entries = DOCUMENT_KINDS.map((kind): [DocumentKind, NodeDocument] => {
      const document = new ssm.CfnDocument(this, DOCUMENT_IDS[kind], {
        documentType: 'Command',
        updateMethod: 'NewVersion',
        content: loadDocument(kind, placement, undefined, location),
      });
      const arn = document.stack.formatArn({ service: 'ssm', resource: 'document', resourceName: document.ref });
      return [kind, { document, name: document.ref, arn }];
    });
    this.documents = Object.fromEntries(entries) as Record<DocumentKind, NodeDocument>;
    this.document = this.documents.install.document;
    this.documentName = this.documents.install.name;
    this.documentArn = this.documents.install.arn;
    this.commandLogGroup = new logs.LogGroup(this, 'CommandOutput', {
      retention: logs.RetentionDays.THREE_MONTHS,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
  }
}
