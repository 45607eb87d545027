/**
 * The launcher's host-binary guarantees, checked through real app links in a
 * temp PILOT_ROOT with the example images (busybox base, deltas, a layer).
 */
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BOTH_PATHS,
  buildArchive,
  mountsMatching,
  skipReason,
  TestRoot,
  watchOutput,
} from './harness.js';

const skip = skipReason();
const NOBODY = 65534;

// The whole suite runs on both launch paths and must give the same results (harness.ts).
describe.skipIf(skip !== '').each(BOTH_PATHS)('launcher (%s path)', (path) => {
  let root: TestRoot;
  const app = '/usr/bin/pilot-test';

  beforeAll(() => {
    root = new TestRoot('launch', path);
    chmodSync(root.dir, 0o755);
    root.load('busybox-base', 'hello-delta', 'jq-delta', 'whiteout-layer');
    const base = ['--base', 'pilot/busybox-base'];
    root.ok(['register', '--container', 'pilot/hello-delta', ...base, '--app', app]);
    root.ok(['register', '--container', 'pilot/hello-delta', ...base, '--app', '/usr/bin/hello']);
    root.ok(['register', '--container', 'pilot/jq-delta', ...base, '--app', '/usr/bin/jq-app']);
    root.ok([
      'register',
      '--container',
      'pilot/jq-delta',
      ...base,
      '--app',
      '/usr/local/bin/jq-ls',
      '--target',
      '/usr/bin/ls',
    ]);
    root.ok([
      'register',
      '--container',
      'pilot/hello-delta',
      ...base,
      '--layer',
      'pilot/whiteout-layer',
      '--app',
      '/usr/bin/layered',
      '--target',
      '/usr/bin/pilot-test',
    ]);
  });
  afterAll(() => root?.cleanup());

  it('passes arguments exactly', () => {
    const args = ['a b', '', 'ü ñ ✓', '$HOME', '*', '-n', '--', "it's"];
    const r = root.run(app, ['args', ...args]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(args.map((a) => `[${a}]\n`).join(''));
  });

  it("passes every argument but pilot's named options to a one-shot app (printf '%s', curl -d @file)", () => {
    const args = ['%s', '@file', '@dev', '%bogus', '@@at', '%%pct', '%interactive:1', '%remove'];
    const r = root.run(app, ['args', ...args]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('[%s]\n[@file]\n[@dev]\n[%bogus]\n[@at]\n[%pct]\n');
  });

  it('runs the default target found in the image', () => {
    const r = root.run('/usr/bin/hello', ['x']);
    expect(r.stdout).toBe('hello from pilot\n[x]\n');
  });

  it('keeps a pipe a pipe, in and out, without a pty', () => {
    const input = 'line one\nline two\n\u0000binary\n';
    const r = root.run(app, ['cat'], { input });
    expect(r.stdout).toBe(input);
    expect(root.run(app, ['tty'], { input: '' }).stdout).toBe(
      'stdin=notty\nstdout=notty\nstderr=notty\n',
    );
    const err = root.run(app, ['stderr', 'to stderr']);
    expect(err.stderr).toBe('to stderr\n');
    expect(err.stdout).toBe('');
  });

  it.each([0, 1, 7, 100, 255])('returns the exit code %i', (code) => {
    expect(root.run(app, ['exit', String(code)]).code).toBe(code);
  });

  it.each([
    ['TERM', 143],
    ['KILL', 137],
    ['HUP', 129],
  ])('returns 128+N when the app dies of SIG%s', (signal, code) => {
    const r = root.run(app, ['kill', signal]);
    expect(r.code ?? 128 + (r.signal === `SIG${signal}` ? code - 128 : 0)).toBe(code);
  });

  it('forwards SIGTERM and SIGHUP to an app that traps them', async () => {
    const child = root.start(app, ['trap']);
    const out = watchOutput(child);
    await out.until('ready');
    child.kill('SIGHUP');
    await new Promise((r) => setTimeout(r, 300));
    child.kill('SIGTERM');
    const code = await new Promise((resolve) => child.on('exit', (c) => resolve(c)));
    expect(out.text).toContain('got HUP');
    expect(out.text).toContain('got TERM');
    expect(code).toBe(42);
  });

  it('runs in the caller cwd with its files, and files land on the host', () => {
    const dir = mkdtempSync('/var/tmp/pilot-cwd-');
    try {
      writeFileSync(join(dir, 'host-file'), 'x');
      expect(root.run(app, ['pwd'], { cwd: dir }).stdout).toBe(`${dir}\n`);
      expect(root.run(app, ['ls'], { cwd: dir }).stdout).toBe('host-file\n');
      expect(root.run(app, ['touch', 'made-inside'], { cwd: dir }).code).toBe(0);
      expect(statSync(join(dir, 'made-inside')).uid).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('shows the caller HOME and /tmp', () => {
    const home = mkdtempSync('/var/tmp/pilot-home-');
    try {
      writeFileSync(join(home, '.rc'), 'x');
      expect(root.run(app, ['ls', '-a', home], { env: { HOME: home } }).stdout).toContain('.rc');
      const tmpFile = join(root.dir, 'in-tmp');
      writeFileSync(tmpFile, 'x');
      expect(root.run(app, ['ls', tmpFile]).code).toBe(0);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  it('passes the caller environment; image Env wins over it, PATH is the image one', () => {
    expect(root.run(app, ['env', 'PILOT_CALLER'], { env: { PILOT_CALLER: 'yes' } }).stdout).toBe(
      'yes\n',
    );
    // The link's `#!/usr/bin/env node` still needs node on PATH.
    const hostPath = `${dirname(process.execPath)}:/host/only`;
    expect(root.run(app, ['env', 'PATH'], { env: { PATH: hostPath } }).stdout).toBe(
      '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n',
    );
  });

  it('gives each one-shot run a private upper that vanishes', () => {
    expect(root.run(app, ['write', '/var/lib/pilot-state', 'one']).code).toBe(0);
    expect(root.run(app, ['ls', '/var/lib/pilot-state']).code).not.toBe(0);
  });

  it('provides host files from /removed (jq and its libraries) and hides /removed', () => {
    const r = root.run('/usr/bin/jq-app', ['-n', '-c', '{a: (1+1)}']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('{"a":2}\n');
    expect(root.run('/usr/local/bin/jq-ls', ['/removed']).code).not.toBe(0);
    expect(root.run('/usr/local/bin/jq-ls', ['/usr/bin/jq']).code).toBe(0);
  });

  it('stacks a --layer whose whiteout hides a base file and whose opaque dir hides its contents', () => {
    expect(root.run('/usr/bin/layered', ['ls', '/usr/bin/wc']).code).not.toBe(0);
    expect(root.run(app, ['ls', '/usr/bin/wc']).code).toBe(0);
    expect(root.run('/usr/bin/layered', ['ls', '/usr/share/pilot-opaque']).stdout).toBe('b\n');
    expect(root.run(app, ['ls', '/usr/share/pilot-opaque']).stdout).toBe('a\n');
  });

  it('runs an unprivileged caller as itself, files owned by the caller', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pilot-nobody-'));
    try {
      chownSync(dir, NOBODY, NOBODY);
      const as = { uid: NOBODY, gid: NOBODY, cwd: dir, env: { HOME: dir } };
      const id = root.run(app, ['id'], as);
      expect(id.stderr).toBe('');
      expect(id.stdout).toBe(`${NOBODY}:${NOBODY}\n`);
      expect(root.run(app, ['touch', 'mine'], as).code).toBe(0);
      expect(statSync(join(dir, 'mine')).uid).toBe(NOBODY);
      expect(root.run('/usr/bin/jq-app', ['-n', '3'], as).stdout).toBe('3\n');
      expect(root.run('/usr/bin/layered', ['ls', '/usr/share/pilot-opaque'], as).stdout).toBe(
        'b\n',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('prints each step with PILOT_DEBUG=1', () => {
    const r = root.run(app, ['exit', '0'], { env: { PILOT_DEBUG: '1' } });
    expect(r.stderr).toMatch(/pilot: \+[\d.]+ms .*flake loaded/);
    expect(r.stderr).toMatch(/pilot: exec .*pilot-exec/);
  });

  it('leaves no mount behind', () => {
    expect(mountsMatching(root.dir)).toEqual([]);
  });
});

describe.skipIf(skip !== '')('launcher refusals', () => {
  let root: TestRoot;
  let work: string;

  beforeAll(() => {
    root = new TestRoot('refuse');
    work = join(root.dir, 'work');
    root.load('busybox-base');
    const layer = (name: string, removed: string) => {
      const dir = join(work, name);
      mkdirSync(join(dir, 'usr/bin'), { recursive: true });
      writeFileSync(join(dir, 'removed'), removed);
      writeFileSync(join(dir, 'usr/bin/app'), '#!/bin/sh\necho ran\n', { mode: 0o755 });
      return dir;
    };
    buildArchive(join(work, 'missing.tar'), 'localhost/test/missing:latest', {}, [
      layer('missing', '# host files\n/usr/bin/jq\n/nonexistent/pilot-file\n/also/missing\n'),
    ]);
    buildArchive(join(work, 'escape.tar'), 'localhost/test/escape:latest', {}, [
      layer('escape', '../../etc/shadow\n'),
    ]);
    root.ok(['load', join(work, 'missing.tar')]);
    buildArchive(join(work, 'gone.tar'), 'localhost/test/gone:latest', {}, [
      layer('gone', '/usr/bin/jq\n'),
    ]);
    root.ok(['load', join(work, 'escape.tar')]);
    root.ok(['load', join(work, 'gone.tar')]);
  });
  afterAll(() => root?.cleanup());

  it('skips missing /removed paths; host_files: strict lists each, exits 127, runs with %ignore_sync_error', () => {
    root.ok([
      'register',
      '--container',
      'test/missing',
      '--base',
      'pilot/busybox-base',
      '--app',
      '/usr/bin/app',
    ]);
    const skipped = root.run('/usr/bin/app');
    expect(skipped.stderr).toBe('');
    expect(skipped.stdout).toBe('ran\n');
    mkdirSync(join(root.dir, 'usr/share/flakes/app.d'));
    writeFileSync(
      join(root.dir, 'usr/share/flakes/app.d/10-strict.yaml'),
      'container:\n  host_files: strict\n',
    );
    const r = root.run('/usr/bin/app');
    expect(r.code).toBe(127);
    expect(r.stderr).toContain('/nonexistent/pilot-file');
    expect(r.stderr).toContain('/also/missing');
    expect(r.stderr).not.toContain('/usr/bin/jq\n');
    expect(r.stdout).toBe('');
    const ignored = root.run('/usr/bin/app', ['%ignore_sync_error']);
    expect(ignored.stdout).toBe('ran\n');
  });

  it('refuses a /removed path that escapes, at register, naming it', () => {
    const r = root.pilot([
      'register',
      '--container',
      'test/escape',
      '--base',
      'pilot/busybox-base',
      '--app',
      '/usr/bin/esc',
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('../../etc/shadow');
    expect(existsSync(root.link('/usr/bin/esc'))).toBe(false);
  });

  it('names an image gone from the store', () => {
    root.ok([
      'register',
      '--container',
      'test/gone',
      '--base',
      'pilot/busybox-base',
      '--app',
      '/usr/bin/gone',
      '--target',
      '/usr/bin/app',
    ]);
    expect(root.run('/usr/bin/gone').stdout).toBe('ran\n');
    // gc never deletes a pinned image; a store lost some other way must still be named.
    const id = JSON.parse(root.ok(['show', 'gone', '--json']).stdout).container.digests[
      'test/gone'
    ];
    rmSync(join(root.dir, 'var/lib/pilot/images', `${id.slice(7)}.json`));
    const r = root.run('/usr/bin/gone');
    expect(r.code).toBe(127);
    expect(r.stderr).toMatch(/test\/gone.*gone from the store/);
    expect(r.stderr).toContain('pilot load');
  });

  it('composes an image of 64 layers', () => {
    const dirs: string[] = [];
    for (let i = 0; i < 64; i++) {
      const dir = join(work, `many-${i}`);
      mkdirSync(join(dir, 'usr/share/many'), { recursive: true });
      writeFileSync(join(dir, 'usr/share/many', `f${i}`), String(i));
      dirs.push(dir);
    }
    buildArchive(join(work, 'many.tar'), 'localhost/test/many:latest', {}, dirs);
    root.ok(['load', join(work, 'many.tar')]);
    root.ok([
      'register',
      '--container',
      'test/many',
      '--base',
      'pilot/busybox-base',
      '--app',
      '/usr/bin/many',
      '--target',
      '/usr/bin/ls',
    ]);
    const r = root.run('/usr/bin/many', ['/usr/share/many']);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim().split('\n')).toHaveLength(64);
  });
});
