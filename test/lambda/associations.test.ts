import {
  AddTagsToResourceCommand,
  CreateAssociationCommand,
  DescribeAssociationCommand,
  ListAssociationsCommand,
  SSMClient,
  UpdateAssociationCommand,
  type AssociationDescription,
} from '@aws-sdk/client-ssm';
import 'aws-sdk-client-mock-jest';
import {
  associationDifferences,
  associationFields,
  associationName,
  upsertAssociation,
  type AssociationSpec,
} from '../../lambda/shared/associations';
import { documentParameters, type TargetProfile } from '../../lambda/shared/install-command';
import { withDefaults } from '../../lambda/shared/schemas';
import { profileFromRequest } from '../../lambda/ssm-run/ssm-run';
import { CERT_ARN, INPUT, SECRET_ARN, fakeAssociationId, mockAwsClient } from './support';

const ssm = mockAwsClient(SSMClient);
const DOCUMENT = 'Install-ACMCertificate-Test';
const deps = {
  ssm: new SSMClient({ region: 'us-east-1' }),
  documentName: DOCUMENT,
  reportDocumentName: 'Report-Doc',
  stackName: 'AcmExportTest',
};
const PROFILE: TargetProfile = profileFromRequest(withDefaults(INPUT));

function installSpec(over: Partial<AssociationSpec> = {}): AssociationSpec {
  return {
    kind: 'install',
    certificateArn: CERT_ARN,
    target: 'Role=web',
    tagKey: 'Role',
    tagValue: 'web',
    parameters: documentParameters(PROFILE, { secretArn: SECRET_ARN, stage: 'AWSCURRENT' }, 'us-east-1'),
    schedule: 'rate(12 hours)',
    maxConcurrency: '50',
    ...over,
  };
}

/**
 * SSM's associations as the mock keeps them: CreateAssociation and UpdateAssociation store what they are
 * given (Update replaces every field), DescribeAssociation returns it, ListAssociations finds it by name.
 */
let stored: Map<string, AssociationDescription>;
let nextId: number;

beforeEach(() => {
  ssm.reset();
  stored = new Map();
  nextId = 0x100;
  ssm.on(CreateAssociationCommand).callsFake(({ Tags: _tags, ...input }: Record<string, unknown>) => {
    const AssociationId = fakeAssociationId(nextId++);
    stored.set(AssociationId, { ...input, AssociationId } as AssociationDescription);
    return { AssociationDescription: { AssociationId } };
  });
  ssm.on(UpdateAssociationCommand).callsFake((input: AssociationDescription) => {
    if (!stored.has(input.AssociationId!)) throw Object.assign(new Error('gone'), { name: 'AssociationDoesNotExist' });
    stored.set(input.AssociationId!, { ...input });
    return { AssociationDescription: { AssociationId: input.AssociationId } };
  });
  ssm.on(DescribeAssociationCommand).callsFake(({ AssociationId }: { AssociationId: string }) => {
    const a = stored.get(AssociationId);
    if (!a) throw Object.assign(new Error('gone'), { name: 'AssociationDoesNotExist' });
    // SSM answers with more than it was given: status, dates, version, the ApplyOnlyAtCronInterval default.
    return {
      AssociationDescription: {
        ...a,
        AssociationVersion: '1',
        Date: new Date(),
        Status: { Date: new Date(), Name: 'Associated', Message: 'Associated with the targets' },
        Overview: { Status: 'Success' },
        ApplyOnlyAtCronInterval: false,
      },
    };
  });
  ssm.on(ListAssociationsCommand).callsFake((i: { AssociationFilterList?: { value?: string }[] }) => ({
    Associations: [...stored.values()]
      .filter((a) => a.AssociationName === i.AssociationFilterList?.[0]?.value)
      .map((a) => ({ AssociationId: a.AssociationId, AssociationName: a.AssociationName, Name: a.Name })),
  }));
  ssm.on(AddTagsToResourceCommand).resolves({});
});

/** Creates the association as a first export does, then forgets the calls. */
async function existing(spec = installSpec()): Promise<string> {
  const { associationId, action } = await upsertAssociation(spec, deps);
  expect(action).toBe('created');
  ssm.resetHistory();
  return associationId;
}

describe('upsertAssociation', () => {
  test('missing (none by that name): CreateAssociation, no update', async () => {
    const result = await upsertAssociation(installSpec(), deps);
    expect(result.action).toBe('created');
    expect(ssm).toHaveReceivedCommandTimes(CreateAssociationCommand, 1);
    expect(ssm).toHaveReceivedCommandTimes(UpdateAssociationCommand, 0);
  });

  test('a renewal (same document, parameters, targets, schedule) sends no UpdateAssociation, by stored id or by name', async () => {
    const id = await existing();
    expect(await upsertAssociation(installSpec(), deps, id)).toEqual({ associationId: id, action: 'unchanged' });
    expect(await upsertAssociation(installSpec(), deps)).toEqual({ associationId: id, action: 'unchanged' });
    expect(ssm).toHaveReceivedCommandTimes(UpdateAssociationCommand, 0);
    expect(ssm).toHaveReceivedCommandTimes(CreateAssociationCommand, 0);
    expect(ssm).toHaveReceivedCommandWith(DescribeAssociationCommand, { AssociationId: id });
    // Tagging does not re-apply an association; it keeps the stack tag on ones created before it existed.
    expect(ssm).toHaveReceivedCommandWith(AddTagsToResourceCommand, { ResourceType: 'Association', ResourceId: id });
  });

  test.each([
    ['schedule', { schedule: 'rate(1 day)' }, 'ScheduleExpression'],
    [
      'parameters',
      {
        parameters: documentParameters(
          { ...PROFILE, CertDir: '/etc/pki/tls/certs' },
          { secretArn: SECRET_ARN, stage: 'AWSCURRENT' },
          'us-east-1',
        ),
      },
      'Parameters',
    ],
    ['targets', { tagValue: 'web-blue' }, 'Targets'],
    ['concurrency', { maxConcurrency: '10%' }, 'MaxConcurrency'],
  ] as const)('changed %s: exactly one UpdateAssociation with every field', async (_what, over, field) => {
    const id = await existing();
    const spec = installSpec(over);
    expect(await upsertAssociation(spec, deps, id)).toEqual({
      associationId: id,
      action: 'updated',
      differences: [field],
    });
    expect(ssm).toHaveReceivedCommandTimes(UpdateAssociationCommand, 1);
    expect(ssm).toHaveReceivedCommandWith(UpdateAssociationCommand, {
      AssociationId: id,
      ...associationFields(spec, DOCUMENT),
    });
    expect(ssm).toHaveReceivedCommandTimes(CreateAssociationCommand, 0);
    // Once updated, the next run finds it as wanted.
    ssm.resetHistory();
    expect((await upsertAssociation(spec, deps, id)).action).toBe('unchanged');
    expect(ssm).toHaveReceivedCommandTimes(UpdateAssociationCommand, 0);
  });

  test('reapply: an association already as wanted is updated anyway (SSM runs it again, also on nodes that return later)', async () => {
    const id = await existing();
    expect(await upsertAssociation(installSpec(), deps, id, { reapply: true })).toEqual({
      associationId: id,
      action: 'reapplied',
    });
    expect(ssm).toHaveReceivedCommandTimes(UpdateAssociationCommand, 1);
    expect(ssm).toHaveReceivedCommandWith(UpdateAssociationCommand, {
      AssociationId: id,
      ...associationFields(installSpec(), DOCUMENT),
    });
  });

  test('a stored id whose association was deleted: created again, not updated', async () => {
    const id = await existing();
    stored.delete(id);
    const result = await upsertAssociation(installSpec(), deps, id);
    expect(result.action).toBe('created');
    expect(result.associationId).not.toBe(id);
    expect(ssm).toHaveReceivedCommandTimes(UpdateAssociationCommand, 0);
  });

  test('an association that cannot be described is updated (always correct), saying why', async () => {
    const id = await existing();
    ssm.on(DescribeAssociationCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));
    expect(await upsertAssociation(installSpec(), deps, id)).toEqual({
      associationId: id,
      action: 'updated',
      differences: ['not compared (AccessDeniedException)'],
    });
    expect(ssm).toHaveReceivedCommandTimes(UpdateAssociationCommand, 1);
  });

  test('a throttled DescribeAssociation retries the task (Throttled), sending nothing else', async () => {
    const id = await existing();
    ssm.on(DescribeAssociationCommand).rejects(Object.assign(new Error('slow down'), { name: 'ThrottlingException' }));
    await expect(upsertAssociation(installSpec(), deps, id)).rejects.toMatchObject({ name: 'Throttled' });
    expect(ssm).toHaveReceivedCommandTimes(UpdateAssociationCommand, 0);
    expect(ssm).toHaveReceivedCommandTimes(CreateAssociationCommand, 0);
  });
});

describe('associationDifferences', () => {
  const wanted = associationFields(installSpec(), DOCUMENT);
  const same: AssociationDescription = { ...wanted, AssociationId: fakeAssociationId(1) };

  test('none for the association as created, whatever the order of parameters and target values', () => {
    const reordered = Object.fromEntries(Object.entries(wanted.Parameters).reverse());
    expect(associationDifferences({ ...same, Parameters: reordered }, wanted)).toEqual([]);
    const twoValues = { ...wanted, Targets: [{ Key: 'tag:Role', Values: ['web', 'api'] }] };
    expect(
      associationDifferences({ ...same, Targets: [{ Key: 'tag:Role', Values: ['api', 'web'] }] }, twoValues),
    ).toEqual([]);
  });

  test('a parameter added or removed by hand, another document, or settings this stack never makes are differences', () => {
    expect(associationDifferences({ ...same, Parameters: { ...wanted.Parameters, Extra: ['x'] } }, wanted)).toEqual([
      'Parameters',
    ]);
    const { SecretVersionStage: _stage, ...withoutStage } = wanted.Parameters;
    expect(associationDifferences({ ...same, Parameters: withoutStage }, wanted)).toEqual(['Parameters']);
    expect(associationDifferences({ ...same, Name: 'Other-Document' }, wanted)).toEqual(['Name']);
    expect(
      associationDifferences({ ...same, ApplyOnlyAtCronInterval: true, CalendarNames: ['change-freeze'] }, wanted),
    ).toEqual(['ApplyOnlyAtCronInterval', 'CalendarNames']);
    expect(associationDifferences({ ...same, CalendarNames: [] }, wanted)).toEqual([]);
  });

  test('a field missing from the answer counts as different (errs towards updating)', () => {
    const { ComplianceSeverity: _severity, ...partial } = same;
    expect(associationDifferences(partial, wanted)).toEqual(['ComplianceSeverity']);
  });

  test('the wanted association names AWSCURRENT, not a version: a renewal changes no parameter', () => {
    expect(wanted.Parameters.SecretVersionStage).toEqual(['AWSCURRENT']);
    expect(wanted.Parameters).not.toHaveProperty('SecretVersionId');
    expect(associationName(CERT_ARN, 'Role=web')).toBe(wanted.AssociationName);
  });
});
