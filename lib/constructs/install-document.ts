import { RemovalPolicy } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { loadInstallDocument } from '../../ssm-documents/load';
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

/**
 * The Install-ACMCertificate Command document, and the log group that receives its Run Command output.
 * No fixed document name: CloudFormation names it, so two stacks in one account never collide, and
 * updates create a new document version instead of a replacement.
 */
export class InstallDocument extends Construct {
  public readonly document: ssm.CfnDocument;
  /** Document name (its Ref), passed to SendCommand. */
  public readonly documentName: string;
  /** `arn:<partition>:ssm:<region>:<account>:document/<name>`. */
  public readonly documentArn: string;
  /** Run Command output of the installs (nodes write to it; the script never prints key material). */
  public readonly commandLogGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: InstallDocumentProps = {}) {
    super(scope, id);
    this.document = new ssm.CfnDocument(this, 'Document', {
      documentType: 'Command',
      updateMethod: 'NewVersion',
      content: loadInstallDocument(
        undefined,
        parsePlacementPolicy(props.placement ?? DEFAULT_PLACEMENT, 'InstallDocument placement'),
      ),
    });
    this.documentName = this.document.ref;
    this.documentArn = this.document.stack.formatArn({
      service: 'ssm',
      resource: 'document',
      resourceName: this.documentName,
    });
    this.commandLogGroup = new logs.LogGroup(this, 'CommandOutput', {
      retention: logs.RetentionDays.THREE_MONTHS,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
  }
}
