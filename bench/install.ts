/**
 * 4. Node install: the real install script (install + nginx config test + reload + served-serial verify),
 * measured by test/ssm-documents/measure-install.ts (fake aws CLI, real openssl and nginx), in a child
 * process. There is no baseline figure: the blog sample's document only decodes base64 parameters into
 * files (no validation, reload or verify), so the work is not comparable.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { nginxAvailable } from '../local/nodes';
import { row, type BenchRow } from './report';

interface Summary {
  median: number;
  min: number;
  max: number;
}

interface MeasureOutput {
  runs: number;
  nginxReloadVerifyMs: Summary;
  serviceNoneMs: Summary;
}

const ROOT = path.join(__dirname, '..');

export function runMeasureInstall(runs: number): Promise<MeasureOutput> {
  return new Promise((resolve, reject) => {
    const tsx = path.join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');
    const child = spawn(
      process.execPath,
      [tsx, path.join(ROOT, 'test', 'ssm-documents', 'measure-install.ts'), String(runs)],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGTERM'), 10 * 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      const last = out.trim().split('\n').pop() ?? '';
      if (code !== 0)
        return reject(new Error(`measure-install exited ${code}: ${err.trim().split('\n').slice(-3).join(' | ')}`));
      try {
        resolve(JSON.parse(last) as MeasureOutput);
      } catch {
        reject(new Error(`measure-install printed no JSON line: ${last.slice(0, 200)}`));
      }
    });
  });
}

export async function benchInstall(options: { runs: number }, notes: string[]): Promise<BenchRow[] | string> {
  if (!nginxAvailable()) return 'nginx is not installed';
  const m = await runMeasureInstall(options.runs);
  notes.push(
    `Install script on this machine, median of ${m.runs} (min–max): with nginx ${m.nginxReloadVerifyMs.min}–${m.nginxReloadVerifyMs.max} ms, Service=none ${m.serviceNoneMs.min}–${m.serviceNoneMs.max} ms. ` +
      "The aws CLI is a local fake (no network, no CLI start-up), so a real node adds the Secrets Manager GetSecretValue round trip and the CLI start-up. No baseline figure: the blog sample's document only base64-decodes its Run Command parameters into files; it does not validate, reload or verify, so its time is not comparable.",
  );
  return [
    row(
      'install',
      'node install + nginx -t + reload + verify served serial',
      'ms',
      m.nginxReloadVerifyMs.median,
      undefined,
      `median of ${m.runs}`,
    ),
    row('install', 'node install, Service=none', 'ms', m.serviceNoneMs.median, undefined, `median of ${m.runs}`),
  ];
}
