/**
 * The functions' environment in local mode: read from the template, with every intrinsic resolved to the
 * local resource it names, and given to each in-process handler as its own `process.env`.
 *
 * Resolution goes through ONE table, {@link LOCAL_RESOURCE_VALUES}: resource type → the local value of its
 * `Ref` and of its `Fn::GetAtt` attributes. A variable whose value names anything else (a resource type or
 * attribute without a local value, an intrinsic function local mode does not evaluate) fails the start with
 * the variable's and the function's name: a new variable in the stack either works locally or is caught.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { DocumentKind } from '../ssm-documents/load';
import type { LocalFunctionSpec, TemplateResource } from './template';

/** The local resources that the template's intrinsics resolve to. */
export interface LocalResources {
  region: string;
  account: string;
  stackName: string;
  /** The inventory table in dynalite. */
  tableName: string;
  /** The node documents registered with the emulated SSM, by action. */
  documentNames: Record<DocumentKind, string>;
  /** The state machine run by local Step Functions. */
  stateMachineArn: string;
  /** Every KMS key of the stack (local mode has no KMS: secrets only record the key they name). */
  kmsKeyArn: string;
}

export class UnresolvableEnvironmentError extends Error {}

interface ResourceValues {
  ref?: (local: LocalResources, logicalId: string, resource: TemplateResource) => string;
  attributes?: Record<string, (local: LocalResources, logicalId: string, resource: TemplateResource) => string>;
}

/** A literal name property of the resource, or the name CloudFormation would generate (`<stack>-<logical id>`). */
function physicalName(
  property: string,
): (local: LocalResources, logicalId: string, resource: TemplateResource) => string {
  return (local, logicalId, resource) => {
    const name = resource.Properties?.[property];
    return typeof name === 'string' ? name : `${local.stackName}-${logicalId}`;
  };
}

/** Which node document a template resource is, by its construct id (see lib/constructs/install-document.ts). */
function documentKindOf(logicalId: string): DocumentKind {
  const kind = /(Report|Remove|Preflight)Document/.exec(logicalId)?.[1];
  return kind ? (kind.toLowerCase() as DocumentKind) : 'install';
}

const topicArn = (local: LocalResources, logicalId: string, resource: TemplateResource): string =>
  `arn:aws:sns:${local.region}:${local.account}:${physicalName('TopicName')(local, logicalId, resource)}`;
const logGroupName = (local: LocalResources, logicalId: string, resource: TemplateResource): string => {
  const name = resource.Properties?.LogGroupName;
  return typeof name === 'string' ? name : `/aws/local/${local.stackName}/${logicalId}`;
};

/** Resource type → local value of `Ref` and `Fn::GetAtt`. The only place where template resources meet local ones. */
export const LOCAL_RESOURCE_VALUES: Record<string, ResourceValues> = {
  'AWS::DynamoDB::Table': {
    ref: (local) => local.tableName,
    attributes: { Arn: (local) => `arn:aws:dynamodb:${local.region}:${local.account}:table/${local.tableName}` },
  },
  'AWS::SSM::Document': { ref: (local, logicalId) => local.documentNames[documentKindOf(logicalId)] },
  'AWS::StepFunctions::StateMachine': {
    ref: (local) => local.stateMachineArn,
    attributes: {
      Arn: (local) => local.stateMachineArn,
      Name: (local) => local.stateMachineArn.split(':').pop() ?? '',
    },
  },
  'AWS::SNS::Topic': { ref: topicArn, attributes: { TopicArn: topicArn, TopicName: physicalName('TopicName') } },
  'AWS::KMS::Key': {
    ref: (local) => local.kmsKeyArn.split('/').pop() ?? '',
    attributes: { Arn: (local) => local.kmsKeyArn },
  },
  'AWS::Logs::LogGroup': {
    ref: logGroupName,
    attributes: {
      Arn: (local, id, r) => `arn:aws:logs:${local.region}:${local.account}:log-group:${logGroupName(local, id, r)}:*`,
    },
  },
};

function pseudoParameter(name: string, local: LocalResources): string | undefined {
  switch (name) {
    case 'AWS::Region':
      return local.region;
    case 'AWS::AccountId':
      return local.account;
    case 'AWS::Partition':
      return 'aws';
    case 'AWS::URLSuffix':
      return 'amazonaws.com';
    case 'AWS::StackName':
      return local.stackName;
    default:
      return undefined;
  }
}

/**
 * The local value of one template value (a literal or an intrinsic). Throws {@link UnresolvableEnvironmentError}
 * naming `what` when a part has no local value.
 */
export function resolveValue(
  value: unknown,
  what: string,
  resources: Record<string, TemplateResource>,
  local: LocalResources,
): string {
  const fail = (why: string): never => {
    throw new UnresolvableEnvironmentError(
      `local mode cannot resolve ${what}: ${why} (${JSON.stringify(value).slice(0, 200)}); give it a local value in LOCAL_RESOURCE_VALUES (local/environment.ts)`,
    );
  };
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (!value || typeof value !== 'object' || Array.isArray(value)) return fail('not a string or an intrinsic');
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length !== 1) return fail('not a single intrinsic');
  const [fn, arg] = entries[0];
  const resource = (logicalId: unknown): [string, TemplateResource, ResourceValues] => {
    const r = typeof logicalId === 'string' ? resources[logicalId] : undefined;
    if (!r) return fail(`no resource ${String(logicalId)} in the template`);
    const values = LOCAL_RESOURCE_VALUES[r.Type];
    if (!values) return fail(`no local value for a ${r.Type}`);
    return [logicalId as string, r, values];
  };
  switch (fn) {
    case 'Ref': {
      const pseudo = typeof arg === 'string' ? pseudoParameter(arg, local) : undefined;
      if (pseudo !== undefined) return pseudo;
      const [id, r, values] = resource(arg);
      return values.ref ? values.ref(local, id, r) : fail(`no local value for Ref of a ${r.Type}`);
    }
    case 'Fn::GetAtt': {
      const [logicalId, attribute] = (typeof arg === 'string' ? arg.split('.') : arg) as [unknown, unknown];
      const [id, r, values] = resource(logicalId);
      const get = typeof attribute === 'string' ? values.attributes?.[attribute] : undefined;
      return get ? get(local, id, r) : fail(`no local value for ${String(attribute)} of a ${r.Type}`);
    }
    case 'Fn::Join': {
      const [delimiter, parts] = arg as [unknown, unknown];
      if (typeof delimiter !== 'string' || !Array.isArray(parts)) return fail('malformed Fn::Join');
      return parts.map((part) => resolveValue(part, what, resources, local)).join(delimiter);
    }
    default:
      return fail(`${fn} is not evaluated locally`);
  }
}

/** Every variable of the function, resolved; `overrides` replace variables the function has (local knobs). */
export function resolveFunctionEnvironment(
  fn: LocalFunctionSpec,
  resources: Record<string, TemplateResource>,
  local: LocalResources,
  overrides: Record<string, string | undefined> = {},
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(fn.environment)) {
    env[name] =
      overrides[name] ?? resolveValue(value, `environment variable ${name} of function ${fn.name}`, resources, local);
  }
  // Set by the Lambda runtime, not by the template.
  env.AWS_REGION = local.region;
  return env;
}

const scope = new AsyncLocalStorage<Record<string, string>>();
let scoped: { original: NodeJS.ProcessEnv; users: number } | undefined;

/**
 * Makes `process.env` show, inside {@link withEnvironment}, that environment over the process's own, as each
 * Lambda function sees only its own environment (handlers run concurrently in one process). Returns the undo.
 */
export function installScopedEnvironment(): () => void {
  if (!scoped) {
    const original = process.env;
    const own = (key: string | symbol): Record<string, string> | undefined => {
      const env = scope.getStore();
      return env && typeof key === 'string' && Object.prototype.hasOwnProperty.call(env, key) ? env : undefined;
    };
    process.env = new Proxy(original, {
      get: (target, key) => own(key)?.[key as string] ?? Reflect.get(target, key),
      has: (target, key) => own(key) !== undefined || Reflect.has(target, key),
      set: (target, key, value) => {
        const env = own(key);
        if (env) env[key as string] = String(value);
        else Reflect.set(target, key, value);
        return true;
      },
      deleteProperty: (target, key) => {
        const env = own(key);
        if (env) delete env[key as string];
        else Reflect.deleteProperty(target, key);
        return true;
      },
      ownKeys: (target) => [...new Set([...Reflect.ownKeys(target), ...Object.keys(scope.getStore() ?? {})])],
      getOwnPropertyDescriptor: (target, key) => {
        const env = own(key);
        return env
          ? { value: env[key as string], writable: true, enumerable: true, configurable: true }
          : Reflect.getOwnPropertyDescriptor(target, key);
      },
    });
    scoped = { original, users: 0 };
  }
  scoped.users += 1;
  let undone = false;
  return () => {
    if (undone || !scoped) return;
    undone = true;
    scoped.users -= 1;
    if (scoped.users === 0) {
      process.env = scoped.original;
      scoped = undefined;
    }
  };
}

/** Runs `fn` (and everything it starts) with `env` as its environment (see {@link installScopedEnvironment}). */
export function withEnvironment<T>(env: Record<string, string>, fn: () => T): T {
  return scope.run(env, fn);
}
