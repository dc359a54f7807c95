/** Emulated ACM: public certificates issued by the local CA, exportable like ACM's exportable public certificates. */
import { randomUUID } from 'node:crypto';
import {
  encryptPrivateKey,
  colonHex,
  KEY_ALGORITHMS,
  LEAF_VALIDITY_DAYS,
  type IssuedCertificate,
  type LocalCa,
  type LocalKeyAlgorithm,
} from '../ca';
import { AwsServiceError, validation } from './errors';
import { epochSeconds, Input, paginate, type JsonObject } from './input';
import type { EmulatedService } from './server';

export interface AcmCertificate {
  arn: string;
  domainName: string;
  subjectAlternativeNames: string[];
  keyAlgorithm: LocalKeyAlgorithm;
  exportOption: 'ENABLED' | 'DISABLED';
  status: 'PENDING_VALIDATION' | 'ISSUED';
  createdAt: string;
  idempotencyToken?: string;
  tags: { Key: string; Value?: string }[];
  exported: boolean;
  issued?: IssuedCertificate;
  renewedAt?: string;
}

/** The EventBridge event ACM publishes when a certificate is issued or renewed. */
export interface AcmCertificateAvailableEvent {
  version: '0';
  id: string;
  'detail-type': 'ACM Certificate Available';
  source: 'aws.acm';
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: {
    Action: 'ISSUANCE' | 'RENEWAL';
    CertificateType: 'AMAZON_ISSUED';
    CommonName: string;
    FirstSubjectAlternativeName: string;
    ValidityInDays: number;
    CertificateKeyPairOrigin: 'AWS_MANAGED';
    DomainValidationMethod: 'DNS';
    CertificateCreatedDate: string;
    CertificateExpirationDate: string;
    DaysToExpiry: number;
    InUse: boolean;
    Exported: boolean;
  };
}

const ARN = /^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[0-9a-f-]{36}$/;
const DOMAIN = /^(\*\.)?(((?!-)[A-Za-z0-9-]{0,62}[A-Za-z0-9])\.)+((?!-)[A-Za-z0-9-]{1,62}[A-Za-z0-9])$/;
const isoSeconds = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

export interface AcmOptions {
  ca: LocalCa;
  region: string;
  accountId: string;
  /** Domains or ARNs whose new certificates are created non-exportable / pending (fault switches). */
  notExportable?: string[];
  pending?: string[];
  onChange?: () => void;
}

export class AcmService {
  readonly certificates = new Map<string, AcmCertificate>();
  private readonly notExportable: Set<string>;
  private readonly pending: Set<string>;

  constructor(private readonly options: AcmOptions) {
    this.notExportable = new Set(options.notExportable ?? []);
    this.pending = new Set(options.pending ?? []);
  }

  service(): EmulatedService {
    return {
      targetPrefix: 'CertificateManager',
      signingName: 'acm',
      namespace: 'com.amazonaws.acm',
      operations: {
        RequestCertificate: (i) => this.requestCertificate(new Input(i)),
        DescribeCertificate: (i) => this.describeCertificate(new Input(i)),
        ExportCertificate: (i) => this.exportCertificate(new Input(i)),
        GetCertificate: (i) => this.getCertificate(new Input(i)),
        ListCertificates: (i) => this.listCertificates(new Input(i)),
        ListTagsForCertificate: (i) => ({ Tags: this.find(new Input(i).string('CertificateArn')).tags }),
        AddTagsToCertificate: (i) => this.addTags(new Input(i)),
      },
    };
  }

  // ---- fault switches and local-only operations -------------------------------------------------

  /** Future certificates for this domain (or this ARN) are created with Export DISABLED. */
  makeNotExportable(domainOrArn: string): void {
    this.notExportable.add(domainOrArn);
    const cert = this.certificates.get(domainOrArn);
    if (cert) {
      cert.exportOption = 'DISABLED';
      this.options.onChange?.();
    }
  }

  /** Puts a certificate (or future certificates of a domain) into / out of PENDING_VALIDATION. */
  async setPending(domainOrArn: string, pending: boolean): Promise<void> {
    if (pending) this.pending.add(domainOrArn);
    else this.pending.delete(domainOrArn);
    const cert = this.certificates.get(domainOrArn);
    if (!cert) return;
    if (pending) cert.status = 'PENDING_VALIDATION';
    else {
      if (!cert.issued)
        cert.issued = await this.options.ca.issue({
          domainName: cert.domainName,
          subjectAlternativeNames: cert.subjectAlternativeNames,
          keyAlgorithm: cert.keyAlgorithm,
        });
      cert.status = 'ISSUED';
    }
    this.options.onChange?.();
  }

  /** Renews a certificate as ACM managed renewal does: new key pair, new serial, same ARN. Returns the event ACM would publish. */
  async renew(arn: string): Promise<AcmCertificateAvailableEvent> {
    const cert = this.find(arn);
    if (cert.status !== 'ISSUED')
      throw new AwsServiceError('RequestInProgressException', `Certificate ${arn} is not issued yet.`);
    cert.issued = await this.options.ca.issue({
      domainName: cert.domainName,
      subjectAlternativeNames: cert.subjectAlternativeNames,
      keyAlgorithm: cert.keyAlgorithm,
    });
    cert.renewedAt = new Date().toISOString();
    this.options.onChange?.();
    return this.availableEvent(cert, 'RENEWAL');
  }

  /** The current leaf of a certificate (for tests and the CLI): serial as ACM shows it, PEM body. */
  current(arn: string): { serial: string; certificatePem: string; notAfter: Date } | undefined {
    const cert = this.certificates.get(arn);
    if (!cert?.issued) return undefined;
    return {
      serial: colonHex(cert.issued.serialHex),
      certificatePem: cert.issued.certificatePem,
      notAfter: cert.issued.notAfter,
    };
  }

  availableEvent(cert: AcmCertificate, action: 'ISSUANCE' | 'RENEWAL'): AcmCertificateAvailableEvent {
    const issued = cert.issued!;
    const now = new Date();
    return {
      version: '0',
      id: randomUUID(),
      'detail-type': 'ACM Certificate Available',
      source: 'aws.acm',
      account: this.options.accountId,
      time: isoSeconds(now),
      region: this.options.region,
      resources: [cert.arn],
      detail: {
        Action: action,
        CertificateType: 'AMAZON_ISSUED',
        CommonName: cert.domainName,
        FirstSubjectAlternativeName: cert.subjectAlternativeNames[0] ?? cert.domainName,
        ValidityInDays: LEAF_VALIDITY_DAYS,
        CertificateKeyPairOrigin: 'AWS_MANAGED',
        DomainValidationMethod: 'DNS',
        CertificateCreatedDate: isoSeconds(new Date(cert.createdAt)),
        CertificateExpirationDate: isoSeconds(issued.notAfter),
        DaysToExpiry: Math.floor((issued.notAfter.getTime() - now.getTime()) / 86_400_000),
        InUse: false,
        Exported: cert.exported,
      },
    };
  }

  // ---- operations -------------------------------------------------------------------------------

  private find(arn: string): AcmCertificate {
    if (!ARN.test(arn))
      throw new AwsServiceError('InvalidArnException', `String '${arn.slice(0, 200)}' is not a valid ARN.`);
    const cert = this.certificates.get(arn);
    if (!cert) throw new AwsServiceError('ResourceNotFoundException', `Could not find certificate ${arn}.`);
    return cert;
  }

  private async requestCertificate(input: Input): Promise<JsonObject> {
    const domainName = input.string('DomainName', { min: 1, max: 253 });
    if (!DOMAIN.test(domainName)) throw validation(`The domain name ${domainName.slice(0, 253)} is not valid.`);
    const sans = input.optStringList('SubjectAlternativeNames') ?? [];
    if (sans.length > 100) throw validation('Too many subject alternative names.');
    for (const san of sans)
      if (!DOMAIN.test(san)) throw validation(`The subject alternative name ${san.slice(0, 253)} is not valid.`);
    const keyAlgorithm = (input.optString('KeyAlgorithm') ?? 'RSA_2048') as LocalKeyAlgorithm;
    if (!KEY_ALGORITHMS.includes(keyAlgorithm))
      throw validation(`Key algorithm ${keyAlgorithm} is not supported for requested certificates.`);
    const options = input.optObject('Options') ?? {};
    const exportOption = options.Export ?? 'DISABLED';
    if (exportOption !== 'ENABLED' && exportOption !== 'DISABLED')
      throw validation("Options.Export must be 'ENABLED' or 'DISABLED'.");
    const token = input.optString('IdempotencyToken', { min: 1, max: 32, pattern: /^\w+$/ });
    if (token) {
      const hourAgo = Date.now() - 3_600_000;
      for (const c of this.certificates.values()) {
        if (c.idempotencyToken === token && c.domainName === domainName && Date.parse(c.createdAt) > hourAgo)
          return { CertificateArn: c.arn };
      }
    }
    const tags = (input.optList('Tags') ?? []).map((t) => ({
      Key: String(t.Key),
      ...(t.Value !== undefined ? { Value: String(t.Value) } : {}),
    }));
    const arn = `arn:aws:acm:${this.options.region}:${this.options.accountId}:certificate/${randomUUID()}`;
    const names = [...new Set([domainName, ...sans])];
    const pending = this.pending.has(domainName);
    const cert: AcmCertificate = {
      arn,
      domainName,
      subjectAlternativeNames: names,
      keyAlgorithm,
      exportOption: this.notExportable.has(domainName) ? 'DISABLED' : exportOption,
      status: pending ? 'PENDING_VALIDATION' : 'ISSUED',
      createdAt: new Date().toISOString(),
      tags,
      exported: false,
      ...(token ? { idempotencyToken: token } : {}),
    };
    if (!pending)
      cert.issued = await this.options.ca.issue({ domainName, subjectAlternativeNames: names, keyAlgorithm });
    this.certificates.set(arn, cert);
    this.options.onChange?.();
    return { CertificateArn: arn };
  }

  private detail(cert: AcmCertificate): JsonObject {
    const issued = cert.status === 'ISSUED' ? cert.issued : undefined;
    const isRsa = cert.keyAlgorithm === 'RSA_2048';
    return {
      CertificateArn: cert.arn,
      DomainName: cert.domainName,
      SubjectAlternativeNames: cert.subjectAlternativeNames,
      DomainValidationOptions: cert.subjectAlternativeNames.map((d) => ({
        DomainName: d,
        ValidationDomain: d,
        ValidationStatus: issued ? 'SUCCESS' : 'PENDING_VALIDATION',
        ValidationMethod: 'DNS',
      })),
      ...(issued
        ? {
            Serial: colonHex(issued.serialHex),
            Subject: issued.subject,
            Issuer: issued.issuer,
            IssuedAt: epochSeconds(issued.notBefore),
            NotBefore: epochSeconds(issued.notBefore),
            NotAfter: epochSeconds(issued.notAfter),
            SignatureAlgorithm: issued.signatureAlgorithm,
          }
        : {}),
      CreatedAt: epochSeconds(new Date(cert.createdAt)),
      Status: cert.status,
      KeyAlgorithm: cert.keyAlgorithm,
      InUseBy: [],
      Type: 'AMAZON_ISSUED',
      KeyUsages: isRsa
        ? [{ Name: 'DIGITAL_SIGNATURE' }, { Name: 'KEY_ENCIPHERMENT' }]
        : [{ Name: 'DIGITAL_SIGNATURE' }],
      ExtendedKeyUsages: [{ Name: 'TLS_WEB_SERVER_AUTHENTICATION', OID: '1.3.6.1.5.5.7.3.1' }],
      RenewalEligibility: cert.exportOption === 'ENABLED' || cert.status === 'ISSUED' ? 'ELIGIBLE' : 'INELIGIBLE',
      ...(cert.renewedAt
        ? {
            RenewalSummary: {
              RenewalStatus: 'SUCCESS',
              DomainValidationOptions: cert.subjectAlternativeNames.map((d) => ({
                DomainName: d,
                ValidationStatus: 'SUCCESS',
                ValidationMethod: 'DNS',
              })),
              UpdatedAt: epochSeconds(new Date(cert.renewedAt)),
            },
          }
        : {}),
      Options: { Export: cert.exportOption },
      CertificateKeyPairOrigin: 'AWS_MANAGED',
    };
  }

  private describeCertificate(input: Input): JsonObject {
    return { Certificate: this.detail(this.find(input.string('CertificateArn'))) };
  }

  private exportCertificate(input: Input): JsonObject {
    const cert = this.find(input.string('CertificateArn', { min: 20, max: 2048 }));
    const encoded = input.string('Passphrase');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(encoded))
      throw new AwsServiceError('SerializationException', 'Passphrase is not valid base64.');
    const passphrase = Buffer.from(encoded, 'base64');
    if (passphrase.length < 4 || passphrase.length > 128)
      throw validation(
        "1 validation error detected: Value at 'passphrase' failed to satisfy constraint: Member must have length between 4 and 128",
      );
    if (/[#$%]/.test(passphrase.toString('latin1')) || passphrase.some((b) => b < 0x20 || b > 0x7e))
      throw validation('The passphrase can contain any ASCII character except #, $, or %.');
    if (cert.status !== 'ISSUED' || !cert.issued)
      throw new AwsServiceError('RequestInProgressException', `Certificate ${cert.arn} is still pending validation.`);
    if (cert.exportOption !== 'ENABLED')
      throw validation(
        `Certificate ${cert.arn} is not exportable. Only certificates requested with Options.Export=ENABLED can be exported.`,
      );
    cert.exported = true;
    this.options.onChange?.();
    return {
      Certificate: cert.issued.certificatePem.trimEnd(),
      CertificateChain: cert.issued.chainPem.trimEnd(),
      PrivateKey: encryptPrivateKey(cert.issued.privateKeyPem, passphrase).trimEnd(),
    };
  }

  private getCertificate(input: Input): JsonObject {
    const cert = this.find(input.string('CertificateArn'));
    if (cert.status !== 'ISSUED' || !cert.issued)
      throw new AwsServiceError('RequestInProgressException', `Certificate ${cert.arn} is still pending validation.`);
    return { Certificate: cert.issued.certificatePem.trimEnd(), CertificateChain: cert.issued.chainPem.trimEnd() };
  }

  private addTags(input: Input): JsonObject {
    const cert = this.find(input.string('CertificateArn'));
    for (const t of input.optList('Tags') ?? []) {
      const key = String(t.Key);
      cert.tags = cert.tags.filter((x) => x.Key !== key);
      cert.tags.push({ Key: key, ...(t.Value !== undefined ? { Value: String(t.Value) } : {}) });
    }
    this.options.onChange?.();
    return {};
  }

  private listCertificates(input: Input): JsonObject {
    const statuses = input.optStringList('CertificateStatuses');
    const includes = input.optObject('Includes') ?? {};
    const keyTypes = Array.isArray(includes.keyTypes) ? (includes.keyTypes as string[]) : ['RSA_1024', 'RSA_2048'];
    const exportOption = typeof includes.exportOption === 'string' ? includes.exportOption : undefined;
    const all = [...this.certificates.values()].filter(
      (c) =>
        (!statuses?.length || statuses.includes(c.status)) &&
        keyTypes.includes(c.keyAlgorithm) &&
        (!exportOption || c.exportOption === exportOption),
    );
    const { page, nextToken } = paginate(all, input.optNumber('MaxItems'), input.optString('NextToken'), 1000);
    return {
      CertificateSummaryList: page.map((c) => ({
        CertificateArn: c.arn,
        DomainName: c.domainName,
        SubjectAlternativeNameSummaries: c.subjectAlternativeNames,
        HasAdditionalSubjectAlternativeNames: false,
        Status: c.status,
        Type: 'AMAZON_ISSUED',
        KeyAlgorithm: c.keyAlgorithm,
        KeyUsages: c.keyAlgorithm === 'RSA_2048' ? ['DIGITAL_SIGNATURE', 'KEY_ENCIPHERMENT'] : ['DIGITAL_SIGNATURE'],
        ExtendedKeyUsages: ['TLS_WEB_SERVER_AUTHENTICATION'],
        ExportOption: c.exportOption,
        Exported: c.exported,
        InUse: false,
        RenewalEligibility: 'ELIGIBLE',
        CreatedAt: epochSeconds(new Date(c.createdAt)),
        ...(c.issued && c.status === 'ISSUED'
          ? {
              NotBefore: epochSeconds(c.issued.notBefore),
              NotAfter: epochSeconds(c.issued.notAfter),
              IssuedAt: epochSeconds(c.issued.notBefore),
            }
          : {}),
      })),
      ...(nextToken ? { NextToken: nextToken } : {}),
    };
  }

  // ---- persistence ------------------------------------------------------------------------------

  snapshot(): unknown {
    return [...this.certificates.values()];
  }

  restore(data: unknown): void {
    if (!Array.isArray(data)) return;
    for (const raw of data as AcmCertificate[]) {
      if (raw.issued)
        raw.issued = {
          ...raw.issued,
          notBefore: new Date(raw.issued.notBefore),
          notAfter: new Date(raw.issued.notAfter),
        };
      this.certificates.set(raw.arn, raw);
    }
  }
}
