// asl-validator ships no type declarations; this describes the part of its API the checks use.
declare module 'asl-validator' {
  interface AslValidationError {
    'Error code'?: string;
    Message?: string;
    [detail: string]: unknown;
  }
  function validateAsl(
    definition: object,
    options?: { checkPaths?: boolean; checkArn?: boolean },
  ): { isValid: boolean; errors: AslValidationError[] };
  export = validateAsl;
}
