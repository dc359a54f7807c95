/**
 * Identity of local mode: the account, region and the one key pair every local endpoint accepts.
 * These are not AWS credentials; they only work against the local emulator and the local API.
 */
export interface LocalCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

export const LOCAL_ACCOUNT_ID = '000000000000';
export const LOCAL_REGION = 'us-east-1';

export const LOCAL_CREDENTIALS: LocalCredentials = {
  accessKeyId: 'AKIALOCALACMEXPORT01',
  secretAccessKey: 'local-mode-only/not-an-aws-secret-key+00',
};
