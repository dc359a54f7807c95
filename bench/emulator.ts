/** The local AWS emulator set up for the benchmark: no faults, the virtual document, an SSM client. */
import { SSMClient } from '@aws-sdk/client-ssm';
import { startAwsEmulator, type AwsEmulator } from '../local/aws-emulator';
import { VIRTUAL_DOCUMENT, VIRTUAL_DOCUMENT_NAME } from './virtual-nodes';

const NO_FAULTS = { throttle: {}, notExportable: [], pending: [], nodes: {} };

export async function startBenchEmulator(): Promise<{ aws: AwsEmulator; ssm: SSMClient; stop: () => Promise<void> }> {
  const aws = await startAwsEmulator({ faults: NO_FAULTS, documents: { [VIRTUAL_DOCUMENT_NAME]: VIRTUAL_DOCUMENT } });
  const ssm = new SSMClient({ ...aws.clientConfig(), maxAttempts: 1 });
  return {
    aws,
    ssm,
    stop: async () => {
      ssm.destroy();
      await aws.close();
    },
  };
}
