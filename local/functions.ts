/**
 * The stack's functions in-process: found in the template by their handler metadata, each handler loaded
 * and run in its own environment (the template's variables resolved to local values), with SDK clients
 * pointed at the local endpoints.
 */
import * as path from 'node:path';
import { ACMClient } from '@aws-sdk/client-acm';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SSMClient } from '@aws-sdk/client-ssm';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ENV } from '../lambda/shared/contract';
import type { AwsEmulator } from './aws-emulator';
import { resolveFunctionEnvironment, withEnvironment, type LocalResources } from './environment';
import { LocalModeError } from './errors';
import type { LocalModeOptions } from './options';
import type { LocalFunctionSpec, LocalStackModel } from './template';
import type { Undo } from './undo';

export type AnyHandler = (payload: unknown) => Promise<unknown>;

/** Repository root: function entries in the template's metadata are relative to it. */
const PROJECT_ROOT = path.join(__dirname, '..');

/** Functions local mode calls by name (the handler folders, as the stack's metadata names them). */
export const FUNCTION_NAMES = {
  exportApi: 'export-api',
  acmRenew: 'acm-renew',
  driftCheck: 'drift-check',
  executionEnd: 'execution-end',
  commandEvents: 'command-events',
} as const;

/** A function of the stack, in-process: its handler module, called inside the function's own environment. */
export class LocalFunction {
  private constructor(
    readonly spec: LocalFunctionSpec,
    /** The environment the handler sees: the template's variables, resolved to local values. */
    readonly environment: Readonly<Record<string, string>>,
    private readonly module: Record<string, unknown>,
  ) {}

  /** Loads the handler entry inside the function's environment (module-level reads see it, as in Lambda). */
  static load(spec: LocalFunctionSpec, environment: Record<string, string>): LocalFunction {
    const file = path.join(PROJECT_ROOT, spec.entry.replace(/\.ts$/, ''));
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const module = withEnvironment(environment, () => require(file) as Record<string, unknown>);
    if (typeof module.handler !== 'function')
      throw new LocalModeError(`${spec.entry} (function ${spec.name}) exports no handler`);
    return new LocalFunction(spec, environment, module);
  }

  get name(): string {
    return this.spec.name;
  }

  /** Runs `body` (and all it starts) with this function's environment as `process.env`. */
  run<T>(body: () => T): T {
    return withEnvironment(this.environment as Record<string, string>, body);
  }

  /** Calls the handler as Lambda would (JSON in, JSON out). */
  async invoke(payload: unknown): Promise<unknown> {
    const handler = this.module.handler as AnyHandler;
    const result = await this.run(() => handler(JSON.parse(JSON.stringify(payload ?? null))));
    return JSON.parse(JSON.stringify(result ?? null)) as unknown;
  }

  /** A handler made by the module's `createHandler(overrides)` (e.g. with a local SNS client), run in this function's environment. */
  createHandler(overrides: Record<string, unknown>): AnyHandler {
    const create = this.module.createHandler;
    if (typeof create !== 'function')
      throw new LocalModeError(`${this.spec.entry} (function ${this.spec.name}) exports no createHandler`);
    const handler = this.run(() => (create as (o: Record<string, unknown>) => AnyHandler)(overrides));
    return (payload) => this.run(() => handler(payload));
  }
}

/** The stack's functions by name (the handler folder). */
export class LocalFunctions {
  readonly byName: ReadonlyMap<string, LocalFunction>;

  constructor(functions: LocalFunction[]) {
    this.byName = new Map(functions.map((f) => [f.name, f]));
  }

  get(name: string): LocalFunction {
    const fn = this.byName.get(name);
    if (!fn)
      throw new LocalModeError(`the stack has no function ${name} (functions: ${[...this.byName.keys()].join(', ')})`);
    return fn;
  }

  /** The value that the functions setting `variable` give it (they agree; the stack sets each from one place). */
  variable(variable: string): string {
    const values = new Set(
      [...this.byName.values()].flatMap((f) => (variable in f.environment ? [f.environment[variable]] : [])),
    );
    if (values.size !== 1)
      throw new LocalModeError(`expected one value of ${variable} among the stack's functions, found ${values.size}`);
    return [...values][0];
  }
}

/**
 * Every function of the template, its environment resolved to local values (the options' local knobs
 * replace the variables they name) and its handler loaded in that environment.
 */
export function loadFunctions(
  model: LocalStackModel,
  local: LocalResources,
  options: LocalModeOptions,
): LocalFunctions {
  const overrides: Record<string, string | undefined> = {
    [ENV.DRIFT_GRACE_MINUTES]: String(options.driftGraceMinutes ?? 0),
    [ENV.COMMAND_TIMEOUT_SECONDS]:
      options.commandTimeoutSeconds === undefined ? undefined : String(options.commandTimeoutSeconds),
  };
  const environments = model.functions.map(
    (spec) => [spec, resolveFunctionEnvironment(spec, model.resources, local, overrides)] as const,
  );
  return new LocalFunctions(environments.map(([spec, env]) => LocalFunction.load(spec, env)));
}

/** SDK clients pointed at the local endpoints, handed to the handlers (lambda/shared/clients). */
export function connectHandlerClients(
  aws: AwsEmulator,
  ddb: DynamoDBDocumentClient,
  undo: Undo,
): {
  clients: { acm: ACMClient; secrets: SecretsManagerClient; ssm: SSMClient; sfn: SFNClient };
  secrets: SecretsManagerClient;
} {
  const awsConfig = aws.clientConfig();
  const clients = {
    acm: new ACMClient(awsConfig),
    secrets: new SecretsManagerClient(awsConfig),
    ssm: new SSMClient(awsConfig),
    sfn: new SFNClient(awsConfig),
  };
  undo.push(() => {
    for (const c of Object.values(clients)) c.destroy();
  });
  undo.push(resetHandlerClients);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { setClients } = require('../lambda/shared/clients') as typeof import('../lambda/shared/clients');
  setClients({ ...clients, ddb });
  return { clients, secrets: clients.secrets };
}

export function resetHandlerClients(): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { setClients } = require('../lambda/shared/clients') as typeof import('../lambda/shared/clients');
  setClients({ acm: undefined, secrets: undefined, ssm: undefined, sfn: undefined, ddb: undefined });
}
