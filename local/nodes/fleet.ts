/** How local mode starts its nodes: the tools they need, their common settings, and starting them side by side. */
import { spawnSync } from 'node:child_process';
import type { AwsEmulator } from '../aws-emulator';
import { LocalModeError } from '../errors';
import type { LocalModeOptions } from '../options';
import type { Undo } from '../undo';
import { resolveServerKind, startLocalNode, type LocalNode, type NodeServerKind } from './index';

/** File stem the nodes' HTTPS servers serve unless told otherwise. */
export const DEFAULT_CERT_NAME = 'site';

/** How every local node starts (the first ones and those of addNode). */
export interface NodeSettings {
  tags: Record<string, string>;
  certName: string;
  serverKind: NodeServerKind | 'auto';
  env: Record<string, string>;
}

/** Fails with one clear line when a tool the nodes need is missing (nginx only when it is required). */
export function checkPrerequisites(options: LocalModeOptions = {}): void {
  for (const [tool, hint] of [
    ['bash', 'install bash (e.g. "apt-get install bash")'],
    ['openssl', 'install openssl (e.g. "apt-get install openssl" or "brew install openssl")'],
  ] as const) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status !== 0) {
      throw new LocalModeError(
        `local mode needs ${tool} on PATH to run the install script on the local nodes: ${hint}`,
      );
    }
  }
  if ((options.nodes ?? 3) > 0) resolveServerKind(nodeSettingsOf(options).serverKind);
}

export function nodeSettingsOf(options: LocalModeOptions): NodeSettings {
  return {
    tags: options.tags ?? { Role: 'web' },
    certName: options.certName ?? DEFAULT_CERT_NAME,
    serverKind: options.nginx === 'never' ? 'builtin' : 'auto',
    env: { ACM_EXPORT_VERIFY_SECONDS: '5' },
  };
}

/**
 * Starts the nodes side by side rather than with startLocalNodes (Promise.all): when one node fails, the
 * others are still starting; wait for all of them so that every node that did start is stopped again.
 */
export async function startNodes(
  aws: AwsEmulator,
  root: string,
  count: number,
  settings: NodeSettings,
  undo: Undo,
): Promise<LocalNode[]> {
  const starts = await Promise.allSettled(
    Array.from({ length: count }, (_, i) =>
      startLocalNode(aws, {
        root,
        name: `node-${i + 1}`,
        tags: settings.tags,
        certName: settings.certName,
        server: settings.serverKind,
        env: settings.env,
      }),
    ),
  );
  const nodes = starts.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  undo.push(() => Promise.allSettled(nodes.map((n) => n.stop())));
  const failedNode = starts.findIndex((r) => r.status === 'rejected');
  if (failedNode >= 0) {
    const reason = (starts[failedNode] as PromiseRejectedResult).reason as unknown;
    throw new LocalModeError(
      `local node node-${failedNode + 1} failed to start (${reason instanceof Error ? reason.message : String(reason)})`,
    );
  }
  return nodes;
}
