import {
  AddTagsToResourceCommand,
  CreateAssociationCommand,
  ListTagsForResourceCommand,
  SSMClient,
  UpdateAssociationCommand,
} from '@aws-sdk/client-ssm';
import { startAwsEmulator, type AwsEmulator } from '../../local/aws-emulator';
import type { SsmCommandDocument } from '../../ssm-documents/load';

/**
 * The emulator keeps association tags as SSM does: given on CreateAssociation, added by AddTagsToResource,
 * kept by UpdateAssociation (which has no Tags member), listed by ListTagsForResource.
 */

const NO_FAULTS = { throttle: {}, notExportable: [], pending: [], nodes: {} };
const NOOP_DOC: SsmCommandDocument = {
  schemaVersion: '2.2',
  parameters: {},
  mainSteps: [{ action: 'aws:runShellScript', name: 'Noop', inputs: { runCommand: ['true'] } }],
};
const STACK_TAG = { Key: 'acm-export:stack', Value: 'AcmExport' };

let aws: AwsEmulator;
let ssm: SSMClient;

beforeAll(async () => {
  aws = await startAwsEmulator({ faults: NO_FAULTS, documents: { Noop: NOOP_DOC } });
  ssm = new SSMClient({ ...aws.clientConfig(), maxAttempts: 1 });
});
afterAll(async () => {
  ssm.destroy();
  await aws.close();
});

const fields = (name: string) => ({
  Name: 'Noop',
  AssociationName: name,
  Targets: [{ Key: 'tag:Role', Values: ['none'] }],
  ScheduleExpression: 'rate(1 day)',
});
const tagsOf = async (id: string) =>
  (await ssm.send(new ListTagsForResourceCommand({ ResourceType: 'Association', ResourceId: id }))).TagList;

test('tags given on CreateAssociation are listed and survive UpdateAssociation', async () => {
  const created = await ssm.send(new CreateAssociationCommand({ ...fields('tagged-one'), Tags: [STACK_TAG] }));
  const id = created.AssociationDescription!.AssociationId!;
  expect(await tagsOf(id)).toEqual([STACK_TAG]);
  await ssm.send(new UpdateAssociationCommand({ AssociationId: id, ...fields('tagged-one') }));
  expect(await tagsOf(id)).toEqual([STACK_TAG]);
});

test('AddTagsToResource tags an untagged association and overwrites a value', async () => {
  const created = await ssm.send(new CreateAssociationCommand(fields('untagged-one')));
  const id = created.AssociationDescription!.AssociationId!;
  expect(await tagsOf(id)).toEqual([]);
  await ssm.send(
    new AddTagsToResourceCommand({
      ResourceType: 'Association',
      ResourceId: id,
      Tags: [{ ...STACK_TAG, Value: 'Other' }],
    }),
  );
  await ssm.send(new AddTagsToResourceCommand({ ResourceType: 'Association', ResourceId: id, Tags: [STACK_TAG] }));
  expect(await tagsOf(id)).toEqual([STACK_TAG]);
});

test('AddTagsToResource rejects an unknown association, another resource type and an invalid tag key', async () => {
  await expect(
    ssm.send(
      new AddTagsToResourceCommand({
        ResourceType: 'Association',
        ResourceId: '00000000-0000-4000-8000-000000000000',
        Tags: [STACK_TAG],
      }),
    ),
  ).rejects.toMatchObject({ name: 'InvalidResourceId' });
  await expect(
    ssm.send(new AddTagsToResourceCommand({ ResourceType: 'Document', ResourceId: 'Noop', Tags: [STACK_TAG] })),
  ).rejects.toMatchObject({ name: 'InvalidResourceType' });
  const created = await ssm.send(new CreateAssociationCommand(fields('bad-tag')));
  await expect(
    ssm.send(
      new AddTagsToResourceCommand({
        ResourceType: 'Association',
        ResourceId: created.AssociationDescription!.AssociationId!,
        Tags: [{ Key: 'a;b', Value: 'x' }],
      }),
    ),
  ).rejects.toMatchObject({ name: 'ValidationException' });
});
