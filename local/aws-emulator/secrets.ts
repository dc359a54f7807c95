/** Emulated Secrets Manager: secrets with versions and staging labels (AWSCURRENT / AWSPREVIOUS). */
import { randomBytes, randomUUID } from 'node:crypto';
import { AwsServiceError } from './errors';
import { epochSeconds, Input, paginate, type JsonObject } from './input';
import type { CallContext, EmulatedService } from './server';

interface SecretVersion {
  versionId: string;
  secretString?: string;
  secretBinary?: string;
  createdDate: string;
  stages: string[];
}

export interface StoredSecret {
  arn: string;
  name: string;
  description?: string;
  kmsKeyId?: string;
  tags: { Key: string; Value: string }[];
  versions: SecretVersion[];
  createdDate: string;
  lastChangedDate: string;
  lastAccessedDate?: string;
  /** Set by DeleteSecret: when the deletion was requested, and when the secret is gone for good. */
  deletedDate?: string;
  deletionDate?: string;
}

const NAME = /^[A-Za-z0-9/_+=.@-]{1,512}$/;
const TOKEN = { min: 32, max: 64 };
const SUFFIX_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function suffix(): string {
  return [...randomBytes(6)].map((b) => SUFFIX_CHARS[b % SUFFIX_CHARS.length]).join('');
}

const notFound = (what = "Secrets Manager can't find the specified secret."): AwsServiceError =>
  new AwsServiceError('ResourceNotFoundException', what);
const invalidParameter = (message: string): AwsServiceError =>
  new AwsServiceError('InvalidParameterException', message);
const markedForDeletion = (): AwsServiceError =>
  new AwsServiceError(
    'InvalidRequestException',
    "You can't perform this operation on the secret because it was marked for deletion.",
  );
/** DeleteSecret's RecoveryWindowInDays: AWS documents 7 to 30 days (the model itself has no bounds). */
const RECOVERY_WINDOW = { min: 7, max: 30, default: 30 };
const DAY_MS = 24 * 60 * 60 * 1000;

export interface SecretsOptions {
  region: string;
  accountId: string;
  onChange?: () => void;
  /**
   * Called for each secret value Secrets Manager decrypts for a caller: every GetSecretValue that returns a
   * value is one `kms:Decrypt` with the caller's permissions (with the secret's KMS key, or the account's
   * `aws/secretsmanager` key). DescribeSecret and ListSecretVersionIds decrypt nothing.
   */
  onDecrypt?: (caller: string | undefined, keyId: string) => void;
}

export class SecretsManagerService {
  readonly secrets = new Map<string, StoredSecret>();

  constructor(private readonly options: SecretsOptions) {}

  service(): EmulatedService {
    return {
      targetPrefix: 'secretsmanager',
      signingName: 'secretsmanager',
      namespace: 'com.amazonaws.secretsmanager',
      operations: {
        CreateSecret: (i) => this.createSecret(new Input(i, 'InvalidParameterException')),
        PutSecretValue: (i) => this.putSecretValue(new Input(i, 'InvalidParameterException')),
        GetSecretValue: (i, context) => this.getSecretValue(new Input(i, 'InvalidParameterException'), context),
        DescribeSecret: (i) => this.describeSecret(new Input(i, 'InvalidParameterException')),
        TagResource: (i) => this.tagResource(new Input(i, 'InvalidParameterException')),
        UntagResource: (i) => this.untagResource(new Input(i, 'InvalidParameterException')),
        ListSecrets: (i) => this.listSecrets(new Input(i, 'InvalidParameterException')),
        ListSecretVersionIds: (i) => this.listSecretVersionIds(new Input(i, 'InvalidParameterException')),
        DeleteSecret: (i) => this.deleteSecret(new Input(i, 'InvalidParameterException')),
        RestoreSecret: (i) => this.restoreSecret(new Input(i, 'InvalidParameterException')),
      },
    };
  }

  /** Finds a secret by name, full ARN or partial ARN (without the random suffix). */
  find(secretId: string): StoredSecret {
    this.purgeDeleted();
    for (const s of this.secrets.values()) {
      if (s.name === secretId || s.arn === secretId || s.arn.slice(0, -7) === secretId) return s;
    }
    throw notFound();
  }

  /** A secret whose recovery window has passed is gone for good. */
  private purgeDeleted(): void {
    const now = Date.now();
    for (const [arn, s] of this.secrets)
      if (s.deletionDate && Date.parse(s.deletionDate) <= now) this.secrets.delete(arn);
  }

  /** Finds a secret that is not scheduled for deletion (value reads and writes refuse the others). */
  private findActive(secretId: string): StoredSecret {
    const secret = this.find(secretId);
    if (secret.deletedDate) throw markedForDeletion();
    return secret;
  }

  private deleteSecret(input: Input): JsonObject {
    const secret = this.find(input.string('SecretId', { min: 1, max: 2048 }));
    const window = input.optNumber('RecoveryWindowInDays');
    const force = input.optBoolean('ForceDeleteWithoutRecovery') ?? false;
    if (window !== undefined && force)
      throw invalidParameter("You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.");
    if (
      window !== undefined &&
      (!Number.isInteger(window) || window < RECOVERY_WINDOW.min || window > RECOVERY_WINDOW.max)
    )
      throw invalidParameter(
        `The RecoveryWindowInDays value must be between ${RECOVERY_WINDOW.min} and ${RECOVERY_WINDOW.max} days (inclusive).`,
      );
    if (secret.deletedDate) throw markedForDeletion();
    const now = new Date();
    if (force) {
      this.secrets.delete(secret.arn);
      this.changed();
      return { ARN: secret.arn, Name: secret.name, DeletionDate: epochSeconds(now) };
    }
    secret.deletedDate = now.toISOString();
    secret.deletionDate = new Date(now.getTime() + (window ?? RECOVERY_WINDOW.default) * DAY_MS).toISOString();
    this.changed();
    return { ARN: secret.arn, Name: secret.name, DeletionDate: epochSeconds(new Date(secret.deletionDate)) };
  }

  private restoreSecret(input: Input): JsonObject {
    const secret = this.find(input.string('SecretId', { min: 1, max: 2048 }));
    delete secret.deletedDate;
    delete secret.deletionDate;
    this.changed();
    return { ARN: secret.arn, Name: secret.name };
  }

  private changed(): void {
    this.options.onChange?.();
  }

  private readValue(input: Input): { secretString?: string; secretBinary?: string } | undefined {
    const secretString = input.optString('SecretString', { max: 65536 });
    const secretBinary = input.optString('SecretBinary');
    if (secretString !== undefined && secretBinary !== undefined)
      throw invalidParameter('You must provide either SecretString or SecretBinary, not both.');
    if (secretString !== undefined) return { secretString };
    if (secretBinary !== undefined) return { secretBinary };
    return undefined;
  }

  private addVersion(
    secret: StoredSecret,
    versionId: string,
    value: { secretString?: string; secretBinary?: string },
    stages: string[],
  ): SecretVersion {
    const now = new Date().toISOString();
    for (const stage of stages) {
      for (const v of secret.versions) {
        if (!v.stages.includes(stage)) continue;
        v.stages = v.stages.filter((s) => s !== stage);
        if (stage === 'AWSCURRENT') {
          for (const w of secret.versions) w.stages = w.stages.filter((s) => s !== 'AWSPREVIOUS');
          v.stages.push('AWSPREVIOUS');
        }
      }
    }
    const version: SecretVersion = { versionId, ...value, createdDate: now, stages: [...stages] };
    secret.versions.push(version);
    secret.lastChangedDate = now;
    return version;
  }

  private sameValue(v: SecretVersion, value: { secretString?: string; secretBinary?: string }): boolean {
    return v.secretString === value.secretString && v.secretBinary === value.secretBinary;
  }

  private createSecret(input: Input): JsonObject {
    const name = input.string('Name', { min: 1, max: 512 });
    if (!NAME.test(name))
      throw invalidParameter(
        'Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!',
      );
    const token = input.optString('ClientRequestToken', TOKEN) ?? randomUUID();
    const value = this.readValue(input);
    this.purgeDeleted();
    const existing = [...this.secrets.values()].find((s) => s.name === name);
    if (existing?.deletedDate)
      throw new AwsServiceError(
        'InvalidRequestException',
        `You can't create this secret because a secret with this name is already scheduled for deletion.`,
      );
    if (existing) {
      const v = existing.versions.find((x) => x.versionId === token);
      if (v && value && this.sameValue(v, value))
        return { ARN: existing.arn, Name: existing.name, VersionId: v.versionId };
      throw new AwsServiceError(
        'ResourceExistsException',
        `The operation failed because the secret ${name} already exists.`,
      );
    }
    const now = new Date().toISOString();
    const description = input.optString('Description', { max: 2048 });
    const kmsKeyId = input.optString('KmsKeyId', { max: 2048 });
    const secret: StoredSecret = {
      arn: `arn:aws:secretsmanager:${this.options.region}:${this.options.accountId}:secret:${name}-${suffix()}`,
      name,
      ...(description !== undefined ? { description } : {}),
      ...(kmsKeyId !== undefined ? { kmsKeyId } : {}),
      tags: this.readTags(input),
      versions: [],
      createdDate: now,
      lastChangedDate: now,
    };
    this.secrets.set(secret.arn, secret);
    if (value) this.addVersion(secret, token, value, ['AWSCURRENT']);
    this.changed();
    return { ARN: secret.arn, Name: secret.name, ...(value ? { VersionId: token } : {}) };
  }

  private readTags(input: Input): { Key: string; Value: string }[] {
    return (input.optList('Tags') ?? []).map((t) => {
      if (typeof t.Key !== 'string' || t.Key.length < 1 || t.Key.length > 128)
        throw invalidParameter('Tag keys must be 1-128 characters.');
      if (t.Value !== undefined && (typeof t.Value !== 'string' || t.Value.length > 256))
        throw invalidParameter('Tag values must be 0-256 characters.');
      return { Key: t.Key, Value: typeof t.Value === 'string' ? t.Value : '' };
    });
  }

  private putSecretValue(input: Input): JsonObject {
    const secret = this.findActive(input.string('SecretId', { min: 1, max: 2048 }));
    const token = input.optString('ClientRequestToken', TOKEN) ?? randomUUID();
    const value = this.readValue(input);
    if (!value) throw invalidParameter('You must provide either SecretString or SecretBinary.');
    const stages = input.optStringList('VersionStages') ?? ['AWSCURRENT'];
    const existing = secret.versions.find((v) => v.versionId === token);
    if (existing) {
      if (!this.sameValue(existing, value))
        throw new AwsServiceError(
          'ResourceExistsException',
          "You can't modify an existing version, you can only create a new version.",
        );
      return { ARN: secret.arn, Name: secret.name, VersionId: existing.versionId, VersionStages: existing.stages };
    }
    const version = this.addVersion(secret, token, value, stages);
    this.changed();
    return { ARN: secret.arn, Name: secret.name, VersionId: version.versionId, VersionStages: version.stages };
  }

  private getSecretValue(input: Input, context: CallContext): JsonObject {
    const secret = this.findActive(input.string('SecretId', { min: 1, max: 2048 }));
    const versionId = input.optString('VersionId', TOKEN);
    const stage = input.optString('VersionStage', { min: 1, max: 256 });
    let version: SecretVersion | undefined;
    if (versionId !== undefined) {
      version = secret.versions.find((v) => v.versionId === versionId);
      if (!version) throw notFound(`Secrets Manager can't find the specified secret value for VersionId: ${versionId}`);
      if (stage !== undefined && !version.stages.includes(stage))
        throw new AwsServiceError(
          'InvalidRequestException',
          'You provided a VersionStage that is not associated to the provided VersionId.',
        );
    } else {
      const wanted = stage ?? 'AWSCURRENT';
      version = secret.versions.find((v) => v.stages.includes(wanted));
      if (!version)
        throw notFound(`Secrets Manager can't find the specified secret value for staging label: ${wanted}`);
    }
    secret.lastAccessedDate = new Date(new Date().toISOString().slice(0, 10)).toISOString();
    this.options.onDecrypt?.(context.caller, secret.kmsKeyId ?? 'alias/aws/secretsmanager');
    return {
      ARN: secret.arn,
      Name: secret.name,
      VersionId: version.versionId,
      ...(version.secretString !== undefined ? { SecretString: version.secretString } : {}),
      ...(version.secretBinary !== undefined ? { SecretBinary: version.secretBinary } : {}),
      VersionStages: version.stages,
      CreatedDate: epochSeconds(new Date(version.createdDate)),
    };
  }

  private describe(secret: StoredSecret): JsonObject {
    return {
      ARN: secret.arn,
      Name: secret.name,
      ...(secret.description !== undefined ? { Description: secret.description } : {}),
      ...(secret.kmsKeyId !== undefined ? { KmsKeyId: secret.kmsKeyId } : {}),
      Tags: secret.tags,
      VersionIdsToStages: Object.fromEntries(
        secret.versions.filter((v) => v.stages.length > 0).map((v) => [v.versionId, v.stages]),
      ),
      CreatedDate: epochSeconds(new Date(secret.createdDate)),
      LastChangedDate: epochSeconds(new Date(secret.lastChangedDate)),
      ...(secret.lastAccessedDate ? { LastAccessedDate: epochSeconds(new Date(secret.lastAccessedDate)) } : {}),
      ...(secret.deletedDate ? { DeletedDate: epochSeconds(new Date(secret.deletedDate)) } : {}),
    };
  }

  private describeSecret(input: Input): JsonObject {
    return this.describe(this.find(input.string('SecretId', { min: 1, max: 2048 })));
  }

  private tagResource(input: Input): JsonObject {
    const secret = this.findActive(input.string('SecretId'));
    for (const tag of this.readTags(input)) {
      secret.tags = secret.tags.filter((t) => t.Key !== tag.Key);
      secret.tags.push(tag);
    }
    this.changed();
    return {};
  }

  private untagResource(input: Input): JsonObject {
    const secret = this.find(input.string('SecretId'));
    const keys = input.optStringList('TagKeys') ?? [];
    secret.tags = secret.tags.filter((t) => !keys.includes(t.Key));
    this.changed();
    return {};
  }

  private listSecrets(input: Input): JsonObject {
    const filters = input.optList('Filters') ?? [];
    const matches = (s: StoredSecret): boolean =>
      filters.every((f) => {
        const values = Array.isArray(f.Values) ? (f.Values as string[]) : [];
        switch (f.Key) {
          case 'name':
            return values.some((v) => s.name.startsWith(v));
          case 'tag-key':
            return values.some((v) => s.tags.some((t) => t.Key.startsWith(v)));
          case 'tag-value':
            return values.some((v) => s.tags.some((t) => t.Value.startsWith(v)));
          case 'description':
            return values.some((v) => (s.description ?? '').startsWith(v));
          case 'all':
            return values.some(
              (v) => s.name.startsWith(v) || s.tags.some((t) => t.Key.startsWith(v) || t.Value.startsWith(v)),
            );
          default:
            throw invalidParameter(`Invalid filter key: ${String(f.Key).slice(0, 40)}`);
        }
      });
    const includePlanned = input.optBoolean('IncludePlannedDeletion') ?? false;
    this.purgeDeleted();
    const all = [...this.secrets.values()].filter((s) => (includePlanned || !s.deletedDate) && matches(s));
    const { page, nextToken } = paginate(all, input.optNumber('MaxResults'), input.optString('NextToken'), 100);
    return {
      SecretList: page.map((s) => {
        const d = this.describe(s);
        return { ...d, SecretVersionsToStages: d.VersionIdsToStages, VersionIdsToStages: undefined };
      }),
      ...(nextToken ? { NextToken: nextToken } : {}),
    };
  }

  private listSecretVersionIds(input: Input): JsonObject {
    const secret = this.find(input.string('SecretId'));
    const includeDeprecated = input.optBoolean('IncludeDeprecated') ?? false;
    const versions = secret.versions.filter((v) => includeDeprecated || v.stages.length > 0);
    const { page, nextToken } = paginate(versions, input.optNumber('MaxResults'), input.optString('NextToken'), 100);
    return {
      ARN: secret.arn,
      Name: secret.name,
      Versions: page.map((v) => ({
        VersionId: v.versionId,
        VersionStages: v.stages,
        CreatedDate: epochSeconds(new Date(v.createdDate)),
      })),
      ...(nextToken ? { NextToken: nextToken } : {}),
    };
  }

  snapshot(): unknown {
    return [...this.secrets.values()];
  }

  restore(data: unknown): void {
    if (!Array.isArray(data)) return;
    for (const s of data as StoredSecret[]) this.secrets.set(s.arn, s);
  }
}
