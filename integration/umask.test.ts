/**
 * Root's umask does not decide who may run apps: with `umask 077` or `027` (hardened
 * hosts), what `load`, `register` and root's first launch create has the modes pilot
 * means, and an unprivileged caller runs the apps and lists them.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, examples, type Result, skipReason, TestRoot } from './harness.js';

const skip = skipReason();
const NOBODY = 65534;

/** Directories that are private (0700) by design; everything else pilot makes is public. */
const PRIVATE_DIRS = [
  'var/lib/pilot/tmp',
  // A kept instance's state and its mounted root are root's alone (docs/security.md).
  'var/lib/pilot/instances/kept',
  'var/lib/pilot/instances/kept/work',
  'run/pilot/instances/kept/private',
];

function result(r: ReturnType<typeof spawnSync>): Result {
  return {
    code: r.status,
    signal: r.signal,
    stdout: r.stdout?.toString() ?? '',
    stderr: r.stderr?.toString() ?? '',
  };
}

/**
 * Not walked into: trees built by their own canonical rules (extraction, host layer
 * builder), and what a kept instance's app wrote (its upper dir and mounted root).
 */
const NOT_WALKED =
  /^(var\/lib\/pilot\/(layers|host|includes)\/[^/]+|var\/lib\/pilot\/instances\/kept\/(upper|work)|run\/pilot\/instances\/kept\/private)$/;

/** Every entry under `dir` whose mode is not the one pilot means. */
function strayModes(dir: string): string[] {
  const stray: string[] = [];
  const visit = (path: string) => {
    const stat = lstatSync(path);
    const rel = relative(dir, path);
    const mode = stat.mode & 0o7777;
    if (stat.isDirectory()) {
      const wanted = PRIVATE_DIRS.includes(rel) ? 0o700 : 0o755;
      if (rel !== '' && mode !== wanted) stray.push(`${rel} ${mode.toString(8)}`);
      if (!NOT_WALKED.test(rel)) for (const name of readdirSync(path)) visit(join(path, name));
    } else if (stat.isFile() && mode !== 0o644 && mode !== 0o755) {
      stray.push(`${rel} ${mode.toString(8)}`);
    }
  };
  visit(dir);
  return stray;
}

describe.skipIf(skip !== '').each(['077', '027'])('under root umask %s', (mask) => {
  let root: TestRoot;
  let home: string;
  const hello = '/usr/bin/hello';
  const jq = '/usr/local/bin/jq-app';
  const inc = '/usr/bin/inc';
  const kept = '/usr/bin/kept';

  /** `pilot ARGS` as root with the umask of a hardened host. */
  const pilotUnderMask = (args: string[]): Result =>
    result(
      spawnSync('sh', ['-c', `umask ${mask}; exec "$0" "$@"`, process.execPath, cli, ...args], {
        env: root.env(),
        timeout: 120_000,
      }),
    );
  const ok = (args: string[]) => {
    const r = pilotUnderMask(args);
    expect(r.stderr).toBe('');
    expect(r.code, `pilot ${args.join(' ')}: ${r.stderr}`).toBe(0);
  };
  const asNobody = () => ({ uid: NOBODY, gid: NOBODY, cwd: home, env: { HOME: home } });

  beforeAll(() => {
    root = new TestRoot(`umask${mask}`);
    chmodSync(root.dir, 0o755);
    home = mkdtempSync(join(tmpdir(), 'pilot-umask-home-'));
    chownSync(home, NOBODY, NOBODY);
    for (const name of ['busybox-base', 'hello-delta', 'jq-delta']) {
      ok(['load', join(examples, `${name}.tar`), '--quiet']);
    }
    const base = ['--base', 'pilot/busybox-base'];
    ok(['register', '--container', 'pilot/hello-delta', ...base, '--app', hello]);
    ok(['register', '--container', 'pilot/jq-delta', ...base, '--app', jq, '--target', '/']);
    // An include.tar and a kept instance: their extraction, state and call records.
    const tarDir = join(home, 'tar');
    mkdirSync(join(tarDir, 'etc'), { recursive: true });
    writeFileSync(join(tarDir, 'etc/included'), 'from the tar\n');
    const tar = join(root.dir, 'include.tar');
    execFileSync('tar', ['-cf', tar, '-C', tarDir, 'etc']);
    chmodSync(tar, 0o644);
    const target = ['--target', '/usr/bin/hello'];
    ok(['register', '--container', 'pilot/hello-delta', ...base, '--app', inc, ...target]);
    ok(['register', '--container', 'pilot/hello-delta', ...base, '--app', kept, ...target]);
    ok([
      'register',
      '--force',
      '--container',
      'pilot/hello-delta',
      ...base,
      '--app',
      inc,
      ...target,
      '--include-tar',
      tar,
    ]);
    ok([
      'register',
      '--force',
      '--container',
      'pilot/hello-delta',
      ...base,
      '--app',
      kept,
      ...target,
      '--resume',
    ]);
  });

  afterAll(() => {
    root?.pilot(['stop', '--all']);
    root?.cleanup();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it('root runs the apps, and everything pilot made has the modes it means', () => {
    // Root's first launches, under the same umask: run dir, plans, host layer.
    for (const [app, args, out] of [
      [hello, ['world'], 'hello from pilot\n[world]\n'],
      [jq, ['-n', '1+1'], '2\n'],
      [inc, ['x'], 'hello from pilot\n[x]\n'],
      [kept, ['one'], 'hello from pilot\n[one]\n'],
      [kept, ['two'], 'hello from pilot\n[two]\n'],
    ] as const) {
      const r = result(
        spawnSync('sh', ['-c', `umask ${mask}; exec "$0" "$@"`, root.link(app), ...args], {
          env: root.env(),
          timeout: 60_000,
        }),
      );
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe(out);
    }
    const hostLayers = join(root.dir, 'var/lib/pilot/host');
    expect(readdirSync(hostLayers)).toHaveLength(1);
    expect(readdirSync(join(root.dir, 'var/lib/pilot/includes'))).toContain('by-path');
    expect(strayModes(root.dir)).toEqual([]);
  });

  it('an unprivileged caller runs the apps, on the shared host layer', () => {
    const r = root.run(hello, ['as', 'nobody'], asNobody());
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('hello from pilot\n[as]\n[nobody]\n');
    expect(r.code).toBe(0);
    const withDebug = { ...asNobody(), env: { HOME: home, PILOT_DEBUG: '1' } };
    const j = root.run(jq, ['-n', '[1,2] | add'], withDebug);
    expect(j.stdout).toBe('3\n');
    expect(j.code).toBe(0);
    // Root's host layer serves it (a private one would leave it binding each file).
    expect(j.stderr).toMatch(/host layer host\/[0-9a-f]{12}/);
    // And root's extraction of the include.tar (else it would extract its own copy).
    const i = root.run(inc, ['y'], withDebug);
    expect(i.stdout).toBe('hello from pilot\n[y]\n');
    expect(i.stderr).not.toMatch(/include\.tar .* extracted/);
  });

  it('an unprivileged caller lists the apps', () => {
    const env = root.env({ HOME: home });
    delete env.XDG_RUNTIME_DIR;
    const r = result(
      spawnSync(process.execPath, [cli, 'list', '--json'], {
        env,
        cwd: home,
        uid: NOBODY,
        gid: NOBODY,
        timeout: 60_000,
      }),
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const apps = JSON.parse(r.stdout) as { app: string; ok: boolean }[];
    expect(apps.map((a) => [a.app, a.ok])).toEqual([
      ['hello', true],
      ['inc', true],
      ['jq-app', true],
      ['kept', true],
    ]);
  });

  it('a flakes dir made private by hand: list says so, doctor names it with the chmod', () => {
    const flakes = join(root.dir, 'usr/share/flakes');
    chmodSync(flakes, 0o700);
    try {
      const env = root.env({ HOME: home });
      delete env.XDG_RUNTIME_DIR;
      const list = result(
        spawnSync(process.execPath, [cli, 'list'], { env, cwd: home, uid: NOBODY, gid: NOBODY }),
      );
      expect(list.code).toBe(1);
      expect(list.stderr).toContain(
        `cannot read the flakes directory ${flakes}: permission denied`,
      );
      expect(list.stderr).toContain(`chmod o+rx ${flakes}`);
      expect(list.stderr).not.toContain('internal error');
      const doctor = JSON.parse(pilotUnderMask(['doctor', '--json']).stdout) as {
        check: string;
        status: string;
        detail: string;
        fix: string;
      }[];
      const access = doctor.find((c) => c.check === 'apps for other users');
      expect(access?.status).toBe('warn');
      expect(access?.detail).toContain(`${flakes} (flakes directory: needs o+rx)`);
      expect(access?.fix).toContain(`chmod o+rx ${flakes}`);
    } finally {
      chmodSync(flakes, 0o755);
    }
  });

  it('doctor finds nothing that keeps other users out', () => {
    const r = pilotUnderMask(['doctor', '--json']);
    const checks = JSON.parse(r.stdout) as { check: string; status: string; detail: string }[];
    const access = checks.find((c) => c.check === 'apps for other users');
    expect(access?.status, access?.detail).toBe('ok');
  });
});
