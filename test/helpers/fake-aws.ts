/**
 * A stand-in `aws` executable for running the install script without AWS. Put `binDir` first on PATH.
 * It answers exactly three invocations and fails on anything else:
 *   aws --version                      -> "aws-cli/2.99.0 ..." (the script's preflight wants CLI v2)
 *   aws secretsmanager get-secret-value --region R --secret-id ID --version-id V \
 *       --query SecretString --output text
 *                                      -> the SecretString stored for (R, ID, V), plus a newline like
 *                                         the real CLI; unknown -> ResourceNotFoundException, exit 254
 *   aws secretsmanager get-secret-value --region R --secret-id ID --version-stage AWSCURRENT --output json
 *                                      -> the whole response as JSON (ARN, Name, VersionId, SecretString,
 *                                         VersionStages, CreatedDate) of the version last marked current
 *                                         for ID with setCurrent() (or the last one added)
 *   aws secretsmanager get-secret-value --region R --secret-id ID --version-id V --output json
 *                                      -> the same JSON for version V (CreatedDate: the version's createdDate)
 *   aws secretsmanager describe-secret --region R --secret-id ID --query VersionIdsToStages --output json
 *                                      -> {"<id>": ["AWSCURRENT"], "<other id>": ["AWSPREVIOUS"], ...} as the
 *                                         CLI prints it; AccessDeniedException (exit 254) after denyDescribe()
 *   aws secretsmanager describe-secret --region R --secret-id ID --query DeletedDate --output text
 *                                      -> the date given to deleteSecret(), else "None" for a stored secret;
 *                                         unknown -> ResourceNotFoundException (exit 254)
 *   aws s3 cp --region R --only-show-errors s3://B/K FILE
 *                                      -> copies the object put with putObject(B, K) (the node library at
 *                                         EXAMPLE_LIBRARY_LOCATION is there from the start) to FILE; unknown ->
 *                                         the CLI's 404 line, exit 1
 * Every call's arguments are recorded; read them with calls().
 */
import { createHash } from 'node:crypto';
import { appendFileSync, chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { EXAMPLE_LIBRARY_LOCATION, nodeLibrary } from '../../ssm-documents/load';

export interface SecretVersion {
  region: string;
  secretId: string;
  versionId: string;
  secretString: string;
  /** CreatedDate the fake reports for the version (ISO 8601); default 2026-01-01T00:00:00+00:00. */
  createdDate?: string;
}

export interface FakeAws {
  /** Directory holding the `aws` executable. */
  readonly binDir: string;
  /** Stores a secret version the fake will return. */
  addSecretVersion(version: SecretVersion): void;
  /** Moves AWSCURRENT of the version's secret to this version (addSecretVersion does it too). */
  setCurrent(versionId: string): void;
  /** From now on DescribeSecret is denied (a node role from before the version check); `false` allows it again. */
  denyDescribe(denied?: boolean): void;
  /** Schedules the secret for deletion: DescribeSecret reports `deletedDate` as its DeletedDate. */
  deleteSecret(region: string, secretId: string, deletedDate?: string): void;
  /** Stores an S3 object `aws s3 cp` will return (replacing any). */
  putObject(bucket: string, key: string, body: string): void;
  /** Deletes an S3 object: `aws s3 cp` of it then fails as the CLI does (404). */
  deleteObject(bucket: string, key: string): void;
  /** Arguments of every call so far, oldest first. */
  calls(): string[][];
}

const SCRIPT = `#!/usr/bin/env bash
# Test double for the AWS CLI (see test/helpers/fake-aws.ts).
set -u
store=$(cd "$(dirname "$0")/.." && pwd)/store
printf '%s\\037' "$@" >>"$store/calls"
printf '\\n' >>"$store/calls"
if [ "$#" -eq 1 ] && [ "$1" = --version ]; then
  echo "aws-cli/2.99.0 Python/3.12.0 Linux/test exe/x86_64.test-double"
  exit 0
fi
if [ "$#" -eq 12 ] && [ "$1" = secretsmanager ] && [ "$2" = get-secret-value ] && [ "$3" = --region ] &&
  [ "$5" = --secret-id ] && [ "$7" = --version-id ] && [ "$9" = --query ] && [ "\${10}" = SecretString ] &&
  [ "\${11}" = --output ] && [ "\${12}" = text ]; then
  if [[ $8 =~ ^[0-9a-f-]{36}$ ]] && [ -f "$store/$8.secret" ] &&
    [ "$(cat "$store/$8.region")" = "$4" ] && [ "$(cat "$store/$8.id")" = "$6" ]; then
    cat "$store/$8.secret"
    printf '\\n'
    exit 0
  fi
  echo "An error occurred (ResourceNotFoundException) when calling the GetSecretValue operation: Secrets Manager can't find the specified secret value for VersionId: $8" >&2
  exit 254
fi
if [ "$#" -eq 10 ] && [ "$1" = secretsmanager ] && [ "$2" = get-secret-value ] && [ "$3" = --region ] &&
  [ "$5" = --secret-id ] && { [ "$7" = --version-stage ] && [ "$8" = AWSCURRENT ] || [ "$7" = --version-id ]; } &&
  [ "$9" = --output ] && [ "\${10}" = json ]; then
  key=$(printf '%s' "$4 $6" | sha256sum | cut -c1-32)
  v=""
  if [ "$7" = --version-id ]; then
    if [[ $8 =~ ^[0-9a-f-]{36}$ ]] && [ -f "$store/$8.secret" ] && [ "$(cat "$store/$8.id")" = "$6" ]; then v=$8; fi
  elif [ -f "$store/current-$key" ]; then
    v=$(cat "$store/current-$key")
  fi
  if [ -n "$v" ]; then
    created=$(cat "$store/$v.created" 2>/dev/null || echo 2026-01-01T00:00:00+00:00)
    # SecretString JSON-escaped the way the CLI prints it (the secret is ASCII PEM text).
    s=$(awk '{ gsub(/\\/, "\\\\"); gsub(/"/, "\\\\\\""); printf "%s\\n", $0 }' "$store/$v.secret")
    printf '{\n    "ARN": "%s",\n    "Name": "test",\n    "VersionId": "%s",\n    "SecretString": "%s",\n    "VersionStages": [\n        "AWSCURRENT"\n    ],\n    "CreatedDate": "%s"\n}\n' "$6" "$v" "$s" "$created"
    exit 0
  fi
  echo "An error occurred (ResourceNotFoundException) when calling the GetSecretValue operation: Secrets Manager can't find the specified secret." >&2
  exit 254
fi
if [ "$#" -eq 10 ] && [ "$1" = secretsmanager ] && [ "$2" = describe-secret ] && [ "$3" = --region ] &&
  [ "$5" = --secret-id ] && [ "$7" = --query ] && [ "$9" = --output ] &&
  { [ "$8 \${10}" = "VersionIdsToStages json" ] || [ "$8 \${10}" = "DeletedDate text" ]; }; then
  if [ -f "$store/deny-describe" ]; then
    echo "An error occurred (AccessDeniedException) when calling the DescribeSecret operation: User is not authorized to perform: secretsmanager:DescribeSecret" >&2
    exit 254
  fi
  key=$(printf '%s' "$4 $6" | sha256sum | cut -c1-32)
  if [ "$8" = DeletedDate ]; then
    if [ -f "$store/deleted-$key" ]; then cat "$store/deleted-$key"; printf '\n'; exit 0; fi
    if [ -f "$store/current-$key" ]; then echo None; exit 0; fi
    echo "An error occurred (ResourceNotFoundException) when calling the DescribeSecret operation: Secrets Manager can't find the specified secret." >&2
    exit 254
  fi
  current=$(cat "$store/current-$key" 2>/dev/null || true)
  out=""
  # Builtins in the loop: a process per stored version would make the answer slower with every version added.
  for f in "$store"/*.id; do
    [ -f "$f" ] || continue
    id=""
    read -r id <"$f" || true
    [ "$id" = "$6" ] || continue
    v=\${f##*/}
    v=\${v%.id}
    stage=AWSPREVIOUS
    if [ "$v" = "$current" ]; then stage=AWSCURRENT; fi
    out="$out\${out:+,}
    \\"$v\\": [
        \\"$stage\\"
    ]"
  done
  if [ -z "$out" ]; then
    echo "An error occurred (ResourceNotFoundException) when calling the DescribeSecret operation: Secrets Manager can't find the specified secret." >&2
    exit 254
  fi
  printf '{%s\n}\n' "$out"
  exit 0
fi
if [ "$#" -eq 6 ] && [ "$1" = s3 ] && [ "$2" = cp ] && [ "$3" = --region ] && [ "$5" = --only-show-errors ] &&
  [[ $6 == s3://?* ]]; then
  echo "aws (test double): s3 cp needs a destination" >&2
  exit 252
fi
if [ "$#" -eq 7 ] && [ "$1" = s3 ] && [ "$2" = cp ] && [ "$3" = --region ] && [ "$5" = --only-show-errors ] &&
  [[ $6 =~ ^s3://([a-z0-9.-]+)/(.+)$ ]]; then
  object="$store/s3/$(printf '%s/%s' "\${BASH_REMATCH[1]}" "\${BASH_REMATCH[2]}" | sha256sum | cut -c1-32)"
  if [ ! -f "$object" ]; then
    echo "fatal error: An error occurred (404) when calling the HeadObject operation: Key \\"\${BASH_REMATCH[2]}\\" does not exist" >&2
    exit 1
  fi
  cp -- "$object" "$7"
  exit 0
fi
echo "aws (test double): unsupported invocation" >&2
exit 252
`;

/** Same key the script computes: first 32 hex of sha256("<region> <secret id>"). */
function currentKey(region: string, secretId: string): string {
  return createHash('sha256').update(`${region} ${secretId}`).digest('hex').slice(0, 32);
}

/** Creates the fake under `dir` (which must exist and be private to the test). */
export function createFakeAws(dir: string): FakeAws {
  const binDir = path.join(dir, 'bin');
  const store = path.join(dir, 'store');
  mkdirSync(binDir, { recursive: true });
  mkdirSync(store, { recursive: true });
  writeFileSync(path.join(binDir, 'aws'), SCRIPT);
  chmodSync(path.join(binDir, 'aws'), 0o755);
  appendFileSync(path.join(store, 'calls'), '');
  mkdirSync(path.join(store, 's3'));
  const objectFile = (bucket: string, key: string) =>
    path.join(store, 's3', createHash('sha256').update(`${bucket}/${key}`).digest('hex').slice(0, 32));
  const putObject = (bucket: string, key: string, body: string) => writeFileSync(objectFile(bucket, key), body);
  putObject(EXAMPLE_LIBRARY_LOCATION.bucket, EXAMPLE_LIBRARY_LOCATION.key, nodeLibrary().text);
  return {
    binDir,
    putObject,
    deleteObject(bucket, key) {
      rmSync(objectFile(bucket, key), { force: true });
    },
    addSecretVersion({ region, secretId, versionId, secretString, createdDate }) {
      if (createdDate) writeFileSync(path.join(store, `${versionId}.created`), createdDate);
      writeFileSync(path.join(store, `${versionId}.region`), region);
      writeFileSync(path.join(store, `${versionId}.id`), secretId);
      writeFileSync(path.join(store, `${versionId}.secret`), secretString);
      writeFileSync(path.join(store, `current-${currentKey(region, secretId)}`), versionId);
    },
    deleteSecret(region, secretId, deletedDate = '2026-01-02T00:00:00.000000+00:00') {
      writeFileSync(path.join(store, `deleted-${currentKey(region, secretId)}`), deletedDate);
    },
    denyDescribe(denied = true) {
      if (denied) writeFileSync(path.join(store, 'deny-describe'), '');
      else rmSync(path.join(store, 'deny-describe'), { force: true });
    },
    setCurrent(versionId) {
      const region = readFileSync(path.join(store, `${versionId}.region`), 'utf8');
      const secretId = readFileSync(path.join(store, `${versionId}.id`), 'utf8');
      writeFileSync(path.join(store, `current-${currentKey(region, secretId)}`), versionId);
    },
    calls() {
      const file = path.join(store, 'calls');
      if (!existsSync(file)) return [];
      return readFileSync(file, 'utf8')
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => line.split('\x1f').slice(0, -1));
    },
  };
}
