/**
 * The warm-path stub (pilot/exec/stub.c, plan.c) against docs/plan.md: plans of format 2
 * written here word by word, the command line read back with PILOT_FASTPATH=dry-run, the
 * reasons it declines with PILOT_FASTPATH=require. A fake Node launcher beside the binary
 * shows when it steps aside. One real run needs root and overlayfs.
 */
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const binary = path.join(repo, 'dist/pilot-exec');
const busybox = '/bin/busybox';
const app = 'stubapp';

describe('pilot-exec as the warm-path stub', () => {
  let tmp = '';
  let root = '';
  let link = '';
  let plan = '';
  let home = '';
  let outside = '';
  let stamped = '';

  beforeAll(() => {
    const make = spawnSync('make', ['dist/pilot-exec'], { cwd: repo, encoding: 'utf8' });
    expect(make.status, make.stderr).toBe(0);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pilot-stub-test-'));
    fs.chmodSync(tmp, 0o755);
    const bin = path.join(tmp, 'bin');
    fs.mkdirSync(bin);
    fs.copyFileSync(binary, path.join(bin, 'pilot-exec'));
    fs.chmodSync(path.join(bin, 'pilot-exec'), 0o755);
    link = path.join(bin, app);
    fs.symlinkSync('pilot-exec', link);
    // The Node launcher's stand-in: says it ran, for whom and with what.
    fs.writeFileSync(
      path.join(bin, 'pilot-launch.mjs'),
      '#!/bin/sh\nprintf "launcher %s" "$PILOT_LAUNCH_AS"; printf " %s" "$@"; echo\n',
      { mode: 0o755 },
    );
    root = path.join(tmp, 'root');
    fs.mkdirSync(path.join(root, 'run/pilot/plans'), { recursive: true });
    plan = path.join(root, `run/pilot/plans/${app}.u${process.getuid?.()}.plan`);
    home = path.join(tmp, 'home/caller');
    outside = path.join(tmp, 'elsewhere');
    fs.mkdirSync(path.join(home, 'project'), { recursive: true });
    fs.mkdirSync(path.join(outside, 'deeper'), { recursive: true });
    stamped = path.join(tmp, 'stamped');
    fs.writeFileSync(stamped, 'input of the plan\n');
  });

  afterAll(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  const stampOf = (file: string) => {
    const s = fs.lstatSync(file, { bigint: true });
    return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}`;
  };

  function writePlan(records: string[][], magic = ['pilot-plan', '2']): void {
    const words = [...magic, ...records.flat()];
    fs.writeFileSync(plan, Buffer.concat(words.map((w) => Buffer.from(`${w}\0`))), { mode: 0o644 });
  }

  /** The caller's words the stub puts first: its run dir's mount point (docs/plan.md). */
  const first = () => [
    '--mnt',
    path.join(root, 'run/pilot/mnt'),
    ...(process.getuid?.() === 0 ? [] : ['--userns']),
  ];

  const basic = () => [
    ['stamp', stamped, stampOf(stamped)],
    ['callers', 'all'],
    ['late', '--volume'],
    ['late', '/h/v'],
    ['late', '/v'],
    ['late', 'rw'],
    ['program', '/bin/prog'],
    ['fixed', '--fixed'],
    ['default', 'dflt'],
  ];

  function call(
    args: string[],
    options: { cwd?: string; env?: NodeJS.ProcessEnv; mode?: string } = {},
  ): SpawnSyncReturns<Buffer> {
    const env: NodeJS.ProcessEnv = {
      PATH: '/usr/bin:/bin',
      PILOT_ROOT: root,
      HOME: home,
      ...(options.mode ? { PILOT_FASTPATH: options.mode } : {}),
      ...options.env,
    };
    return spawnSync(link, args, { cwd: options.cwd ?? outside, env });
  }

  /** The words the stub would give pilot-exec. */
  function dryRun(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
    const r = call(args, { ...options, mode: 'dry-run' });
    expect(r.stderr.toString()).toBe('');
    expect(r.status).toBe(0);
    const out = r.stdout.toString();
    expect(out.endsWith('\0')).toBe(true);
    return withoutEnviron(out.slice(0, -1).split('\0'));
  }

  /** The command line after the environment's `--environ K=V` words. */
  function withoutEnviron(words: string[]): string[] {
    let k = 0;
    while (words[k] === '--environ') k += 2;
    return words.slice(k);
  }

  function declined(options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}, args = ['a']) {
    const r = call(args, { ...options, mode: 'require' });
    expect(r.stdout.toString()).toBe('');
    expect(r.status).toBe(125);
    return r.stderr.toString();
  }

  it('dry-run prints the command line of docs/plan.md: opt, HOME, cwd, late, program', () => {
    writePlan(basic());
    const late = ['--volume', '/h/v', '/v', 'rw'];
    expect(dryRun([])).toEqual([
      ...[...first(), '--try-rbind', home, home, '--rbind-cwd', outside],
      ...[...late, '--', '/bin/prog', '--fixed', 'dflt'],
    ]);
    // Caller arguments replace the defaults, bytes as given.
    expect(dryRun(['x y', ''])).toEqual([
      ...[...first(), '--try-rbind', home, home, '--rbind-cwd', outside],
      ...[...late, '--', '/bin/prog', '--fixed', 'x y', ''],
    ]);
  });

  it("dry-run prints the caller's environment first, as --environ words (the Node path's)", () => {
    writePlan(basic());
    // "ODD=2=x" is a second ODD and "=empty" has no name: only the first ODD is the
    // caller's (getenv's, and the Node launcher's: src/runtime/caller-bytes.ts).
    const env = { ODD: 'a\nb=c', 'ODD=2': 'x', '': 'empty', PILOT_LAUNCH_AS: '/x' };
    const r = call([], { mode: 'dry-run', env });
    const words = r.stdout.toString().slice(0, -1).split('\0');
    const environ = words.slice(0, words.indexOf('--mnt'));
    const pairs = environ.filter((_, k) => k % 2 === 1);
    expect(environ.filter((_, k) => k % 2 === 0).every((w) => w === '--environ')).toBe(true);
    // PILOT_LAUNCH_AS is the launcher's, never the app's (main.ts drops it too).
    expect(pairs.sort()).toEqual(
      [
        `HOME=${home}`,
        'ODD=a\nb=c',
        'PATH=/usr/bin:/bin',
        'PILOT_FASTPATH=dry-run',
        `PILOT_ROOT=${root}`,
      ].sort(),
    );
  });

  it('binds the cwd unless it is under HOME, a cover prefix or "/", or workdir is set', () => {
    const cover = ['cover', outside];
    writePlan(basic());
    const inHome = dryRun([], { cwd: path.join(home, 'project') });
    expect(inHome).not.toContain('--rbind-cwd');
    expect(inHome.slice(inHome.indexOf('--cwd'), inHome.indexOf('--cwd') + 2)).toEqual([
      '--cwd',
      path.join(home, 'project'),
    ]);
    expect(dryRun([], { cwd: '/' })).toContain('--cwd');
    writePlan([cover, ...basic()]);
    const covered = dryRun([], { cwd: path.join(outside, 'deeper') });
    expect(covered).not.toContain('--rbind-cwd');
    expect(covered).toContain(path.join(outside, 'deeper'));
    writePlan([['workdir', '/w'], ...basic()]);
    const fixed = dryRun([]);
    expect(fixed).not.toContain('--rbind-cwd');
    expect(fixed.slice(-7, -4)).toEqual(['rw', '--cwd', '/w']);
    // The --cwd goes after the late words.
    expect(fixed.indexOf('--cwd')).toBeGreaterThan(fixed.indexOf('--volume'));
  });

  it('binds a deleted cwd at its former path, even where a cover or HOME would spare it', () => {
    /** The stub's words when it runs in `dir`, removed just before. */
    const inDeleted = (dir: string) => {
      fs.mkdirSync(dir);
      const r = spawnSync(
        'sh',
        ['-c', 'cd "$1" && rmdir "$1" && shift && exec "$@"', 'sh', dir, link],
        { env: { PATH: '/usr/bin:/bin', PILOT_ROOT: root, HOME: home, PILOT_FASTPATH: 'dry-run' } },
      );
      expect(r.stderr.toString()).toBe('');
      expect(r.status).toBe(0);
      return withoutEnviron(r.stdout.toString().slice(0, -1).split('\0'));
    };
    writePlan([['cover', outside], ...basic()]);
    for (const dir of [
      path.join(outside, 'gone'),
      path.join(home, 'gone'),
      path.join(tmp, 'gone'),
    ]) {
      const words = inDeleted(dir);
      expect(words.slice(words.indexOf('--rbind-cwd'), words.indexOf('--rbind-cwd') + 2)).toEqual([
        '--rbind-cwd',
        dir,
      ]);
      expect(words).not.toContain('--cwd');
    }
    // A fixed working dir needs no cwd: the plan is taken all the same.
    writePlan([['workdir', '/w'], ...basic()]);
    expect(inDeleted(path.join(tmp, 'gone-too'))).toContain('/w');
  });

  it('binds HOME unless homebind is no, HOME is covered, "/" or relative', () => {
    writePlan([['homebind', 'no'], ...basic()]);
    const noHome = dryRun([], { cwd: path.join(home, 'project') });
    expect(noHome).not.toContain('--try-rbind');
    // The cwd under an unbound HOME is bound itself.
    expect(noHome.slice(2, 4)).toEqual(['--rbind-cwd', path.join(home, 'project')]);
    writePlan([['homebind', 'caller'], ['cover', path.dirname(home)], ...basic()]);
    expect(dryRun([])).not.toContain('--try-rbind');
    writePlan(basic());
    expect(dryRun([], { env: { HOME: '/' } })).not.toContain('--try-rbind');
    expect(dryRun([], { env: { HOME: 'relative' } })).not.toContain('--try-rbind');
  });

  it('envdep: the value the plan used, or unset; any difference declines', () => {
    writePlan([
      ['envdep', 'PILOT_T_SET', '=value'],
      ['envdep', 'PILOT_T_EMPTY', '='],
      ['envdep', 'PILOT_T_UNSET', '-'],
      ...basic(),
    ]);
    const env = { PILOT_T_SET: 'value', PILOT_T_EMPTY: '' };
    expect(dryRun([], { env })).toContain('/bin/prog');
    const stale = 'pilot: fast path required but declined: plan is stale: variable';
    expect(declined({ env: { ...env, PILOT_T_SET: 'other' } })).toBe(
      `${stale} PILOT_T_SET changed\n`,
    );
    expect(declined({ env: { PILOT_T_SET: 'value' } })).toBe(`${stale} PILOT_T_EMPTY changed\n`);
    expect(declined({ env: { ...env, PILOT_T_UNSET: '' } })).toBe(
      `${stale} PILOT_T_UNSET changed\n`,
    );
  });

  it('declines a PILOT_ROOT the Node launcher refuses (relative, or with , : \\ or a newline)', () => {
    writePlan(basic());
    const prefix =
      'pilot: fast path required but declined: PILOT_ROOT is not a plain absolute path';
    // A plan under such a root (written when pilot still took it) is not run either.
    const odd = path.join(tmp, 'odd:root');
    fs.mkdirSync(path.join(odd, 'run/pilot/plans'), { recursive: true });
    fs.copyFileSync(plan, path.join(odd, 'run/pilot/plans', path.basename(plan)));
    for (const bad of [odd, 'rel/root', `${root},x`, `${root}\\x`]) {
      expect(declined({ env: { PILOT_ROOT: bad } })).toBe(`${prefix}: ${bad}\n`);
    }
    expect(dryRun([])).toContain('/bin/prog');
  });

  it('compares a dirstamp with stat (symlinks followed): dev, inode, mtime and ctime', () => {
    const prefix = 'pilot: fast path required but declined:';
    const dir = path.join(tmp, 'stamped-dir');
    fs.mkdirSync(dir, { recursive: true });
    const via = path.join(tmp, 'stamped-dir-link');
    if (!fs.existsSync(via)) fs.symlinkSync(dir, via);
    const dirStampOf = (d: string) => {
      const s = fs.statSync(d, { bigint: true });
      return `${s.dev}:${s.ino}:${s.mtimeNs}:${s.ctimeNs}`;
    };
    writePlan([['dirstamp', via, dirStampOf(dir)], ...basic()]);
    expect(dryRun([])).toContain('/bin/prog');
    writePlan([['dirstamp', path.join(tmp, 'no-such-dir'), '-'], ...basic()]);
    expect(dryRun([])).toContain('/bin/prog');
    // A file added (as a package upgrade renames one into place): mtime and ctime change.
    writePlan([['dirstamp', dir, dirStampOf(dir)], ...basic()]);
    fs.writeFileSync(path.join(dir, `added-${Date.now()}`), '');
    expect(declined()).toBe(`${prefix} plan is stale: ${dir}\n`);
    // A chmod changes only the ctime.
    writePlan([['dirstamp', dir, dirStampOf(dir)], ...basic()]);
    const before = dirStampOf(dir);
    for (let k = 0; dirStampOf(dir) === before && k < 100; k++)
      fs.chmodSync(dir, k % 2 === 0 ? 0o700 : 0o755);
    expect(declined()).toBe(`${prefix} plan is stale: ${dir}\n`);
    writePlan([...basic(), ['dirstamp', dir]]);
    expect(declined()).toBe(`${prefix} truncated plan: dirstamp\n`);
  });

  it('declines a stale stamp, another format, an unknown or cut-short record, no program', () => {
    const prefix = 'pilot: fast path required but declined:';
    writePlan([['stamp', stamped, '1:2:3:4'], ...basic()]);
    expect(declined()).toBe(`${prefix} plan is stale: ${stamped}\n`);
    writePlan(basic(), ['pilot-plan', '1']);
    expect(declined()).toBe(`${prefix} unknown plan format: ${plan}\n`);
    writePlan([['passenv', 'FOO'], ...basic()]);
    expect(declined()).toBe(`${prefix} unknown plan record: passenv\n`);
    writePlan([...basic(), ['stamp', stamped]]);
    expect(declined()).toBe(`${prefix} truncated plan: stamp\n`);
    writePlan([...basic(), ['envdep', 'X']]);
    expect(declined()).toBe(`${prefix} truncated plan: envdep\n`);
    writePlan([...basic(), ['opt']]);
    expect(declined()).toBe(`${prefix} truncated plan: opt\n`);
    // Cut short inside its last word: "program /bin/pr" is no program /bin/pr.
    writePlan(basic());
    fs.truncateSync(plan, fs.statSync(plan).size - 1);
    expect(declined()).toBe(`${prefix} truncated plan: ${plan}\n`);
    writePlan([['homebind', 'sometimes'], ...basic()]);
    expect(declined()).toBe(`${prefix} unknown homebind: sometimes\n`);
    writePlan(basic().filter(([key]) => key !== 'program'));
    expect(declined()).toBe(`${prefix} plan has no program\n`);
    fs.rmSync(plan);
    // Neither the store's plan nor the caller's own: the caller's is named; a store plan
    // that is there but not taken says why.
    expect(declined()).toBe(`${prefix} no plan yet: ${plan}\n`);
    const inStore = path.join(root, `var/lib/pilot/plans/${app}.u${process.getuid?.()}.plan`);
    fs.mkdirSync(path.dirname(inStore), { recursive: true });
    fs.writeFileSync(inStore, 'pilot-plan\x03\0');
    expect(declined()).toBe(`${prefix} unknown plan format: ${inStore}\n`);
    fs.chmodSync(path.dirname(inStore), 0o777);
    expect(declined()).toBe(`${prefix} plan not trusted (its dir): ${inStore}\n`);
    fs.rmSync(path.dirname(inStore), { recursive: true });
    writePlan(basic());
    expect(declined({ env: { PILOT_DEBUG: '1' } })).toBe(`${prefix} PILOT_DEBUG is set\n`);
    expect(declined({}, ['%ignore_missing_volume_path'])).toBe(
      `${prefix} launcher argument: %ignore_missing_volume_path\n`,
    );
  });

  it('passes the arguments the launcher passes unchanged, and steps aside for the ones it takes', () => {
    const prefix = 'pilot: fast path required but declined:';
    writePlan(basic());
    // printf '%s', curl -d @file: the app's own, on both paths (src/core/caller-args.ts).
    const own = ['%s', '%bogus', '%ignore_sync_error:a:b', '%Progress', '@file', '@', '%'];
    expect(dryRun(own).slice(-own.length)).toEqual(own);
    for (const taken of ['%progress', '%progress:1', '%remove:', '@@x', '%%x']) {
      expect(declined({}, ['a', taken])).toBe(`${prefix} launcher argument: ${taken}\n`);
    }
    // A kept instance's plan serves its default instance only: @NAME names another.
    const pids = fs.mkdtempSync(path.join(tmp, 'pids-'));
    writePlan([['pidfile', pids], ...basic()]);
    expect(declined({}, ['@dev', 'a'])).toBe(`${prefix} instance argument: @dev\n`);
    expect(dryRun(['@'])).toContain('@');
  });

  it('steps aside to the Node launcher when it declines (dry-run too: the launcher prints)', () => {
    writePlan(basic(), ['pilot-plan', '1']);
    for (const mode of [undefined, 'dry-run']) {
      const r = call(['one', 'two'], { mode });
      expect(r.status).toBe(0);
      expect(r.stdout.toString()).toBe(`launcher ${link} one two\n`);
    }
    writePlan(basic());
    const off = call(['x'], { mode: 'off' });
    expect(off.stdout.toString()).toBe(`launcher ${link} x\n`);
  });

  it('dry-run records no call in an instance', () => {
    const pids = fs.mkdtempSync(path.join(tmp, 'pids-'));
    writePlan([['pidfile', pids], ...basic()]);
    expect(dryRun([])).toContain('/bin/prog');
    expect(fs.readdirSync(pids)).toEqual([]);
  });

  describe.skipIf(process.getuid?.() !== 0 || !fs.existsSync(busybox))('as root', () => {
    it('runs the plan: pilot-exec in the same process, the call recorded', () => {
      const base = path.join(tmp, 'base');
      fs.mkdirSync(path.join(base, 'bin'), { recursive: true });
      fs.copyFileSync(busybox, path.join(base, 'bin/busybox'));
      fs.chmodSync(path.join(base, 'bin/busybox'), 0o755);
      for (const applet of ['sh', 'env', 'grep']) {
        fs.symlinkSync('busybox', path.join(base, 'bin', applet));
      }
      const pids = fs.mkdtempSync(path.join(tmp, 'pids-'));
      writePlan([
        ['pidfile', pids],
        ['callers', 'all'],
        ...[
          ['opt', '--lowerdir'],
          ['opt', base],
        ],
        ...[
          ['opt', '--image-env'],
          ['opt', 'IMG=image'],
          ['opt', '--pass-env'],
          ['opt', 'PASS_*'],
        ],
        ['program', '/bin/sh'],
        ['fixed', '-c'],
        ['fixed', 'echo "$$ $IMG $PASS_ME $(env | grep -c ^LD_PRELOAD=) $*"'],
        ['fixed', 'sh'],
      ]);
      const r = call(['arg'], {
        cwd: '/',
        env: { HOME: '/', PASS_ME: 'passed', LD_PRELOAD: '/nowhere.so', PILOT_FASTPATH: 'require' },
      });
      expect(r.stderr.toString()).toBe('');
      expect(r.status).toBe(0);
      const [pid = '', ...rest] = r.stdout.toString().trim().split(' ');
      expect(rest).toEqual(['image', 'passed', '0', 'arg']);
      expect(pid).toBe(String(r.pid));
      expect(fs.readdirSync(pids)).toEqual([pid]);
      expect(fs.readFileSync(path.join(pids, pid), 'utf8')).toMatch(/^\d+\n$/);
    });
  });
});
