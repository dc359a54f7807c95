/** The certificate an export starts from: DescribeCertificate plus the checks that make an export possible. */
import { ACMClient, CertificateDetail, DescribeCertificateCommand } from '@aws-sdk/client-acm';
import {
  CertificateNotExportable,
  CertificateNotFound,
  CertificateNotIssued,
  CertificateOutOfScope,
  rethrowThrottling,
} from './errors';
import { ArnScope, parseCertificateArn } from './workflow';

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : '';
}

/** DescribeCertificate plus the checks that make an export possible. */
export async function describeExportable(
  acm: ACMClient,
  certificateArn: string,
  scope: ArnScope,
): Promise<CertificateDetail> {
  const parts = parseCertificateArn(certificateArn);
  if (!parts) throw new CertificateNotFound('CertificateArn: not an ACM certificate ARN');
  if (parts.partition !== scope.partition || parts.region !== scope.region || parts.account !== scope.account) {
    throw new CertificateOutOfScope(
      `certificate ${certificateArn} is not in ${scope.partition}/${scope.region}/${scope.account}, where this stack runs`,
    );
  }
  let detail: CertificateDetail | undefined;
  try {
    detail = (await acm.send(new DescribeCertificateCommand({ CertificateArn: certificateArn }))).Certificate;
  } catch (error) {
    const name = errorName(error);
    if (name === 'ResourceNotFoundException' || name === 'InvalidArnException') {
      throw new CertificateNotFound(`certificate ${certificateArn} was not found in this account and region`, {
        cause: error,
      });
    }
    rethrowThrottling(error, 'acm:DescribeCertificate');
  }
  if (!detail) throw new CertificateNotFound(`certificate ${certificateArn} was not found in this account and region`);
  if (detail.Status !== 'ISSUED') {
    throw new CertificateNotIssued(
      `certificate ${certificateArn} is ${detail.Status ?? 'in an unknown state'}, not ISSUED`,
    );
  }
  if (detail.Options?.Export !== 'ENABLED') {
    throw new CertificateNotExportable(
      `certificate ${certificateArn} was not requested with Options.Export=ENABLED (export cannot be enabled later; request a new exportable certificate)`,
    );
  }
  return detail;
}
