/**
 * An app called from a directory that was removed (`mkdir g; cd g; rmdir ../g; app`) runs
 * there, as a native program does: the directory is empty, nothing can be created in it,
 * and the app's other files work. Root and an unprivileged caller, on both launch paths.
 */
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BOTH_PATHS, skipReason, TestRoot } from './harness.js';

const skip = skipReason();
const NOBODY = 65534;

describe.skipIf(skip !== '').each(BOTH_PATHS)('a deleted working directory (%s path)', (path) => {
  let root: TestRoot;
  const app = '/usr/bin/pilot-test';
  const made: string[] = [];

  beforeAll(() => {
    root = new TestRoot('deleted-cwd', path);
    chmodSync(root.dir, 0o755);
    root.load('busybox-base', 'hello-delta');
    root.ok([
      'register',
      ...['--container', 'pilot/hello-delta', '--base', 'pilot/busybox-base', '--app', app],
    ]);
  });
  afterAll(() => {
    root?.cleanup();
    for (const dir of made) rmSync(dir, { recursive: true, force: true });
  });

  /** A parent dir for the deleted cwd, owned by `uid`. */
  function parent(under: string, uid = 0): string {
    const dir = mkdtempSync(join(under, 'pilot-gone-'));
    made.push(dir);
    chmodSync(dir, 0o755);
    chownSync(dir, uid, uid);
    return dir;
  }

  function expectRunsThere(options: {
    cwd: string;
    uid?: number;
    gid?: number;
    env?: NodeJS.ProcessEnv;
  }) {
    const call = (args: string[]) => root.run(app, args, { ...options, deleteCwd: true });
    const args = call(['args', 'a b']);
    expect(args.stderr).toBe('');
    expect(args.code).toBe(0);
    expect(args.stdout).toBe('[a b]\n');
    // The directory itself: empty, and (as on the host) nothing can be created in it.
    const ls = call(['ls', '-a']);
    expect(ls.stderr).toBe('');
    expect([ls.code, ls.stdout]).toEqual([0, '']);
    const touch = call(['touch', 'made']);
    expect(touch.code).not.toBe(0);
    expect(touch.stderr).toMatch(/made: No such file or directory/);
    expect(existsSync(options.cwd)).toBe(false);
    if (path === 'fast') {
      // The stub took it itself (it used to step aside: "cwd cannot be shown").
      const env = { ...options.env, PILOT_FASTPATH_TRACE: '1' };
      const traced = root.run(app, ['exit', '0'], { ...options, env, deleteCwd: true });
      expect([traced.code, traced.stderr]).toEqual([0, 'pilot: fast path taken\n']);
    }
  }

  it.each([
    ['/tmp', 'under /tmp, which every app sees'],
    ['/var/tmp', 'elsewhere, bound by descriptor'],
  ])('root: the app runs in a deleted directory %s (%s)', (under) => {
    expectRunsThere({ cwd: join(parent(under), 'gone') });
  });

  it.each([
    '/tmp',
    '/var/tmp',
  ])('an unprivileged caller: the app runs in a deleted directory under %s', (under) => {
    const home = parent('/var/tmp', NOBODY);
    expectRunsThere({
      cwd: join(parent(under, NOBODY), 'gone'),
      uid: NOBODY,
      gid: NOBODY,
      env: { HOME: home },
    });
  });
});
