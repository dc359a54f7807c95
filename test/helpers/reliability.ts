/**
 * Shared pieces of the reliability suites (hostile corpus, faults matrix, leak scan) on top of the
 * end-to-end helpers: execution counts through the local Step Functions endpoint, node file snapshots,
 * a TLS + on-disk check of what a node serves, the inventory item of a target, and a leak scan that
 * extends the end-to-end one with command outputs, on-disk logs and node leftovers.
 */
import { X509Certificate } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import {
  type Command,
  GetCommandInvocationCommand,
  ListCommandInvocationsCommand,
  ListCommandsCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { InventoryItem } from '../../lambda/shared/contract';
import { INVENTORY, targetKey } from '../../lambda/shared/contract';
import type { LocalNode } from '../../local/nodes';
import type { LocalMode } from '../../local/runtime';
import { LOCAL_TABLE_NAME } from '../../local/stack-resources';
import { installedPairMatches, producedSecrets, scannedTexts } from '../e2e/support';

/** Executions of the state machine, counted through the local Step Functions JSON endpoint (all pages). */
export async function executionCount(local: LocalMode): Promise<number> {
  const sfn = new SFNClient(local.aws.clientConfig());
  try {
    let n = 0;
    let nextToken: string | undefined;
    do {
      const page = await sfn.send(
        new ListExecutionsCommand({ stateMachineArn: local.stateMachineArn, maxResults: 1000, nextToken }),
      );
      n += page.executions?.length ?? 0;
      nextToken = page.nextToken;
    } while (nextToken);
    return n;
  } finally {
    sfn.destroy();
  }
}

/** Every file under the nodes' directories: relative path → size and modification time. */
export function nodeFiles(local: LocalMode): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (dir: string): void => {
    if (!existsSync(dir)) return;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else {
        const st = statSync(full);
        files.set(path.relative(local.root, full), `${st.size}:${st.mtimeMs}`);
      }
    }
  };
  for (const node of local.nodes) walk(node.dir);
  return files;
}

/** Paths added, removed or changed between two snapshots. */
export function changedFiles(before: Map<string, string>, after: Map<string, string>): string[] {
  const changed: string[] = [];
  for (const [p, v] of after) if (before.get(p) !== v) changed.push(p);
  for (const p of before.keys()) if (!after.has(p)) changed.push(p);
  return changed;
}

export interface ServedCheck {
  node: string;
  /** Upper-case hex serial served over TLS. */
  serial: string;
  /** Chain verifies to the local root. */
  chainValid: boolean;
  /** notBefore ≤ now < notAfter. */
  inValidity: boolean;
  /** The installed key matches the installed certificate (and the full chain's leaf). */
  keyMatches: boolean;
  /** The installed certificate is the one served (a restart would serve the same). */
  diskIsServed: boolean;
  problem?: string;
}

/**
 * What a node serves: a completed TLS handshake (the server proved it holds the key of the served
 * certificate), the chain checked against the local root, the validity window, and the installed files.
 */
export async function checkServed(local: LocalMode, node: LocalNode, servername: string): Promise<ServedCheck> {
  // nginx applies a reload asynchronously (new workers take over gracefully): give the last reload of a
  // rollback a few seconds to take effect before comparing what is served with what is installed.
  let check = await checkServedOnce(local, node, servername);
  for (const deadline = Date.now() + 5000; !check.diskIsServed && Date.now() < deadline;) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    check = await checkServedOnce(local, node, servername);
  }
  return check;
}

async function checkServedOnce(local: LocalMode, node: LocalNode, servername: string): Promise<ServedCheck> {
  const base: ServedCheck = {
    node: node.name,
    serial: '',
    chainValid: false,
    inValidity: false,
    keyMatches: false,
    diskIsServed: false,
  };
  try {
    let peer = await node.servedCertificate(servername, local.aws.ca.rootPem);
    // The node may still serve another certificate than the one asked for (the previous one): verify
    // that one under its own name, so only its chain and validity count.
    if (!peer.authorized && peer.authorizationError === 'ERR_TLS_CERT_ALTNAME_INVALID' && peer.subject?.CN) {
      peer = await node.servedCertificate(String(peer.subject.CN), local.aws.ca.rootPem);
    }
    const cert = new X509Certificate(peer.raw);
    const now = Date.now();
    const pair = installedPairMatches(local, node);
    return {
      ...base,
      serial: cert.serialNumber.toUpperCase(),
      chainValid: peer.authorized,
      inValidity: Date.parse(cert.validFrom) <= now && now < Date.parse(cert.validTo),
      keyMatches: pair.matches,
      diskIsServed: pair.serial === cert.serialNumber.toUpperCase(),
      ...(peer.authorizationError ? { problem: peer.authorizationError } : {}),
    };
  } catch (error) {
    return { ...base, problem: error instanceof Error ? error.message : String(error) };
  }
}

export function isValid(check: ServedCheck): boolean {
  return check.chainValid && check.inValidity && check.keyMatches && check.diskIsServed;
}

/** Serial as the inventory and ACM show it (`aa:bb:…`) → upper-case hex without colons. */
export function normalSerial(serial: string | undefined): string {
  return (serial ?? '').replace(/:/g, '').toUpperCase();
}

export async function inventoryItem(local: LocalMode, certificateArn: string): Promise<InventoryItem | undefined> {
  const [[key, value]] = Object.entries(local.tags);
  const out = await local.ddb.send(
    new GetCommand({
      TableName: LOCAL_TABLE_NAME,
      Key: { [INVENTORY.partitionKey]: certificateArn, [INVENTORY.sortKey]: targetKey(key, value) },
      ConsistentRead: true,
    }),
  );
  return out.Item as InventoryItem | undefined;
}

// ---- leak scan ------------------------------------------------------------------------------------

export interface LeakScanResult {
  bytes: number;
  sources: number;
  needles: number;
  hits: string[];
}

/** Base64 runs in a PEM text (every block body line, any label): certificate, key and passphrase lines. */
function pemNeedles(text: string, into: Set<string>): void {
  for (const line of text.split(/\r?\n/)) {
    const t = line.trim();
    if (/^[A-Za-z0-9+/=_-]{16,}$/.test(t)) into.add(t);
  }
}

function readTree(dir: string, into: { where: string; text: string }[], root: string): void {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) readTree(full, into, root);
    else if (entry.isFile()) into.push({ where: path.relative(root, full), text: readFileSync(full, 'latin1') });
  }
}

/**
 * Key material the run produced: the e2e set (exported passphrases, encrypted and decrypted key lines,
 * certificate lines) plus every block line of every secret version written (the PFX passphrase too)
 * and the keys as installed on the nodes.
 */
export function secretsOfRun(local: LocalMode): string[] {
  const needles = new Set(producedSecrets(local));
  for (const r of local.aws.records) {
    const req = (r.request ?? {}) as Record<string, unknown>;
    if ((r.operation === 'CreateSecret' || r.operation === 'PutSecretValue') && typeof req.SecretString === 'string')
      pemNeedles(req.SecretString, needles);
  }
  for (const secret of local.aws.secrets.secrets.values())
    for (const v of secret.versions) if (v.secretString) pemNeedles(v.secretString, needles);
  for (const node of local.nodes) {
    const keyDir = node.keyDir;
    if (!existsSync(keyDir)) continue;
    for (const f of readdirSync(keyDir))
      if (f.endsWith('.key')) pemNeedles(readFileSync(path.join(keyDir, f), 'utf8'), needles);
  }
  // Keep random-looking runs only (passphrases are 43 characters, PEM lines 64): not a format marker.
  return [...needles].filter((n) => n.length >= 20 && /[A-Z]/.test(n) && /[a-z]/.test(n) && /[0-9]/.test(n));
}

/**
 * Reads every command's outputs the way an operator would (ListCommandInvocations with details and
 * GetCommandInvocation per node and step), so they are recorded and scanned too.
 */
export async function readAllCommandOutputs(local: LocalMode): Promise<{ where: string; text: string }[]> {
  const ssm = new SSMClient(local.aws.clientConfig());
  const out: { where: string; text: string }[] = [];
  try {
    const all: Command[] = [];
    let nextToken: string | undefined;
    do {
      const page = await ssm.send(new ListCommandsCommand({ MaxResults: 50, NextToken: nextToken }));
      all.push(...(page.Commands ?? []));
      nextToken = page.NextToken;
    } while (nextToken);
    for (const c of all) {
      out.push({ where: `command ${c.CommandId}`, text: JSON.stringify(c) });
      const invocations =
        (await ssm.send(new ListCommandInvocationsCommand({ CommandId: c.CommandId, Details: true })))
          .CommandInvocations ?? [];
      for (const inv of invocations) {
        out.push({ where: `invocation ${c.CommandId}/${inv.InstanceId}`, text: JSON.stringify(inv) });
        for (const plugin of inv.CommandPlugins ?? []) {
          const got = await ssm.send(
            new GetCommandInvocationCommand({
              CommandId: c.CommandId!,
              InstanceId: inv.InstanceId!,
              PluginName: plugin.Name,
            }),
          );
          out.push({
            where: `GetCommandInvocation ${c.CommandId}/${inv.InstanceId}/${plugin.Name}`,
            text: JSON.stringify(got),
          });
        }
      }
    }
  } finally {
    ssm.destroy();
  }
  return out;
}

/** Files a node must not keep: anything left in its scratch directory (the script's private temp dirs). */
export function nodeLeftovers(local: LocalMode): string[] {
  const left: { where: string; text: string }[] = [];
  for (const node of local.nodes) readTree(path.join(node.dir, 'work'), left, local.root);
  return left.map((l) => l.where);
}

/**
 * Scans execution histories, handler logs, SSM requests and responses (parameters, outputs), Step
 * Functions calls, API responses, alerts, on-disk logs of local mode and of the nodes' servers, and
 * anything left in the nodes' scratch directories, for the run's key material.
 */
export async function leakScan(local: LocalMode): Promise<LeakScanResult> {
  const outputs = await readAllCommandOutputs(local);
  const texts = [...scannedTexts(local), ...outputs];
  readTree(path.join(local.root, 'logs'), texts, local.root);
  for (const node of local.nodes) {
    const server = path.join(node.dir, 'server');
    if (existsSync(server))
      for (const f of readdirSync(server))
        if (f.endsWith('.log'))
          texts.push({
            where: path.relative(local.root, path.join(server, f)),
            text: readFileSync(path.join(server, f), 'latin1'),
          });
    readTree(path.join(node.dir, 'work'), texts, local.root);
  }
  // Error messages of every emulated call (a failing call must not carry key material either).
  for (const r of local.aws.records)
    if (r.error) texts.push({ where: `${r.service}:${r.operation} #${r.seq} error`, text: JSON.stringify(r.error) });
  const needles = secretsOfRun(local);
  if (needles.length === 0) throw new Error('no key material recorded: the scan would prove nothing');
  const hits: string[] = [];
  let bytes = 0;
  for (const { where, text } of texts) {
    bytes += Buffer.byteLength(text);
    for (const n of needles) if (text.includes(n)) hits.push(`${where} contains ${n.slice(0, 6)}…`);
  }
  return { bytes, sources: texts.length, needles: needles.length, hits };
}
