/**
 * Measures the install script on this machine: N installs with Service=nginx + VerifyPort (config
 * test, reload, served-serial check over TLS) and N with Service=none, each a new secret version,
 * with the fake aws (so AWS CLI start-up and network time are NOT included).
 *
 *   npx tsx test/ssm-documents/measure-install.ts [N=20]
 *
 * Prints one JSON line: medians, min and max in milliseconds.
 */
import * as path from 'node:path';
import type { IssuedCertificate } from '../helpers/pki';
import { startNginx } from '../helpers/nginx';
import { createFixture } from './fixture';

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const summary = (xs: number[]) => ({
  median: Math.round(median(xs)),
  min: Math.round(Math.min(...xs)),
  max: Math.round(Math.max(...xs)),
});

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 20);
  const f = createFixture('measure');
  try {
    const certs: (IssuedCertificate & { versionId: string })[] = [];
    for (let i = 0; i < 2 * n + 1; i++)
      certs.push(f.publish({ names: ['www.example.test'], keyAlgorithm: i % 2 ? 'RSA_2048' : 'EC_prime256v1' }));
    const base = f.params(certs[0].versionId, 'web');
    const first = await f.run(base);
    if (first.code !== 0) throw new Error(first.stderr);
    const nginx = await startNginx({
      dir: path.join(f.root, 'nginx'),
      servers: [
        { certificate: path.join(base.CertDir!, 'site.fullchain.pem'), key: path.join(base.KeyDir!, 'site.key') },
      ],
    });
    const withNginx: number[] = [];
    const none: number[] = [];
    try {
      for (let i = 1; i <= n; i++) {
        const r = await f.run(
          { ...base, SecretVersionId: certs[i].versionId, Service: 'nginx', VerifyPort: String(nginx.ports[0]) },
          { ACM_EXPORT_NGINX_CONF: nginx.conf },
        );
        if (r.code !== 0 || !r.result?.verified) throw new Error(r.stderr);
        withNginx.push(r.durationMs);
      }
      for (let i = n + 1; i <= 2 * n; i++) {
        const r = await f.run({ ...base, SecretVersionId: certs[i].versionId, Service: 'none', VerifyPort: '0' });
        if (r.code !== 0) throw new Error(r.stderr);
        none.push(r.durationMs);
      }
    } finally {
      await nginx.stop();
    }
    console.log(JSON.stringify({ runs: n, nginxReloadVerifyMs: summary(withNginx), serviceNoneMs: summary(none) }));
  } finally {
    f.cleanup();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
