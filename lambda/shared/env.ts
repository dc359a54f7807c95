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
