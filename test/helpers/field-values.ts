/**
 * Values the tests feed the field rules, in one place: the document and API tests check what each rule
 * accepts and refuses, and the RE2 test checks that JavaScript and the SSM Agent's RE2 agree on every one.
 */
import type { FieldName } from '../../lambda/shared/patterns';
import type { DOCUMENT_PARAMETERS } from './install-script';

type DocumentParameter = (typeof DOCUMENT_PARAMETERS)[number];

/** Realistic values every document parameter's rule accepts. */
export const ACCEPTED_VALUES: Record<DocumentParameter, readonly string[]> = {
  CertName: ['www.example.com', 'site', 'a', 'api_example-com.2026'],
  SecretId: ['arn:aws:secretsmanager:eu-west-1:123456789012:secret:acm-export/www.example.com-AbC123'],
  SecretVersionId: ['0d5f8a7e-1b2c-4d3e-8f9a-0b1c2d3e4f5a', ''],
  SecretVersionStage: ['AWSCURRENT', ''],
  KeyOwner: ['', 'www-data', 'haproxy'],
  KeyMode: ['', '0600', '0640', '0400', '0440'],
  CertOwner: ['', 'www-data'],
  CertGroup: ['', 'ssl-cert'],
  CertMode: ['0644', '0640', '0444', '0440', '0600', '0400'],
  Pkcs12: ['true', 'false'],
  CombinedPem: ['true', 'false'],
  Target: ['', 'Role=web', 'acm-export:fleet=web servers', 'aws:autoscaling:groupName=my-asg-1'],
  Region: ['eu-west-1', 'us-gov-west-1', 'ap-southeast-5'],
  CertDir: ['/etc/ssl/certs', '/etc/nginx/ssl', '/opt/app_1/tls'],
  KeyDir: ['/etc/ssl/private', '/etc/pki/tls/private'],
  KeyGroup: ['', 'ssl-cert', 'www-data'],
  Service: ['auto', 'none', 'nginx', 'apache2', 'httpd'],
  VerifyPort: ['0', '443', '8443', '65535'],
};

/** Directory paths with `.` or `..` components, relative, empty components or an option-like name. */
export const NON_CANONICAL_PATHS = [
  '/etc/ssl/..',
  '/etc/./ssl',
  '/..',
  '/.hidden',
  'etc/ssl',
  '/',
  '//etc',
  '/etc/ssl/',
  '/-rf',
];
/** File name stems that are hidden, option-like, contain a separator or space, or are empty. */
export const BAD_FILE_STEMS = ['.site', '..', '-rf', 'a/b', 'a b', ''];
/** Modes neither KeyMode nor CertMode accepts. */
export const BAD_MODES = ['0777', '0666', '0755', '644', '4755', '0o600', '1600', '06000'];
/** World-readable modes CertMode accepts and KeyMode refuses. */
export const WORLD_READABLE_MODES = ['0644', '0444'];
export const BAD_BOOLEANS = ['True', '1', 'yes', ''];
export const BAD_VERSION_STAGES = ['AWSPREVIOUS', 'AWSPENDING', 'awscurrent'];
export const BAD_POSIX_NAMES = ['root:root', 'Www', '1user', 'a'.repeat(33)];
export const BAD_SERVICES = ['None', 'NGINX', 'apache', 'lighttpd', ''];

/** A valid value of each string field of an export request other than CertificateArn. */
export const VALID_REQUEST_STRINGS = {
  CertName: 'site',
  TargetTagKey: 'Role',
  TargetTagValue: 'web',
  CertDir: '/etc/ssl/certs',
  KeyDir: '/etc/ssl/private',
  Service: 'nginx',
  MaxConcurrency: '100%',
  MaxErrors: '0',
} as const satisfies Partial<Record<FieldName, string>>;
/** Appended to a valid value, each makes it a shell injection attempt. */
export const SHELL_METACHARACTERS = [';id', '$(id)', '`id`', '|id', '&id', '>x'];
/** Traversals and non-canonical directory paths sent as CertDir and KeyDir. */
export const HOSTILE_PATHS = [
  '../../etc/passwd',
  '/etc/ssl/../../root',
  'etc/ssl/certs',
  '//etc/ssl',
  '/etc/ssl/..',
  '/etc/./ssl',
  '/etc/ssl/',
  '/-rf/x',
];

/** Control characters and look-alikes in one field each; `needle` must never be echoed back. */
export const CONTROL_AND_LOOKALIKE_VALUES: readonly {
  field: FieldName;
  value: string;
  name: string;
  needle?: string;
}[] = [
  { field: 'CertName', value: 'site\nid', name: 'newline', needle: 'site\nid' },
  { field: 'TargetTagValue', value: 'web\r\nX-Injected: 1', name: 'CRLF', needle: 'X-Injected' },
  { field: 'CertDir', value: '/etc/ssl\u0000/x', name: 'NUL', needle: '\u0000' },
  { field: 'Service', value: 'nginx\n', name: 'trailing newline' },
  { field: 'CertDir', value: '/etc\uFF0Fssl', name: 'fullwidth solidus', needle: '\uFF0F' },
  { field: 'Service', value: 'ngin\u0445', name: 'Cyrillic look-alike', needle: 'ngin\u0445' },
  { field: 'CertName', value: 's\u0456te', name: 'Cyrillic i', needle: 's\u0456te' },
  { field: 'TargetTagKey', value: 'R\u043Ele', name: 'Cyrillic o', needle: 'R\u043Ele' },
  { field: 'CertName', value: 'si\u200Bte', name: 'zero-width space', needle: '\u200B' },
  { field: 'CertName', value: 'site\u202Egnp', name: 'right-to-left override', needle: '\u202E' },
];

/** ARNs that are not an ACM certificate of `arn`'s region and account: other services, scopes, look-alikes. */
export function foreignCertificateArns(arn: string, region: string, account: string): [name: string, value: string][] {
  const id = arn.slice(arn.lastIndexOf('/') + 1);
  return [
    ['IAM role', `arn:aws:iam::${account}:role/admin`],
    ['S3 object', 'arn:aws:s3:::bucket/key'],
    ['Secrets Manager secret', `arn:aws:secretsmanager:${region}:${account}:secret:x-AbCdEf`],
    ['ACM PCA', `arn:aws:acm-pca:${region}:${account}:certificate-authority/${id}`],
    ['other region', `arn:aws:acm:eu-west-1:${account}:certificate/${id}`],
    ['other partition aws-cn', `arn:aws-cn:acm:${region}:${account}:certificate/${id}`],
    ['other partition aws-us-gov', `arn:aws-us-gov:acm:${region}:${account}:certificate/${id}`],
    ['other account', `arn:aws:acm:${region}:123456789012:certificate/${id}`],
    ['traversal after the prefix', `arn:aws:acm:${region}:${account}:certificate/../x`],
    ['upper-case UUID', `arn:aws:acm:${region}:${account}:certificate/${id.toUpperCase()}`],
    ['trailing newline', `${arn}\n`],
    ['leading space', ` ${arn}`],
    ['extra path segment', `${arn}/x`],
    ['wildcards', 'arn:aws:acm:*:*:certificate/*'],
    ['Cyrillic a in acm', `arn:aws:\u0430cm:${region}:${account}:certificate/${id}`],
    ['empty', ''],
  ];
}
