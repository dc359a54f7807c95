/** Types of sigv4-sign.cjs (see there). */
export interface SignableRequest {
  method: string;
  /** Path as sent (percent-encoded), e.g. `/`. */
  path: string;
  /** Headers to sign; must include `host`. */
  headers: Record<string, string>;
  body: string;
  region: string;
  service: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Signing time. @default now */
  date?: Date;
}

/** The request's headers (lower-case names) plus `x-amz-date` and `authorization`. */
export declare function signRequest(request: SignableRequest): Record<string, string>;
