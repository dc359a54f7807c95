import { createHash } from 'node:crypto';
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { SFNClient } from '@aws-sdk/client-sfn';
import { LocalApi } from '../../local/api';
import { ApiClient } from '../../cli/api-client';
import { generateLocalCredentials } from '../../local/credentials';
import { signRequest, verifySigV4, type IncomingSignedRequest } from '../../local/sigv4';

const HOST = '127.0.0.1:8123';
const LOCAL_CREDENTIALS = generateLocalCredentials();

async function signed(
  opts: {
    body?: string;
    path?: string;
    query?: Record<string, string>;
    secret?: string;
    date?: Date;
    service?: string;
    applyChecksum?: boolean;
    /** Signs this x-amz-content-sha256 value instead of the body's hash. */
    contentSha256?: string;
  } = {},
): Promise<IncomingSignedRequest> {
  const body = opts.body ?? '{"certificateArn":"x"}';
  const request = new HttpRequest({
    method: 'POST',
    protocol: 'http:',
    hostname: '127.0.0.1',
    port: 8123,
    path: opts.path ?? '/exports',
    query: opts.query ?? {},
    headers: {
      host: HOST,
      'content-type': 'application/json',
      ...(opts.contentSha256 ? { 'x-amz-content-sha256': opts.contentSha256 } : {}),
    },
    body,
  });
  const signer = new SignatureV4({
    credentials: {
      accessKeyId: LOCAL_CREDENTIALS.accessKeyId,
      secretAccessKey: opts.secret ?? LOCAL_CREDENTIALS.secretAccessKey,
    },
    region: 'us-east-1',
    service: opts.service ?? 'execute-api',
    sha256: Sha256,
    applyChecksum: opts.applyChecksum ?? true,
  });
  const out = await signer.sign(request, opts.date ? { signingDate: opts.date } : {});
  const qs = new URLSearchParams(opts.query ?? {}).toString();
  return { method: 'POST', url: `${out.path}${qs ? `?${qs}` : ''}`, headers: out.headers, body };
}

const options = { credentials: LOCAL_CREDENTIALS, service: 'execute-api', region: 'us-east-1' };

test('accepts a correctly signed request (with path and query)', async () => {
  await expect(verifySigV4(await signed(), options)).resolves.toMatchObject({ ok: true, service: 'execute-api' });
  // botocore / the AWS CLI do not sign x-amz-content-sha256 for these services
  await expect(verifySigV4(await signed({ applyChecksum: false }), options)).resolves.toMatchObject({ ok: true });
  await expect(
    verifySigV4(await signed({ path: '/exports/abc-123', query: { limit: '5', next: 'a b' } }), options),
  ).resolves.toMatchObject({ ok: true });
});

test('rejects unsigned, tampered, wrongly signed, foreign and stale requests', async () => {
  const good = await signed();
  const unsigned = { ...good, headers: { host: HOST, 'content-type': 'application/json' } };
  await expect(verifySigV4(unsigned, options)).resolves.toMatchObject({
    ok: false,
    reason: 'MissingAuthenticationToken',
  });
  await expect(verifySigV4({ ...good, body: '{"certificateArn":"y"}' }, options)).resolves.toMatchObject({
    ok: false,
    reason: 'InvalidSignature',
  });
  await expect(verifySigV4({ ...good, url: '/exports/other' }, options)).resolves.toMatchObject({
    ok: false,
    reason: 'InvalidSignature',
  });
  await expect(
    verifySigV4({ ...good, headers: { ...good.headers, 'content-type': 'text/plain' } }, options),
  ).resolves.toMatchObject({ ok: false, reason: 'InvalidSignature' });
  await expect(verifySigV4(await signed({ secret: 'wrong' }), options)).resolves.toMatchObject({
    ok: false,
    reason: 'InvalidSignature',
  });
  const foreignKey = {
    ...good,
    headers: {
      ...good.headers,
      authorization: String(good.headers.authorization).replace(LOCAL_CREDENTIALS.accessKeyId, 'AKIAOTHERKEY'),
    },
  };
  await expect(verifySigV4(foreignKey, options)).resolves.toMatchObject({ ok: false, reason: 'UnrecognizedClient' });
  await expect(verifySigV4(await signed({ service: 'ssm' }), options)).resolves.toMatchObject({
    ok: false,
    reason: 'WrongScope',
  });
  await expect(verifySigV4(await signed({ date: new Date(Date.now() - 20 * 60_000) }), options)).resolves.toMatchObject(
    { ok: false, reason: 'SignatureExpired' },
  );
  await expect(
    verifySigV4({ ...good, headers: { ...good.headers, authorization: 'AWS4-HMAC-SHA256 garbage' } }, options),
  ).resolves.toMatchObject({
    ok: false,
    reason: 'IncompleteSignature',
  });
});

test('signRequest (the local node aws, node:crypto only) signs what the verifier accepts, and only that', async () => {
  const body = '{"SecretId":"acm-export/site"}';
  const headers = signRequest({
    method: 'POST',
    path: '/',
    headers: {
      host: HOST,
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': 'secretsmanager.GetSecretValue',
    },
    body,
    region: 'eu-west-1',
    service: 'secretsmanager',
    ...LOCAL_CREDENTIALS,
  });
  const request: IncomingSignedRequest = { method: 'POST', url: '/', headers, body };
  const scope = { credentials: LOCAL_CREDENTIALS, service: 'secretsmanager', region: 'eu-west-1' };
  await expect(verifySigV4(request, scope)).resolves.toMatchObject({ ok: true, service: 'secretsmanager' });
  await expect(verifySigV4({ ...request, body: '{"SecretId":"other"}' }, scope)).resolves.toMatchObject({
    ok: false,
    reason: 'InvalidSignature',
  });
  const otherTarget = { ...headers, 'x-amz-target': 'secretsmanager.DeleteSecret' };
  await expect(verifySigV4({ ...request, headers: otherTarget }, scope)).resolves.toMatchObject({
    ok: false,
    reason: 'InvalidSignature',
  });
  const wrongKey = signRequest({
    method: 'POST',
    path: '/',
    headers: { host: HOST },
    body,
    region: 'eu-west-1',
    service: 'secretsmanager',
    accessKeyId: LOCAL_CREDENTIALS.accessKeyId,
    secretAccessKey: `${LOCAL_CREDENTIALS.secretAccessKey}x`,
  });
  await expect(verifySigV4({ ...request, headers: wrongKey }, scope)).resolves.toMatchObject({
    ok: false,
    reason: 'InvalidSignature',
  });
});

test('a request target that is not valid percent-encoding is MalformedRequest, not an exception', async () => {
  const good = await signed();
  for (const url of ['/exports?q=%zz', '/exports?%zz=1', '/exports?q=%', '/exports?a=1&b=%E0%A4%A', '/ex%zzports']) {
    await expect(verifySigV4({ ...good, url }, options)).resolves.toMatchObject({
      ok: false,
      reason: 'MalformedRequest',
      message: expect.stringContaining('not valid percent-encoding'),
    });
  }
});

test('the local API answers a signed request with a %zz query 400 with a clear message, and starts nothing', async () => {
  const sfnSend = jest.fn();
  const readHandler = jest.fn();
  const control = { renew: jest.fn(), faults: jest.fn() };
  const api = new LocalApi({
    region: 'us-east-1',
    account: '000000000000',
    credentials: LOCAL_CREDENTIALS,
    stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:Test',
    sfn: { send: sfnSend } as unknown as SFNClient,
    readHandler,
    control,
  });
  await api.listen();
  try {
    const url = new URL('certificates', api.endpoint);
    const signer = new SignatureV4({
      credentials: LOCAL_CREDENTIALS,
      region: 'us-east-1',
      service: 'execute-api',
      sha256: Sha256,
    });
    const request = await signer.sign(
      new HttpRequest({
        method: 'GET',
        protocol: 'http:',
        hostname: url.hostname,
        port: Number(url.port),
        path: url.pathname,
        query: { expiringWithin: '30' },
        headers: { host: url.host },
      }),
    );
    const headers = Object.fromEntries(Object.entries(request.headers).filter(([k]) => k !== 'host'));
    for (const target of [`${url.pathname}?expiringWithin=%zz`, `${url.pathname}?%zz`]) {
      const res = await fetch(`http://${url.host}${target}`, { headers });
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({ message: 'The query string is not valid percent-encoding.' });
    }
    expect(sfnSend).not.toHaveBeenCalled();
    expect(readHandler).not.toHaveBeenCalled();
    expect(api.calls.map((c) => c.statusCode)).toEqual([400, 400]);
  } finally {
    await api.close();
  }
});

describe('the signature must cover the body that arrived', () => {
  const swapped = '{"certificateArn":"swapped"}';

  test('a body swapped after signing is refused, with or without x-amz-content-sha256', async () => {
    const withHash = await signed();
    expect(withHash.headers['x-amz-content-sha256']).toMatch(/^[0-9a-f]{64}$/);
    await expect(verifySigV4({ ...withHash, body: swapped }, options)).resolves.toMatchObject({ ok: false });
    // botocore's style: no header, the verifier hashes the body it received
    const withoutHash = await signed({ applyChecksum: false });
    expect(withoutHash.headers['x-amz-content-sha256']).toBeUndefined();
    await expect(verifySigV4({ ...withoutHash, body: swapped }, options)).resolves.toMatchObject({
      ok: false,
      reason: 'InvalidSignature',
    });
    // an unsigned header naming the swapped body's hash does not help either
    const forged = { ...withoutHash, body: swapped, headers: { ...withoutHash.headers } };
    forged.headers['x-amz-content-sha256'] = createHash('sha256').update(swapped).digest('hex');
    await expect(verifySigV4(forged, options)).resolves.toMatchObject({ ok: false, reason: 'InvalidSignature' });
  });

  test.each(['UNSIGNED-PAYLOAD', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', 'STREAMING-UNSIGNED-PAYLOAD-TRAILER'])(
    'x-amz-content-sha256: %s is refused even for the body that was sent',
    async (value) => {
      const request = await signed({ contentSha256: value });
      expect(request.headers['x-amz-content-sha256']).toBe(value);
      for (const body of [request.body, swapped])
        await expect(verifySigV4({ ...request, body }, options)).resolves.toMatchObject({
          ok: false,
          reason: 'UnsignedPayload',
          message: expect.stringContaining('x-amz-content-sha256 must be the hex SHA-256 of the body'),
        });
    },
  );

  test('the local API answers 403 to an unsigned or swapped payload, starts nothing, and serves the CLI client', async () => {
    const faults = jest.fn(async () => ({ ok: true }));
    const api = new LocalApi({
      region: 'us-east-1',
      account: '000000000000',
      credentials: LOCAL_CREDENTIALS,
      readHandler: jest.fn(),
      control: { renew: jest.fn(), faults },
    });
    await api.listen();
    try {
      const url = new URL('_local/faults', api.endpoint);
      const send = async (contentSha256: string | undefined, sentBody: string): Promise<Response> => {
        const body = JSON.stringify({ throttle: { ExportCertificate: 1 } });
        const signer = new SignatureV4({
          credentials: LOCAL_CREDENTIALS,
          region: 'us-east-1',
          service: 'execute-api',
          sha256: Sha256,
          applyChecksum: false,
        });
        const request = await signer.sign(
          new HttpRequest({
            method: 'POST',
            protocol: 'http:',
            hostname: url.hostname,
            port: Number(url.port),
            path: url.pathname,
            headers: {
              host: url.host,
              'content-type': 'application/json',
              ...(contentSha256 ? { 'x-amz-content-sha256': contentSha256 } : {}),
            },
            body,
          }),
        );
        const headers = Object.fromEntries(Object.entries(request.headers).filter(([k]) => k !== 'host'));
        return fetch(url, { method: 'POST', headers, body: sentBody === '' ? body : sentBody });
      };
      const hostile = JSON.stringify({ notExportable: ['www.example.test'] });
      const unsigned = await send('UNSIGNED-PAYLOAD', hostile);
      expect(unsigned.status).toBe(403);
      expect(((await unsigned.json()) as { message: string }).message).toContain('UNSIGNED-PAYLOAD is not accepted');
      const unsignedSame = await send('UNSIGNED-PAYLOAD', '');
      expect(unsignedSame.status).toBe(403);
      const swappedBody = await send(undefined, hostile);
      expect(swappedBody.status).toBe(403);
      expect(faults).not.toHaveBeenCalled();

      // The CLI's client signs the body: its requests pass.
      const client = new ApiClient({
        endpoint: new URL(api.endpoint),
        region: 'us-east-1',
        credentials: LOCAL_CREDENTIALS,
        fetch: (u, i) => fetch(u, i),
      });
      await expect(
        client.request('POST', '/_local/faults', { body: { throttle: { ExportCertificate: 1 } } }),
      ).resolves.toEqual({ ok: true });
      expect(faults).toHaveBeenCalledTimes(1);
      expect(faults).toHaveBeenCalledWith({ throttle: { ExportCertificate: 1 } });
    } finally {
      await api.close();
    }
  });
});
