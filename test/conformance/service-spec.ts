/** The CloudFormation registry schemas and AWS event schemas packaged in @aws-cdk/aws-service-spec. */
import { loadAwsServiceSpecSync } from '@aws-cdk/aws-service-spec';
import type { SpecDatabase } from '@aws-cdk/service-spec-types';

let database: SpecDatabase | undefined;

/** Loaded once per test file (it takes about half a second). */
export function specDatabase(): SpecDatabase {
  database ??= loadAwsServiceSpecSync();
  return database;
}
