/** A modeled service error, returned as HTTP 4xx/5xx with `{"__type": name, "message": ...}`. */
export class AwsServiceError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly statusCode = 400,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = type;
  }
}

export const validation = (message: string): AwsServiceError => new AwsServiceError('ValidationException', message);
