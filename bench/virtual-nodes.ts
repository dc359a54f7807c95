/**
 * Lightweight virtual managed nodes for the local SSM emulator: they run no script, they just report
 * success, either at once or at a given time. Registered through the emulator's programmatic API.
 */
import type { AwsEmulator, NodeExecutor, StepRequest, StepResult } from '../local/aws-emulator';
import type { SsmCommandDocument } from '../ssm-documents/load';

/** A one-step document for virtual fleets (its script is never run). */
export const VIRTUAL_DOCUMENT_NAME = 'Bench-VirtualInstall';
export const VIRTUAL_DOCUMENT: SsmCommandDocument = {
  schemaVersion: '2.2',
  description: 'Benchmark: virtual install (the virtual node does not run the script)',
  parameters: {},
  mainSteps: [{ action: 'aws:runShellScript', name: 'Install', inputs: { runCommand: ['true'] } }],
};

export class VirtualNode implements NodeExecutor {
  steps = 0;
  finishedAt: number | undefined;

  /**
   * `finishAt(request)` returns the epoch ms at which the step completes (now or earlier: at once); with a
   * `gate`, the step also waits for the gate to open.
   */
  constructor(
    private readonly finishAt: (request: StepRequest) => number = () => 0,
    private readonly gate?: Promise<void> | ((request: StepRequest) => Promise<void>),
  ) {}

  isOnline(): boolean {
    return true;
  }

  async runStep(request: StepRequest): Promise<StepResult> {
    this.steps++;
    const delay = this.finishAt(request) - Date.now();
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    if (this.gate) await (typeof this.gate === 'function' ? this.gate(request) : this.gate);
    this.finishedAt = Date.now();
    return { exitCode: 0, stdout: 'virtual install done', stderr: '', timedOut: false };
  }
}

/** Registers `count` virtual nodes tagged `tags`; returns their executors. */
export function addVirtualNodes(
  aws: AwsEmulator,
  count: number,
  tags: Record<string, string>,
  finishAt?: (request: StepRequest, index: number) => number,
  gate?: Promise<void> | ((request: StepRequest, index: number) => Promise<void>),
): VirtualNode[] {
  const nodes: VirtualNode[] = [];
  for (let i = 0; i < count; i++) {
    const nodeGate = typeof gate === 'function' ? (request: StepRequest) => gate(request, i) : gate;
    const node = new VirtualNode(finishAt ? (request) => finishAt(request, i) : undefined, nodeGate);
    aws.ssm.registerNode({ name: `virtual-${i}`, tags, executor: node });
    nodes.push(node);
  }
  return nodes;
}

export function removeAllNodes(aws: AwsEmulator): void {
  for (const id of [...aws.ssm.nodes.keys()]) aws.ssm.deregisterNode(id);
}
