/** Environment reading for the handlers (the pure logic never reads the environment). */
import { ENV } from './contract';

export type EnvName = (typeof ENV)[keyof typeof ENV];

export function requireEnv(name: EnvName | 'AWS_REGION'): string {
  const value = process.env[name];
  if (!value) throw new Error(`environment variable ${name} is not set`);
  return value;
}

export function optionalEnv(name: EnvName, fallback: string): string {
  return process.env[name] || fallback;
}

/** SendCommand delivery timeout when `COMMAND_TIMEOUT_SECONDS` is not set. */
export const DEFAULT_COMMAND_TIMEOUT_SECONDS = 600;

/** `COMMAND_TIMEOUT_SECONDS`: an integer from 30 to 2592000 (SendCommand's TimeoutSeconds range). */
export function commandTimeoutSeconds(): number {
  const raw = process.env[ENV.COMMAND_TIMEOUT_SECONDS];
  if (!raw) return DEFAULT_COMMAND_TIMEOUT_SECONDS;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 30 || n > 2592000)
    throw new Error(`${ENV.COMMAND_TIMEOUT_SECONDS} must be an integer from 30 to 2592000`);
  return n;
}
