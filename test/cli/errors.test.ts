/** The one-line CLI answers to API errors: the hint must fit the conflict the API reported. */
import { ApiError, apiErrorToCli } from '../../cli/errors';
import { nameTakenMessage } from '../../lambda/export-api/cert-name-claim';

const HOLDER = 'arn:aws:acm:us-east-1:111122223333:certificate/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';

describe('409 from POST /exports', () => {
  test('a CertName held by another certificate: delete its target or choose another --name', () => {
    const line = apiErrorToCli(
      new ApiError('POST', '/exports', 409, nameTakenMessage('www', 'Role=web', HOLDER)),
    ).line();
    expect(line).toBe(
      `acm-export: POST /exports: conflict (409: CertName www on Role=web is held by ${HOLDER}; remove that target first (DELETE /certificates/{certificateArn}/targets/{target}) or choose another name). ` +
        'Delete that certificate\'s target first ("acm-export targets delete <its ARN> --tag <key=value>"; the files stay on the nodes until this export replaces them), or choose another --name.',
    );
  });

  test('an export id taken by another request keeps the wait-and-retry hint', () => {
    const line = apiErrorToCli(
      new ApiError(
        'POST',
        '/exports',
        409,
        'exportId: an export with this id already exists for a different request; send the request again',
      ),
    ).line();
    expect(line).toMatch(/Wait for the running export to finish, then try again\.$/);
  });
});
