/**
 * What a flake-pilot site brings along (issue 14), through real images and app links:
 * a KIWI delta whose `/removed` lists files the host lacks or the caller cannot read, a
 * KIWI base whose `/systemfiles` is `set -e` + `rpm --noghost -ql` lines, hand-written
 * flakes without target_app_path, relative includes and firecracker (`vm:`) flakes.
 */
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  examples,
  layerDir,
  mountsMatching,
  repo,
  skipReason,
  TestRoot,
  testAccount,
} from './harness.js';

const skip = skipReason();

describe.skipIf(skip !== '')('KIWI delta images and flake-pilot flakes', () => {
  let root: TestRoot;
  let work: string;
  /** Host files the delta's /removed names (outside /tmp, which every app sees anyway). */
  let hostDir: string;
  /** A home and cwd for the unprivileged caller. */
  let userDir: string;
  const pwned = `/tmp/pilot-kiwi-pwned-${process.pid}`;
  const flakes = () => join(root.dir, 'usr/share/flakes');

  beforeAll(() => {
    root = new TestRoot('kiwi');
    chmodSync(root.dir, 0o755);
    work = join(root.dir, 'work');
    hostDir = mkdtempSync('/var/tmp/pilot-kiwi-');
    chmodSync(hostDir, 0o755);
    writeFileSync(join(hostDir, 'present'), 'from the host\n', { mode: 0o644 });
    writeFileSync(join(hostDir, 'secret'), 'root only\n', { mode: 0o600 });
    userDir = mkdtempSync('/var/tmp/pilot-kiwi-user-');
    const user = testAccount();
    chownSync(userDir, user.uid, user.gid);
    root.load('busybox-base');

    const dir = (name: string, files: Record<string, string>) => layerDir(work, name, files);
    const image = (name: string, layers: string[]) => root.loadLayers(work, name, layers);
    // The base as KIWI writes it: /systemfiles is a script flake-pilot runs as root. This
    // host has no rpm: jq can only arrive if pilot reads the lines as data. Each line
    // brings its package only (as rpm -ql lists it), so KIWI names jq's libraries too.
    image('kiwi-base', [
      join(examples, 'layers/busybox-base'),
      dir('kiwi-base', {
        systemfiles:
          'set -e\nrpm --noghost -ql jq\nrpm --noghost -ql libjq1\nrpm --noghost -ql libonig5\nrpm --noghost -ql libc6\n',
      }),
    ]);
    image('kiwi-delta', [
      dir('kiwi-delta', {
        'usr/bin/app': '#!/bin/sh\nfor f in "$@"; do cat "$f" || echo "cannot read $f"; done\n',
        // Names a host file, one the host lacks, one only root may read (and jq, from
        // the base's /systemfiles), as KIWI's lists of everything the delta build removed.
        removed: `${hostDir}/present\n${hostDir}/gone\n${hostDir}/secret\n/var/log/pilot-kiwi-gone.log\n`,
        // Not the base's copy: never read, let alone run.
        systemfiles: `dpkg -L pilot-uninstalled-package\ntouch ${pwned}\n`,
      }),
    ]);
    image('escape-delta', [
      dir('escape-delta', {
        'usr/bin/app': '#!/bin/sh\necho ran\n',
        removed: '/usr/../../etc/x\n',
      }),
    ]);
    root.ok([
      'register',
      '--container',
      'test/kiwi-delta',
      '--base',
      'test/kiwi-base',
      '--app',
      '/usr/bin/kiwi-app',
      '--target',
      '/usr/bin/app',
    ]);
  });
  afterAll(() => {
    root?.cleanup();
    for (const d of [hostDir, userDir]) if (d) rmSync(d, { recursive: true, force: true });
    rmSync(pwned, { force: true });
  });

  it('runs although /removed names host files that are missing, with jq from the base /systemfiles', () => {
    const r = root.run('/usr/bin/kiwi-app', [join(hostDir, 'present'), join(hostDir, 'secret')]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('from the host\nroot only\n');
    expect(r.code).toBe(0);
    // The app sees jq, which only the KIWI /systemfiles of the base asked for.
    root.ok([
      'register',
      '--container',
      'test/kiwi-delta',
      '--base',
      'test/kiwi-base',
      '--app',
      '/usr/bin/kiwi-jq',
      '--target',
      '/usr/bin/jq',
    ]);
    expect(root.run('/usr/bin/kiwi-jq', ['-n', '"data"']).stdout).toBe('"data"\n');
    expect(existsSync(pwned)).toBe(false);
  });

  it('check lists the missing ones, exits 1, and says the launch skips them', () => {
    const r = root.pilot(['check', 'kiwi-app']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      new RegExp(`^MISSING +${hostDir}/gone +/removed of image test/kiwi-delta`, 'm'),
    );
    expect(r.stdout).toMatch(/^MISSING +\/var\/log\/pilot-kiwi-gone\.log /m);
    expect(r.stdout).toMatch(new RegExp(`^ok +${hostDir}/secret `, 'm'));
    expect(r.stdout).toMatch(
      /^ok +package jq +\/systemfiles of image test\/kiwi-base \([0-9a-f]+\):2$/m,
    );
    expect(r.stdout).toContain('a launch skips the 2 missing /removed path(s)');
    expect(r.stdout).toMatch(/note: \/systemfiles of image test\/kiwi-delta .* is not read/);
    const json = JSON.parse(root.pilot(['check', 'kiwi-app', '--json']).stdout);
    expect(json.hostFiles).toBe('skip_missing');
    expect(json.missing).toEqual([`${hostDir}/gone`, '/var/log/pilot-kiwi-gone.log']);
  });

  it('%progress and PILOT_DEBUG=1 name each skipped file', () => {
    const progress = root.run('/usr/bin/kiwi-app', ['%progress', join(hostDir, 'present')]);
    expect(progress.code).toBe(0);
    expect(progress.stdout).toBe('from the host\n');
    expect(progress.stderr).toMatch(/kiwi-app: 2 host file\(s\) missing on the host, skipped/);
    expect(progress.stderr).toContain(`${hostDir}/gone`);
    const debug = root.run('/usr/bin/kiwi-app', [], { env: { PILOT_DEBUG: '1' } });
    expect(debug.code).toBe(0);
    expect(debug.stderr).toContain(`    ${hostDir}/gone`);
    expect(debug.stderr).toMatch(/host files checked: .*2 missing and skipped/);
    expect(debug.stderr).toMatch(/systemfiles of image test\/kiwi-delta .* not read/);
  });

  it('a file the caller cannot read is missing for that caller: skipped, and named', () => {
    const user = testAccount();
    const as = { uid: user.uid, gid: user.gid, cwd: userDir, env: { HOME: userDir } };
    const r = root.run('/usr/bin/kiwi-app', ['%progress', join(hostDir, 'secret')], as);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`cannot read ${hostDir}/secret\n`);
    expect(r.stderr).toContain(`${hostDir}/secret (unreadable)`);
    const check = root.pilot(['check', 'kiwi-app'], { uid: user.uid, gid: user.gid, cwd: userDir });
    expect(check.code).toBe(1);
    expect(check.stdout).toMatch(new RegExp(`^MISSING +${hostDir}/secret `, 'm'));
  });

  it('host_files: strict makes a missing /removed path fail the launch, exit 127', () => {
    mkdirSync(join(flakes(), 'kiwi-app.d'), { recursive: true });
    writeFileSync(
      join(flakes(), 'kiwi-app.d/50-strict.yaml'),
      'container:\n  host_files: strict\n',
    );
    try {
      const r = root.run('/usr/bin/kiwi-app', [join(hostDir, 'present')]);
      expect(r.code).toBe(127);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(
        /2 host file\(s\) that kiwi-app needs are missing \(container\.host_files: strict\)/,
      );
      expect(r.stderr).toContain(`${hostDir}/gone`);
      expect(root.ok(['show', 'kiwi-app']).stdout).toMatch(/^ {2}host_files: strict$/m);
      expect(root.ok(['show', 'kiwi-app']).stdout).toMatch(/^host files: strict: /m);
      expect(root.pilot(['check', 'kiwi-app']).stdout).toContain('container.host_files is strict');
      // %ignore_sync_error still runs it.
      expect(root.run('/usr/bin/kiwi-app', ['%ignore_sync_error']).code).toBe(0);
      // The file appears: the launch (and its cached plan) see it.
      writeFileSync(join(hostDir, 'gone'), 'now here\n');
      writeFileSync('/var/log/pilot-kiwi-gone.log', '');
      const now = root.run('/usr/bin/kiwi-app', [join(hostDir, 'gone')]);
      expect(now.stderr).toBe('');
      expect(now.stdout).toBe('now here\n');
    } finally {
      rmSync(join(flakes(), 'kiwi-app.d'), { recursive: true, force: true });
      rmSync(join(hostDir, 'gone'), { force: true });
      rmSync('/var/log/pilot-kiwi-gone.log', { force: true });
    }
  });

  it('an escaping /removed path stays an error, at register and at launch', () => {
    const args = ['register', '--container', 'test/escape-delta', '--app', '/usr/bin/escape'];
    const r = root.pilot([...args, '--base', 'pilot/busybox-base']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('/usr/../../etc/x');
    expect(existsSync(root.link('/usr/bin/escape'))).toBe(false);
    root.ok(args); // without a base, /removed is not read
    mkdirSync(join(flakes(), 'escape.d'));
    writeFileSync(
      join(flakes(), 'escape.d/10.yaml'),
      'container:\n  check_host_dependencies: true\n',
    );
    const launched = root.run('/usr/bin/escape');
    expect(launched.code).toBeGreaterThanOrEqual(125);
    expect(launched.stdout).toBe('');
    expect(launched.stderr).toContain('/usr/../../etc/x');
  });

  it("a flake without target_app_path runs the app's own name from the image's PATH", () => {
    writeFileSync(
      join(flakes(), 'hello.yaml'),
      'include:\n  tar: ~\n  path: ~\ncontainer:\n  name: pilot/busybox-base\n  host_app_path: /usr/bin/hello\n  check_host_dependencies: false\n',
    );
    writeFileSync(
      join(flakes(), 'basename.yaml'),
      'container:\n  name: pilot/busybox-base\n  host_app_path: /usr/bin/basename\n',
    );
    symlinkSync(join(repo, 'dist/pilot-exec'), root.link('/usr/bin/basename'));
    const r = root.run('/usr/bin/basename', ['/a/b/c']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('c\n');
    expect(root.ok(['show', 'basename']).stdout).toContain("program: the app's own name");
  });

  it('register without --target writes the --app path, warning when the image lacks it', () => {
    const r = root.ok([
      'register',
      '--container',
      'pilot/busybox-base',
      '--app',
      '/opt/bin/nowhere',
    ]);
    expect(r.stderr).toMatch(/warning: \/opt\/bin\/nowhere is not a file in the image/);
    expect(readFileSync(join(flakes(), 'nowhere.yaml'), 'utf8')).toMatch(
      /target_app_path: \/opt\/bin\/nowhere/,
    );
  });

  it('register makes a relative --include-tar absolute, with a warning', () => {
    mkdirSync(join(work, 'inc/etc'), { recursive: true });
    writeFileSync(join(work, 'inc/etc/included'), 'included\n');
    const tar = join(work, 'conf.tar');
    execFileSync('tar', ['-cf', tar, '-C', join(work, 'inc'), 'etc']);
    const r = root.pilot(
      [
        'register',
        '--container',
        'pilot/busybox-base',
        '--app',
        '/usr/bin/inc',
        '--target',
        '/usr/bin/cat',
        '--include-tar',
        'conf.tar',
      ],
      { cwd: work },
    );
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`include.tar "conf.tar" is relative: written as "${tar}"`);
    expect(readFileSync(join(flakes(), 'inc.yaml'), 'utf8')).toContain(`- ${tar}`);
    expect(root.run('/usr/bin/inc', ['/etc/included']).stdout).toBe('included\n');
  });

  it('lists a firecracker flake (vm:) as an engine this host lacks; launching it says so, exit 127', () => {
    writeFileSync(
      join(flakes(), 'leap.yaml'),
      'include:\n  tar: ~\n  path: ~\nvm:\n  name: leap\n  target_app_path: /usr/bin/bash\n  host_app_path: /usr/bin/leap\n  runtime:\n    runas: root\n    firecracker:\n      mem_size_mib: 4096\n',
    );
    symlinkSync(join(repo, 'dist/pilot-exec'), root.link('/usr/bin/leap'));
    const list = JSON.parse(root.ok(['list', '--json']).stdout);
    const leap = list.find((e: { app: string }) => e.app === 'leap');
    expect(leap.ok).toBe(false);
    expect(leap.error).toContain('this host has no firecracker engine');
    expect(root.ok(['list']).stdout).toMatch(/^leap .*firecracker-pilot flake/m);
    const r = root.run('/usr/bin/leap', ['-c', 'true']);
    expect(r.code).toBe(127);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(
      /leap\.yaml:4: a firecracker-pilot flake \("vm:"\): this host has no firecracker engine/,
    );
  });

  it('leaves no mount behind', () => {
    expect(mountsMatching(root.dir)).toEqual([]);
  });
});
