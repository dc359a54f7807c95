/**
 * The floor script the node programs are measured against, the required-processes script set beside it, and the
 * bench's process counting and verdicts.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import {
  countProcesses,
  emptyFor,
  floorFor,
  parseOnlyFor,
  requiredFor,
  runProgram,
  slot,
  type Slot,
} from '../../bench/node-floor';
import { floorRows } from '../../bench/install';
import { createFixture, type Fixture } from '../ssm-documents/fixture';

// One fixture (test CA, fake aws CLI, secret store) for both scripts; each runs in a node slot of its own.
let f: Fixture;
beforeAll(() => (f = createFixture('floor-test')));
afterAll(() => f.cleanup());

describe('floor-install.sh', () => {
  let node: Slot;
  beforeAll(() => (node = slot(f, 'floor')));

  test('install writes the four files with their modes and notes the version; unchanged asks for AWSCURRENT and compares; report writes the inventory file', async () => {
    const issued = f.publish({ names: ['www.example.test'] });
    const params = node.params(issued.versionId);
    await runProgram(f, floorFor('push'), params, node.env);
    const file = (dir: string, name: string) => path.join(dir, name);
    const certDir = params.CertDir!;
    expect(readFileSync(file(certDir, 'site.crt'), 'utf8')).toBe(issued.certificate);
    expect(readFileSync(file(certDir, 'site.chain.pem'), 'utf8')).toBe(issued.chain);
    expect(readFileSync(file(certDir, 'site.fullchain.pem'), 'utf8')).toBe(`${issued.certificate}${issued.chain}`);
    expect(readFileSync(file(params.KeyDir!, 'site.key'), 'utf8')).toBe(issued.privateKey);
    expect(statSync(file(params.KeyDir!, 'site.key')).mode & 0o777).toBe(0o600);
    expect(statSync(file(certDir, 'site.crt')).mode & 0o777).toBe(0o644);
    expect(existsSync(file(certDir, 'site.crt.new'))).toBe(false);

    expect(readFileSync(file(certDir, 'site.version'), 'utf8')).toBe(`${issued.versionId}\n`);

    // An association run: AWSCURRENT (DescribeSecret) against the version noted at install, no secret read.
    const association = { ...params, SecretVersionId: undefined, SecretVersionStage: 'AWSCURRENT' };
    const secretReads = () => f.aws.calls().filter((call) => call[1] === 'get-secret-value').length;
    const reads = secretReads();
    await expect(runProgram(f, floorFor('unchanged'), association, node.env)).resolves.toMatchObject({ stdout: '' });
    expect(secretReads()).toBe(reads);
    expect(f.aws.calls().at(-1)?.slice(0, 2)).toEqual(['secretsmanager', 'describe-secret']);
    // A new version (a renewal) is AWSCURRENT now.
    f.publish({ names: ['www.example.test'] });
    await expect(runProgram(f, floorFor('unchanged'), association, node.env)).rejects.toThrow(
      /the version installed here is not the current one/,
    );
    f.aws.setCurrent(issued.versionId);
    await expect(runProgram(f, floorFor('unchanged'), association, node.env)).resolves.toMatchObject({ stdout: '' });

    await runProgram(f, floorFor('report'), params, node.env);
    const item = JSON.parse(readFileSync(path.join(node.env.ACM_EXPORT_INVENTORY_DIR, 'site.json'), 'utf8')) as Record<
      string,
      string
    >;
    expect(item).toMatchObject({ certName: 'site', serial: issued.serial });
    expect(item.notAfter).toMatch(/ GMT$/);
  });

  test('a key that does not match the certificate is refused and nothing is replaced', async () => {
    const live = readFileSync(path.join(f.root, 'floor', 'certs', 'site.crt'), 'utf8');
    const foreign = f.publish({ names: ['other.example.test'] });
    const mismatched = f.publish({ names: ['www.example.test'] }, (b) => ({
      ...b,
      encryptedPrivateKey: foreign.encryptedPrivateKey,
      passphrase: foreign.passphrase,
    }));
    await expect(runProgram(f, floorFor('push'), node.params(mismatched.versionId), node.env)).rejects.toThrow(
      /the key does not match the certificate/,
    );
    expect(readFileSync(path.join(f.root, 'floor', 'certs', 'site.crt'), 'utf8')).toBe(live);
  });
});

describe('required-processes.sh', () => {
  let node: Slot;
  beforeAll(() => (node = slot(f, 'required')));

  test('push writes a versioned set and switches `current` (the previous one kept, older ones deleted); report rewrites the inventory', async () => {
    const pushed = [];
    for (let i = 0; i < 3; i++) {
      const issued = f.publish({ names: ['www.example.test'] });
      pushed.push(issued);
      await runProgram(f, requiredFor('push')!, node.params(issued.versionId), node.env);
    }
    const store = path.join(f.root, 'required', 'certs', '.required', 'site');
    const current = path.join(store, 'current');
    expect(readFileSync(path.join(current, 'cert.pem'), 'utf8')).toBe(pushed[2].certificate);
    expect(readFileSync(path.join(current, 'fullchain.pem'), 'utf8')).toBe(pushed[2].certificate + pushed[2].chain);
    expect(readFileSync(path.join(current, 'key.pem'), 'utf8')).toBe(pushed[2].privateKey);
    expect(readFileSync(path.join(store, 'previous', 'cert.pem'), 'utf8')).toBe(pushed[1].certificate);
    expect(readdirSync(store).filter((n) => n.startsWith('v'))).toHaveLength(2);
    const inventory = path.join(node.env.ACM_EXPORT_INVENTORY_DIR, 'required.json');
    rmSync(inventory);
    await runProgram(f, requiredFor('report')!, node.params(pushed[2].versionId), node.env);
    expect(JSON.parse(readFileSync(inventory, 'utf8'))).toMatchObject({ Content: [{ CertName: 'site' }] });
    expect(requiredFor('unchanged')).toBeUndefined();
  });
});

test('parse-only programs: bash reads the whole program (the install with its library) and runs none of it', () => {
  const dir = path.join(f.root, 'parse-only');
  mkdirSync(dir, { recursive: true });
  for (const kind of ['push', 'report'] as const) {
    const program = parseOnlyFor(kind, dir)!;
    const text = readFileSync(program.script, 'utf8');
    // The install's own main and (push only) a function of the node library it sources on a node.
    expect(text).toMatch(/^main\(\) \{/m);
    expect(/^install_certificate\(\) \{/m.test(text)).toBe(kind === 'push');
    // Parsed in full: a syntax error at its end fails the run. Nothing runs: no output, no file.
    const run = spawnSync('bash', [program.script], { encoding: 'utf8', cwd: dir });
    expect([run.status, run.stdout, run.stderr]).toEqual([0, '', '']);
    expect(readdirSync(dir).sort()).toEqual(
      kind === 'push' ? ['parse-only-push.sh'] : ['parse-only-push.sh', 'parse-only-report.sh'],
    );
    const broken = path.join(dir, 'broken.sh');
    writeFileSync(broken, text.replace(/\}\n$/, 'if true; then :\n}\n'));
    expect(spawnSync('bash', [broken], { encoding: 'utf8' }).status).not.toBe(0);
    rmSync(broken);
  }
  expect(parseOnlyFor('unchanged', dir)).toBeUndefined();
  expect(spawnSync('bash', [emptyFor('report', dir)!.script]).status).toBe(0);
});

test('countProcesses: forks that returned a pid (not threads), successful execs, openssl among them', () => {
  const trace = [
    '100 execve("/usr/bin/bash", ["bash", "x.sh"], 0x7ffd /* 3 vars */) = 0',
    '100 clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x7f) = 101',
    '101 execve("/root/bin/openssl", ["openssl"], 0x55 /* 3 vars */) = -1 ENOENT (No such file or directory)',
    '101 execve("/usr/bin/openssl", ["openssl", "x509"], 0x55 /* 3 vars */ <unfinished ...>',
    '100 clone3({flags=CLONE_VM|CLONE_VFORK, exit_signal=SIGCHLD, stack=0x7f, stack_size=0x9000}, 88 <unfinished ...>',
    '101 <... execve resumed>) = 0',
    '100 <... clone3 resumed>) = 102',
    '102 execve("/usr/bin/cat", ["cat"], 0x55 /* 3 vars */) = 0',
    // strace pads a pid shorter than the others
    '99  clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|SIGCHLD, child_tidptr=0x7f) = 104',
    '104   execve("/usr/bin/openssl", ["openssl", "pkey"], 0x55 /* 3 vars */) = 0',
    '102 clone(child_stack=0x7f, flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM) = 103',
    '100 clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|SIGCHLD) = -1 EAGAIN (Resource temporarily unavailable)',
    '100 --- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=101, si_uid=0, si_status=0} ---',
  ].join('\n');
  expect(countProcesses(trace)).toEqual({ processes: 4, execs: 4, openssl: 2 });
});

test('floorRows: the ratio to the floor and the goal verdict, and counts when there are any', () => {
  const notes: string[] = [];
  const rows = floorRows(
    {
      runs: 5,
      counted: true,
      results: [
        {
          kind: 'push',
          realMs: 300,
          floorMs: 100,
          requiredMs: 160,
          parseMs: 12.5,
          real: { processes: 200, execs: 100, openssl: 10 },
          floor: { processes: 17, execs: 17, openssl: 3 },
          required: { processes: 30, execs: 29, openssl: 5 },
        },
        { kind: 'report', realMs: 180, floorMs: 100, requiredMs: 120, parseMs: 40 },
      ],
    },
    notes,
  );
  expect(rows.map((r) => [r.metric, r.ours, r.baseline])).toEqual([
    ['push (first install of a new version), Service=none vs floor', 300, 100],
    ['processes per push run vs floor', 200, 17],
    ['openssl calls per push run vs floor', 10, 3],
    ['the processes a push requires, no logic between them, vs floor', 160, 100],
    ["bash parsing the push's program, none of it run (an empty script's time subtracted), vs floor", 13, 100],
    ['report run vs floor', 180, 100],
    ['the processes a report requires, no logic between them, vs floor', 120, 100],
    ["bash parsing the report's program, none of it run (an empty script's time subtracted), vs floor", 40, 100],
  ]);
  expect(rows[0].note).toBe('median of 5; 3.0x the floor, goal <= 2x: not met');
  expect(rows[3].note).toBe('1.6x the floor; 30 processes; ours spends 140 ms more on its own shell work');
  expect(rows[4].note).toBe('0.1x the floor');
  expect(rows[5].note).toBe('median of 5; 1.8x the floor, goal <= 1.5x: not met');
  expect(notes[0]).toContain('200 processes (100 programs, 10 openssl) against 17 (17, 3)');
  expect(notes[1]).toBe(
    "push: the processes it requires take 160 ms of the goal's 200 ms and parsing the program 12.5 ms, leaving 27.5 ms for every check and decision in it; ours takes 127.5 ms for those.",
  );
  // Required processes and parsing alone past the goal: by how much, not a negative budget.
  expect(notes[3]).toBe(
    "report: the processes it requires take 120 ms of the goal's 150 ms and parsing the program 40.0 ms, 10.0 ms over the goal before any check or decision in it; ours takes 20.0 ms for those.",
  );
});
