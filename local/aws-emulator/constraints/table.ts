/** The generated constraint table (aws-constraints.json, written by generate.ts) and its types. */
import tableJson from './aws-constraints.json';

/** A model shape, as botocore describes it, without documentation. Members refer to other shapes by name. */
export interface ModelShape {
  type: string;
  required?: string[];
  members?: Record<string, { shape: string; sensitive?: boolean }>;
  /** List member shape. */
  member?: string;
  /** Map key and value shapes. */
  key?: string;
  value?: string;
  /** Length (strings, blobs in bytes, lists, maps) or value (numbers), as the model says. */
  min?: number;
  max?: number;
  /** A Java regular expression. */
  pattern?: string;
  enum?: string[];
  sensitive?: boolean;
  union?: boolean;
}

export interface ServiceSource {
  /** Model file inside the source repository. */
  model: string;
  apiVersion: string;
  serviceId: string;
  protocol: string;
  signingName: string;
  targetPrefix?: string;
}

export interface ServiceConstraints {
  /** Operation name → input shape name. */
  operations: Record<string, string>;
  shapes: Record<string, ModelShape>;
}

export interface ConstraintTable {
  source: { repository: string; commit: string; commitDate: string; services: Record<string, ServiceSource> };
  /** By botocore service name (acm, secretsmanager, ssm, stepfunctions, ...). */
  services: Record<string, ServiceConstraints>;
}

export const AWS_CONSTRAINTS: ConstraintTable = tableJson as ConstraintTable;
