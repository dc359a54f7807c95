import { ACMClient, DescribeCertificateCommand } from '@aws-sdk/client-acm';
import { DescribeInstanceInformationCommand, SSMClient } from '@aws-sdk/client-ssm';
import 'aws-sdk-client-mock-jest';
import { createHandler } from '../../lambda/find-nodes/handler';
import { INPUT, executionArn, mockAwsClient } from './support';

const ssm = mockAwsClient(SSMClient);
const acm = mockAwsClient(ACMClient);
const handler = createHandler({ region: 'us-east-1' });
beforeEach(() => {
  ssm.reset();
  acm.reset();
  acm.on(DescribeCertificateCommand).resolves({ Certificate: { Status: 'ISSUED', Options: { Export: 'ENABLED' } } });
});
const payload = (over: object = {}) => ({ input: { ...INPUT, ...over }, executionArn: executionArn('exec-1') });

describe('find-nodes', () => {
  test('DryRun lists the nodes found across pages (the workflow then ends, nothing exported)', async () => {
    ssm
      .on(DescribeInstanceInformationCommand)
      .resolvesOnce({ InstanceInformationList: [{ InstanceId: 'i-00000000000000001' }], NextToken: 'p2' })
      .resolvesOnce({ InstanceInformationList: [{ InstanceId: 'mi-00000000000000003' }] });
    await expect(handler(payload({ DryRun: true }))).resolves.toEqual({
      outcome: 'DryRun',
      targetCount: 2,
      nodeIds: ['i-00000000000000001', 'mi-00000000000000003'],
    });
    expect(ssm).toHaveReceivedCommandWith(DescribeInstanceInformationCommand, {
      Filters: [{ Key: 'tag:Role', Values: ['web'] }],
    });
  });

  test('with nodes and no DryRun the export goes ahead', async () => {
    ssm.on(DescribeInstanceInformationCommand).resolves({ InstanceInformationList: [{ InstanceId: 'i-0a' }] });
    await expect(handler(payload())).resolves.toEqual({ outcome: 'Export', targetCount: 1 });
  });

  test('no node with the tag is NoMatchingNodes, saying nothing was exported', async () => {
    ssm.on(DescribeInstanceInformationCommand).resolves({ InstanceInformationList: [] });
    await expect(handler(payload({ DryRun: true }))).rejects.toMatchObject({
      name: 'NoMatchingNodes',
      message: 'no managed node carries Role=web: nothing was exported',
    });
  });

  test('a DryRun of a certificate that cannot be exported fails as the export would, without looking for nodes', async () => {
    acm.on(DescribeCertificateCommand).resolves({ Certificate: { Status: 'ISSUED', Options: { Export: 'DISABLED' } } });
    await expect(handler(payload({ DryRun: true }))).rejects.toMatchObject({ name: 'CertificateNotExportable' });
    expect(ssm).not.toHaveReceivedCommand(DescribeInstanceInformationCommand);
  });

  test('throttling becomes Throttled (the workflow retries it)', async () => {
    ssm
      .on(DescribeInstanceInformationCommand)
      .rejects(Object.assign(new Error('slow'), { name: 'ThrottlingException' }));
    await expect(handler(payload())).rejects.toMatchObject({ name: 'Throttled' });
  });

  test('an input of another account is refused before any call', async () => {
    const other = INPUT.CertificateArn.replace(/:\d{12}:/, ':999999999999:');
    await expect(handler(payload({ CertificateArn: other }))).rejects.toMatchObject({ name: 'CertificateOutOfScope' });
    expect(ssm).not.toHaveReceivedCommand(DescribeInstanceInformationCommand);
  });
});
