/**
 * The warm path: app links point at the static exec stub, which runs the plan the
 * Node launcher left, or steps aside to the launcher whenever that is not safe.
 */
import {
  chmodSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildArchive, mountsMatching, skipReason, TestRoot, watchOutput } from './harness.js';

const skip = skipReason();
const trace = { PILOT_FASTPATH_TRACE: '1' };
const TAKEN = 'pilot: fast path taken\n';

describe.skipIf(skip !== '')('fast path', () => {
  let root: TestRoot;
  let hostDir: string;
  const app = '/usr/bin/pilot-test';
  const tool = '/usr/bin/tool';

  beforeAll(() => {
    root = new TestRoot('fast');
    chmodSync(root.dir, 0o755);
    hostDir = mkdtempSync('/var/tmp/pilot-fast-');
    chmodSync(hostDir, 0o755);
    writeFileSync(join(hostDir, 'data'), 'version 1\n', { mode: 0o644 });
    const layer = join(root.dir, 'work/tool');
    mkdirSync(join(layer, 'usr/bin'), { recursive: true });
    writeFileSync(join(layer, 'removed'), `${hostDir}/data\n`);
    writeFileSync(join(layer, 'usr/bin/tool'), `#!/bin/sh\ncat ${hostDir}/data\n`, { mode: 0o755 });
    buildArchive(join(root.dir, 'work/tool.tar'), 'localhost/test/tool:latest', {}, [layer]);
    root.load('busybox-base', 'hello-delta');
    root.ok(['load', join(root.dir, 'work/tool.tar')]);
    root.ok([
      'register',
      '--container',
      'pilot/hello-delta',
      '--base',
      'pilot/busybox-base',
      '--app',
      app,
    ]);
    root.ok([
      'register',
      '--container',
      'test/tool',
      '--base',
      'pilot/busybox-base',
      '--app',
      tool,
    ]);
  });
  afterAll(() => {
    root?.pilot(['stop', '--all']);
    root?.cleanup();
    rmSync(hostDir, { recursive: true, force: true });
  });

  const call = (path: string, args: string[], env: NodeJS.ProcessEnv = {}, extra = {}) =>
    root.run(path, args, { env: { ...trace, ...env }, ...extra });

  it('register leaves a plan in the store: the first call takes the fast path', () => {
    const first = call(app, ['args', 'one']);
    expect(first.stderr).toBe(TAKEN);
    expect(first.stdout).toBe('[one]\n');
    // Without one (an app no command planned), a call plans and the next takes it.
    rmSync(join(root.dir, 'var/lib/pilot/plans'), { recursive: true });
    const cold = call(app, ['args', 'one']);
    expect(cold.stderr).toMatch(/fast path declined: no plan yet/);
    expect(cold.stdout).toBe('[one]\n');
    const second = call(app, ['args', 'a b', '', 'ü']);
    expect(second.stderr).toBe(TAKEN);
    expect(second.stdout).toBe('[a b]\n[]\n[ü]\n');
  });

  it('keeps exit codes, stdin, cwd and signals on the fast path', async () => {
    call(app, ['exit', '0']);
    const exit = call(app, ['exit', '9']);
    expect(exit.stderr).toBe(TAKEN);
    expect(exit.code).toBe(9);
    expect(call(app, ['cat'], {}, { input: 'piped\n' }).stdout).toBe('piped\n');
    const killed = call(app, ['kill', 'TERM']);
    expect(killed.signal ?? killed.code).toSatisfy((v: unknown) => v === 'SIGTERM' || v === 143);
    const dir = mkdtempSync('/var/tmp/pilot-fastcwd-');
    try {
      expect(call(app, ['pwd'], {}, { cwd: dir }).stdout).toBe(`${dir}\n`);
      expect(call(app, ['touch', 'x'], {}, { cwd: dir }).code).toBe(0);
      expect(statSync(join(dir, 'x')).isFile()).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // The stub execs the app: the process we started IS the app, so SIGTERM reaches it directly.
    const child = root.start(app, ['trap'], { env: trace });
    const out = watchOutput(child);
    await out.until('ready');
    child.kill('SIGTERM');
    const code = await new Promise((resolve) => child.on('exit', (c) => resolve(c)));
    expect(code).toBe(42);
    expect(out.text).toContain('got TERM');
  });

  it.each([
    [['%ignore_sync_error', 'args', 'x'], {}, /launcher argument: %ignore_sync_error/],
    [['args', '%ignore_sync_error:yes', 'x'], {}, /launcher argument: %ignore_sync_error:yes/],
    [['args', 'x'], { PILOT_DEBUG: '1' }, /PILOT_DEBUG is set/],
    [['args', 'x'], { PILOT_FASTPATH: 'off' }, /PILOT_FASTPATH=off/],
  ])('steps aside for %j %j', (args, env, reason) => {
    call(app, ['exit', '0']);
    const r = call(app, args as string[], env as NodeJS.ProcessEnv);
    expect(r.stderr).toMatch(reason as RegExp);
    expect(r.stdout).toBe('[x]\n');
  });

  it("takes the arguments pilot passes unchanged (printf '%s', curl -d @file) and steps aside for @@x", () => {
    call(app, ['exit', '0']);
    const own = call(app, ['args', '%s', '@file', '@dev', '%bogus']);
    expect(own.stderr).toBe(TAKEN);
    expect(own.stdout).toBe('[%s]\n[@file]\n[@dev]\n[%bogus]\n');
    const escaped = call(app, ['args', '@@x', '%%y']);
    expect(escaped.stderr).toMatch(/launcher argument: @@x/);
    expect(escaped.stdout).toBe('[@x]\n[%y]\n');
  });

  it('steps aside when a flake file changed, and plans again', () => {
    call(app, ['exit', '0']);
    const flake = join(root.dir, 'usr/share/flakes/pilot-test.yaml');
    const later = new Date(Date.now() + 5000);
    utimesSync(flake, later, later);
    const r = call(app, ['args', 'y']);
    expect(r.stderr).toMatch(/plan is stale: .*pilot-test\.yaml/);
    expect(r.stdout).toBe('[y]\n');
    expect(call(app, ['args', 'z']).stderr).toBe(TAKEN);
  });

  it('keeps the plan over a reboot; steps aside when it was removed or is not trustworthy', () => {
    call(app, ['exit', '0']);
    // A reboot clears the run dir; the plan is in the store.
    rmSync(join(root.dir, 'run'), { recursive: true });
    expect(call(app, ['exit', '0']).stderr).toBe(TAKEN);
    const plan = join(root.dir, 'var/lib/pilot/plans/pilot-test.u0.plan');
    rmSync(plan);
    expect(call(app, ['args', 'x']).stderr).toMatch(/no plan yet/);
    chmodSync(plan, 0o666);
    expect(call(app, ['args', 'x']).stderr).toMatch(/not trusted/);
  });

  it('refreshes the plan after a host file from /removed is replaced', () => {
    expect(call(tool, []).stdout).toBe('version 1\n');
    expect(call(tool, []).stderr).toBe(TAKEN);
    // A package upgrade writes a new file and renames it over the old: a new inode.
    writeFileSync(join(hostDir, 'data.new'), 'version 2\n', { mode: 0o644 });
    renameSync(join(hostDir, 'data.new'), join(hostDir, 'data'));
    const r = call(tool, []);
    // The directory's stamp, or the file's own when the directory was racy at the scan.
    expect(r.stderr).toMatch(/plan is stale: .*\/pilot-fast-[^/]+(\/data)?\n/);
    expect(r.stdout).toBe('version 2\n');
    const again = call(tool, []);
    expect(again.stderr).toBe(TAKEN);
    expect(again.stdout).toBe('version 2\n');
  });

  it('stamps host files by their directory, a copied one by itself, and re-plans on each change', () => {
    const dir = mkdtempSync('/var/tmp/pilot-faststamps-');
    const quiet = () => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 250);
    try {
      chmodSync(dir, 0o755);
      writeFileSync(join(dir, 'linked'), 'linked 1\n', { mode: 0o644 });
      // Not the builder's: the host layer holds a copy (pilot/exec/tree.c).
      writeFileSync(join(dir, 'copied'), 'copied 1\n', { mode: 0o644 });
      chownSync(join(dir, 'copied'), 65534, 65534);
      const layer = join(root.dir, 'work/stamps');
      mkdirSync(join(layer, 'usr/bin'), { recursive: true });
      writeFileSync(
        join(layer, 'removed'),
        ['linked', 'copied', 'later'].map((f) => `${dir}/${f}\n`).join(''),
      );
      writeFileSync(
        join(layer, 'usr/bin/stamps'),
        `#!/bin/sh\ncd ${dir} && cat linked copied later 2>/dev/null; exit 0\n`,
        { mode: 0o755 },
      );
      buildArchive(join(root.dir, 'work/stamps.tar'), 'localhost/test/stamps:latest', {}, [layer]);
      root.ok(['load', join(root.dir, 'work/stamps.tar')]);
      root.ok([
        'register',
        '--container',
        'test/stamps',
        '--base',
        'pilot/busybox-base',
        '--app',
        '/usr/bin/stamps',
      ]);
      const stamps = '/usr/bin/stamps';
      const stale = (what: string) => new RegExp(`plan is stale: ${dir}(/${what})?\n`);
      quiet(); // the directory is not racy when the plan is made
      expect(call(stamps, []).stdout).toBe('linked 1\ncopied 1\n');
      const words = readFileSync(
        join(root.dir, 'var/lib/pilot/plans/stamps.u0.plan'),
        'latin1',
      ).split('\0');
      const recordsOf = (path: string) =>
        words.flatMap((w, k) => (words[k + 1] === path ? [w] : []));
      expect(recordsOf(dir)).toEqual(['dirstamp']);
      expect(recordsOf(join(dir, 'copied'))).toEqual(['stamp']);
      expect(recordsOf(join(dir, 'linked'))).toEqual([]);
      // An edit in place of the linked file is seen through the link: no new plan needed.
      writeFileSync(join(dir, 'linked'), 'linked 2\n');
      let r = call(stamps, []);
      expect(r.stderr).toBe(TAKEN);
      expect(r.stdout).toBe('linked 2\ncopied 1\n');
      // An edit in place of the copy: its own stamp.
      writeFileSync(join(dir, 'copied'), 'copied 2\n');
      r = call(stamps, []);
      expect(r.stderr).toMatch(/plan is stale: .*\/copied\n/);
      expect(r.stdout).toBe('linked 2\ncopied 2\n');
      // A replaced file (a package upgrade renames a new inode into place).
      quiet();
      writeFileSync(join(dir, 'linked.new'), 'linked 3\n', { mode: 0o644 });
      renameSync(join(dir, 'linked.new'), join(dir, 'linked'));
      r = call(stamps, []);
      expect(r.stderr).toMatch(stale('linked'));
      expect(r.stdout).toBe('linked 3\ncopied 2\n');
      // A listed file that appears, then one that goes.
      quiet();
      expect(call(stamps, []).stderr).toMatch(/fast path taken|plan is stale/);
      quiet();
      expect(call(stamps, []).stderr).toBe(TAKEN);
      writeFileSync(join(dir, 'later'), 'later 1\n', { mode: 0o644 });
      r = call(stamps, []);
      expect(r.stderr).toMatch(stale('later'));
      expect(r.stdout).toBe('linked 3\ncopied 2\nlater 1\n');
      quiet();
      call(stamps, []);
      rmSync(join(dir, 'linked'));
      r = call(stamps, []);
      expect(r.stderr).toMatch(stale('linked'));
      expect(r.stdout).toBe('copied 2\nlater 1\n');
      expect(call(stamps, []).stderr).toBe(TAKEN);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('serves an unprivileged caller from its own plan', () => {
    const home = mkdtempSync(join(tmpdir(), 'pilot-fastnobody-'));
    try {
      chownSync(home, 65534, 65534);
      const as = { uid: 65534, gid: 65534, cwd: home };
      call(app, ['id'], { HOME: home }, as);
      const r = call(app, ['id'], { HOME: home }, as);
      expect(r.stderr).toBe(TAKEN);
      expect(r.stdout).toBe('65534:65534\n');
      expect(call(app, ['touch', 'mine'], { HOME: home }, as).code).toBe(0);
      expect(statSync(join(home, 'mine')).uid).toBe(65534);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  it('execs into a kept resume instance, recorded for ps and stop', async () => {
    const kept = '/usr/bin/kept';
    root.ok([
      'register',
      '--container',
      'pilot/hello-delta',
      '--base',
      'pilot/busybox-base',
      '--app',
      kept,
      '--target',
      '/usr/bin/pilot-test',
      '--resume',
    ]);
    expect(call(kept, ['write', '/var/lib/kept-state', 'v']).code).toBe(0);
    const fast = call(kept, ['ls', '/var/lib/kept-state']);
    expect(fast.stderr).toBe(TAKEN);
    expect(fast.stdout).toBe('/var/lib/kept-state\n');
    const child = root.start(kept, ['trap'], { env: trace });
    const out = watchOutput(child);
    await out.until('ready');
    const ps = JSON.parse(root.ok(['ps', '--json']).stdout) as {
      app: string;
      state: string;
      pids: number[];
    }[];
    expect(ps.find((i) => i.app === 'kept' && i.state === 'running')?.pids).toEqual([child.pid]);
    const exited = new Promise((resolve) => child.on('exit', (c) => resolve(c)));
    root.ok(['stop', 'kept']);
    expect(await exited).toBe(42);
    // Stopped: the next call plans again (the mount is gone) and starts a fresh instance.
    const after = call(kept, ['ls', '/var/lib/kept-state']);
    expect(after.stderr).toMatch(/fast path declined/);
    expect(after.code).not.toBe(0);
    root.ok(['stop', '--all']);
  });

  it('leaves no mount behind', () => {
    expect(mountsMatching(root.dir)).toEqual([]);
  });
});
