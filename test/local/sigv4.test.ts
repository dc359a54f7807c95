import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { SFNClient } from '@aws-sdk/client-sfn';
import { LocalApi } from '../../local/api';
import { LOCAL_CREDENTIALS } from '../../local/credentials';
import { verifySigV4, type IncomingSignedRequest } from '../../local/sigv4';

const HOST = '127.0.0.1:8123';

async function signed(
  opts: {
    body?: string;
    path?: string;
    query?: Record<string, string>;
    secret?: string;
    date?: Date;
    service?: string;
    applyChecksum?: boolean;
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
    headers: { host: HOST, 'content-type': 'application/json' },
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
