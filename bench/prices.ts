/**
 * List prices the cost section multiplies counted calls by: us-east-1, on-demand, without free tiers (they are
 * per account and shared with everything else in it). Each price says its unit, the page it was read from and
 * when. Where the page itself did not show the figure, `source` says which page did; where no page showed
 * it, the price is `undefined` and the note says "not found" (no guess).
 */

export const PRICE_REGION = 'us-east-1';

export interface ListPrice {
  /** US dollars per `per` units; undefined when the figure was not found. */
  usd: number | undefined;
  /** How many units `usd` buys (1_000 state transitions, 1 GB-second, ...). */
  per: number;
  unit: string;
  /** The public pricing page. */
  page: string;
  /** Where the figure was read, when it was not on `page` itself as read. */
  source?: string;
  read: string;
  note?: string;
}

const READ = '2026-12-05';

export const PRICES = {
  stepFunctionsTransition: {
    usd: 0.025,
    per: 1_000,
    unit: 'Standard workflow state transitions',
    page: 'https://aws.amazon.com/step-functions/pricing/',
    read: READ,
    note: 'US East (N. Virginia) row of the state transitions pricing table; retries count as transitions.',
  },
  lambdaRequest: {
    usd: 0.2,
    per: 1_000_000,
    unit: 'Lambda requests',
    page: 'https://aws.amazon.com/lambda/pricing/',
    source:
      'https://git.mcrn.ar/mariano/lambda_local_runner/src/commit/957e45b8adae23ce50b966346229585b5df18b4d/docs/lambdas-md/lambda-13-cost.md',
    read: READ,
    note: 'Same for x86 and arm64. The official page as stored renders its price table from a template, so the figure is from a page quoting it.',
  },
  lambdaArmGbSecond: {
    usd: 0.0000133334,
    per: 1,
    unit: 'Lambda arm64 GB-seconds (first 7.5 billion per month)',
    page: 'https://aws.amazon.com/lambda/pricing/',
    source: 'https://cloudchipr.com/blog/aws-lambda-pricing',
    read: READ,
    note: 'US East (N. Virginia), first duration tier; quoted from the official page by the source.',
  },
  secretsManagerApiCall: {
    usd: 0.05,
    per: 10_000,
    unit: 'Secrets Manager API calls',
    page: 'https://aws.amazon.com/secrets-manager/pricing/',
    source:
      'https://raw.githubusercontent.com/api-evangelist/amazon-secrets-manager/refs/heads/main/plans/amazon-secrets-manager-plans-pricing.yml',
    read: READ,
    note: 'Transcribed from the official page (2026-09-20) by the source.',
  },
  secretMonth: {
    usd: 0.4,
    per: 1,
    unit: 'secret-months',
    page: 'https://aws.amazon.com/secrets-manager/pricing/',
    source:
      'https://raw.githubusercontent.com/api-evangelist/amazon-secrets-manager/refs/heads/main/plans/amazon-secrets-manager-plans-pricing.yml',
    read: READ,
    note: 'Per secret, not per version; prorated for part of a month.',
  },
  kmsRequest: {
    usd: 0.03,
    per: 10_000,
    unit: 'KMS symmetric key requests',
    page: 'https://aws.amazon.com/kms/pricing/',
    source: 'https://www.wring.co/blog/aws-kms-pricing-guide',
    read: READ,
    note: 'The official page (as stored) says requests to AWS managed keys are charged too; the figure is from the source.',
  },
  kmsKeyMonth: {
    usd: 1,
    per: 1,
    unit: 'KMS key-months',
    page: 'https://aws.amazon.com/kms/pricing/',
    read: READ,
    note: 'Each customer managed key; with automatic rotation each rotated backing key adds $1/month (not in the first year, so not in the month model).',
  },
  dynamoReadUnit: {
    usd: 0.125,
    per: 1_000_000,
    unit: 'DynamoDB on-demand read request units',
    page: 'https://aws.amazon.com/dynamodb/pricing/',
    source: 'https://airbyte.com/data-engineering-resources/dynamodb-pricing',
    read: READ,
    note: 'US East; the official on-demand page was not among the stored pages.',
  },
  dynamoWriteUnit: {
    usd: 0.625,
    per: 1_000_000,
    unit: 'DynamoDB on-demand write request units',
    page: 'https://aws.amazon.com/dynamodb/pricing/',
    source: 'https://airbyte.com/data-engineering-resources/dynamodb-pricing',
    read: READ,
    note: 'US East; the official on-demand page was not among the stored pages.',
  },
  logIngestionGb: {
    usd: 0.5,
    per: 1,
    unit: 'CloudWatch Logs GB ingested (standard)',
    page: 'https://aws.amazon.com/cloudwatch/pricing/',
    source: 'https://www.factualminds.com/blog/amazon-cloudwatch-pricing-metrics-logs-alarms-dashboards/',
    read: READ,
  },
  logStorageGbMonth: {
    usd: undefined,
    per: 1,
    unit: 'CloudWatch Logs GB-months stored',
    page: 'https://aws.amazon.com/cloudwatch/pricing/',
    read: READ,
    note: 'not found: no stored page showed the figure, so log storage is left out of the totals.',
  },
  ssmRunCommandAndStateManager: {
    usd: 0,
    per: 1,
    unit: 'Run Command invocations and State Manager association runs on managed nodes',
    page: 'https://aws.amazon.com/systems-manager/pricing/',
    source: 'https://docs.aws.amazon.com/systems-manager/latest/userguide/fleet-manager-configure-instance-tiers.html',
    read: READ,
    note: 'No charge for EC2 instances or standard-tier hybrid nodes (up to 1,000 hybrid-activated nodes per account and Region). The advanced-instances tier (more than 1,000 hybrid nodes, Session Manager to hybrid nodes) is charged and not in scope here.',
  },
  eventBridgeAwsServiceEvent: {
    usd: 0,
    per: 1,
    unit: 'AWS service events on the default event bus (rule matching and delivery)',
    page: 'https://aws.amazon.com/eventbridge/pricing/',
    source: 'https://www.factualminds.com/blog/amazon-eventbridge-pricing-events-pipes-schema-archive/',
    read: READ,
    note: 'Every rule of the stack matches AWS service events on the default bus (ACM certificate events, Step Functions execution status changes, SSM command status changes) or is a schedule, so none is charged; custom events ($1.00 per million) are not used.',
  },
} as const satisfies Record<string, ListPrice>;

export type PriceName = keyof typeof PRICES;

/** Dollars for `quantity` units at `price` (0 for a price not found: such a line is left out and said so). */
export function dollars(price: ListPrice, quantity: number): number {
  if (!Number.isFinite(quantity) || quantity < 0) throw new Error(`invalid quantity ${quantity} of ${price.unit}`);
  return price.usd === undefined ? 0 : (quantity * price.usd) / price.per;
}
