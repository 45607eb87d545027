/**
 * docs/plan.md, checked: for the same caller, the stub builds from a plan exactly the
 * command line the Node launcher gives pilot-exec (`helperArgv()`), and passes it the same
 * environment (the dry run prints both). Each case plans with the Node launcher (no plan
 * yet), then asks the stub, both in dry-run mode: root and an unprivileged caller, the cwd
 * in HOME, below it, elsewhere, in an image-owned dir, deleted; XDG_RUNTIME_DIR unset,
 * absolute, relative; flake options with binds (volume, tmpfs), a fixed workdir, an
 * Entrypoint, another identity (--user, runas), a kept instance.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipReason, TestRoot, testAccount } from './harness.js';

const skip = skipReason();
const NOBODY = 65534;

describe.skipIf(skip !== '')('plan spec: the stub and the Node launcher agree', () => {
  let root: TestRoot;
  let work: string;
  const base = ['--base', 'pilot/busybox-base'];

  beforeAll(() => {
    root = new TestRoot('plan-spec');
    chmodSync(root.dir, 0o755);
    work = join(root.dir, 'work');
    mkdirSync(work, { mode: 0o755 });
    root.load('busybox-base', 'hello-delta');
    const register = (app: string, ...extra: string[]) =>
      root.ok(['register', '--container', 'pilot/hello-delta', ...base, '--app', app, ...extra]);
    const data = join(work, 'data');
    mkdirSync(data);
    writeFileSync(join(work, 'app.env'), 'A=1\nB\n');
    register('/usr/bin/pilot-test');
    register(
      '/usr/bin/restricted',
      '--target',
      '/usr/bin/pilot-test',
      ...['--opt', '--read-only', '--opt', '--network none', '--opt', '--cap-drop=ALL'],
      ...['--opt', '--hostname box', '--opt', '--tmpfs /scratch:size=1m', '--opt', '--rm'],
      ...['--opt', `-v ${data}:/data:ro`, '--opt', `--env-file ${join(work, 'app.env')}`],
      ...['--opt', '-e X=%HOME/x', '--opt', '-e LC_*', '--opt', '--storage-opt size=10m'],
    );
    register('/usr/bin/as-nobody', '--target', '/usr/bin/pilot-test', '--opt', '--user 65534');
    register('/usr/bin/workdir', '--target', '/usr/bin/pilot-test', '--opt', '-w /tmp');
    register('/usr/bin/entry', '--target', '/', '--opt', '--entrypoint ["/bin/echo","fixed"]');
    register('/usr/bin/runas', '--target', '/usr/bin/pilot-test');
    const dropIns = join(root.dir, 'usr/share/flakes/runas.d');
    mkdirSync(dropIns);
    writeFileSync(
      join(dropIns, 'a.yaml'),
      `container:\n  runtime:\n    runas: ${testAccount().name}\n`,
    );
    register('/usr/bin/kept', '--target', '/usr/bin/pilot-test', '--resume');
  });
  afterAll(() => {
    root?.ok(['stop', '--all']);
    root?.cleanup();
  });

  /** The words pilot-exec would get, and which path printed them. */
  const dryRun = (
    app: string,
    args: string[],
    options: { uid?: number; cwd?: string; env?: NodeJS.ProcessEnv; deleted?: boolean },
  ) => {
    const env = root.env({ PILOT_FASTPATH: 'dry-run', PILOT_FASTPATH_TRACE: '1', ...options.env });
    // A caller's plans live in its own run dir: $XDG_RUNTIME_DIR/pilot (when absolute), else
    // ~/.cache/pilot/run; this process's own XDG_RUNTIME_DIR is root's.
    if (options.env?.XDG_RUNTIME_DIR === undefined) delete env.XDG_RUNTIME_DIR;
    const ids = options.uid === undefined ? {} : { uid: options.uid, gid: options.uid };
    // A deleted cwd: a shell makes it, enters it, removes it and execs the app.
    const r = options.deleted
      ? spawnSync(
          'sh',
          ['-c', 'mkdir "$1" && cd "$1" && rmdir "$1" && shift && exec "$@"', 'sh'].concat(
            options.cwd ?? '',
            root.link(app),
            args,
          ),
          { env, ...ids },
        )
      : spawnSync(root.link(app), args, { cwd: options.cwd ?? '/', env, ...ids });
    expect(r.status, r.stderr.toString()).toBe(0);
    // pilot-exec's words as the Node path would pipe them: the environment, then argv.
    return {
      words: r.stdout.toString('latin1').split('\0'),
      stub: /fast path taken/.test(r.stderr.toString()),
    };
  };

  const homes = new Map<number, string>();
  const homeOf = (uid: number) => {
    if (!homes.has(uid)) {
      const dir = mkdtempSync(join(work, `home-${uid}-`));
      chownSync(dir, uid, uid);
      mkdirSync(join(dir, 'sub'));
      chownSync(join(dir, 'sub'), uid, uid);
      homes.set(uid, dir);
    }
    return homes.get(uid)!;
  };

  /** An absolute XDG_RUNTIME_DIR of the caller's own, as /run/user/UID is. */
  const xdgOf = (uid: number) => {
    const dir = join(work, `xdg-${uid}`);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chownSync(dir, uid, uid);
    return dir;
  };

  const apps = ['pilot-test', 'restricted', 'as-nobody', 'workdir', 'entry', 'runas', 'kept'];
  const callers: [string, number | undefined][] = [
    ['root', undefined],
    ['an unprivileged caller', NOBODY],
  ];
  for (const app of apps) {
    for (const [who, uid] of callers) {
      // --user 65534 is only the caller's own for nobody; root runs the kept instance.
      if (app === 'kept' && uid !== undefined) continue;
      it(`${app}, ${who}: in HOME, below it, elsewhere, in /usr, deleted, with and without args, XDG_RUNTIME_DIR unset, absolute, relative`, () => {
        const home = homeOf(uid ?? 0);
        const elsewhere = mkdtempSync(join(work, 'cwd-'));
        if (uid !== undefined) chownSync(elsewhere, uid, uid);
        const cwds: { cwd: string; deleted?: boolean }[] = [
          ...[home, join(home, 'sub'), elsewhere, '/usr', '/'].map((cwd) => ({ cwd })),
        ];
        // Removed before the call: bound by descriptor wherever it was.
        cwds.push(
          ...[join(home, 'gone'), join(elsewhere, 'gone')].map((cwd) => ({ cwd, deleted: true })),
        );
        // XDG_RUNTIME_DIR unset everywhere; absolute and relative in HOME and elsewhere.
        type Call = { cwd: string; deleted?: boolean; args: string[]; xdg: NodeJS.ProcessEnv };
        const calls: Call[] = cwds.flatMap(({ cwd, deleted }) =>
          [[], ['args', 'a b', '']].map((args) => ({ cwd, deleted, args, xdg: {} })),
        );
        const xdg = xdgOf(uid ?? 0);
        for (const XDG_RUNTIME_DIR of [xdg, 'relative/xdg']) {
          for (const cwd of [home, elsewhere]) {
            calls.push({ cwd, args: ['x'], xdg: { XDG_RUNTIME_DIR } });
          }
        }
        for (const { cwd, deleted, args, xdg: xdgEnv } of calls) {
          const env = { HOME: home, LC_ALL: 'C', LANG: 'C', ...xdgEnv };
          const options = { uid, cwd, env, deleted };
          rmSync(join(root.dir, 'run/pilot/plans'), { recursive: true, force: true });
          rmSync(join(root.dir, 'var/lib/pilot/plans'), { recursive: true, force: true });
          rmSync(join(home, '.cache/pilot/run'), { recursive: true, force: true });
          rmSync(join(xdg, 'pilot'), { recursive: true, force: true });
          const node = dryRun(`/usr/bin/${app}`, args, options);
          const stub = dryRun(`/usr/bin/${app}`, args, options);
          expect(node.stub, 'the first call plans with Node').toBe(false);
          expect(stub.stub, `the stub takes the plan (${app}, cwd ${cwd})`).toBe(true);
          expect(stub.words).toEqual(node.words);
        }
      });
    }
  }

  // The store's plan, made by root (as register and the package hooks make it), serves
  // an unprivileged caller: the stub adds its part (run dir, user namespace, account
  // files) and gives the words the Node launcher gives that caller.
  // nobody is in the image's /etc/passwd; the test account is not: the stub makes its
  // account files (docs/plan.md) as the Node launcher does.
  for (const [app, who] of [
    ['pilot-test', 'nobody'],
    ['workdir', 'nobody'],
    ['entry', 'nobody'],
    ['pilot-test', 'account'],
  ] as const) {
    it(`${app}: root's plan in the store gives an unprivileged caller (${who}) its own command line`, () => {
      const uid = who === 'nobody' ? NOBODY : testAccount().uid;
      const home = homeOf(uid);
      const elsewhere = mkdtempSync(join(work, 'cwd-'));
      chownSync(elsewhere, uid, uid);
      const xdg = xdgOf(uid);
      for (const cwd of [home, elsewhere, '/']) {
        for (const xdgEnv of [{}, { XDG_RUNTIME_DIR: xdg }]) {
          const options = { uid, cwd, env: { HOME: home, LC_ALL: 'C', ...xdgEnv } };
          rmSync(join(root.dir, 'var/lib/pilot/plans'), { recursive: true, force: true });
          rmSync(join(home, '.cache/pilot/run'), { recursive: true, force: true });
          rmSync(join(xdg, 'pilot'), { recursive: true, force: true });
          const node = dryRun(`/usr/bin/${app}`, ['a b'], options);
          expect(node.stub, 'no plan yet: the Node launcher plans').toBe(false);
          rmSync(join(home, '.cache/pilot/run/plans'), { recursive: true, force: true });
          rmSync(join(xdg, 'pilot/plans'), { recursive: true, force: true });
          root.ok(['replan', app]);
          const stub = dryRun(`/usr/bin/${app}`, ['a b'], options);
          expect(stub.stub, `the stub takes root's plan (${app}, cwd ${cwd})`).toBe(true);
          expect(stub.words).toEqual(node.words);
          if (who === 'account') expect(stub.words.join(' ')).toMatch(/\.passwd \/etc\/passwd/);
        }
      }
    });
  }
});
