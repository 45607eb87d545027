/**
 * Host integration through real app links: host packages from the host's dpkg
 * database, `/systemfiles` as data, include.tar and include.path, `pilot check`.
 */
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeTar } from '../src/store/tar-write.js';
import { buildArchive, examples, mountsMatching, skipReason, TestRoot } from './harness.js';

const skip = skipReason();
const base = ['--base', 'pilot/busybox-base'];
const NOBODY = 65534;

describe.skipIf(skip !== '')('host integration', () => {
  let root: TestRoot;
  let work: string;
  /** Host paths outside /tmp (which every app sees anyway through its bind). */
  let hostDir: string;
  const pwned = `/tmp/pilot-pwned-${process.pid}`;

  beforeAll(() => {
    root = new TestRoot('host');
    chmodSync(root.dir, 0o755);
    work = join(root.dir, 'work');
    hostDir = mkdtempSync('/var/tmp/pilot-include-');
    root.load('busybox-base', 'hello-delta');
    const layer = (name: string, files: Record<string, string>) => {
      const dir = join(work, name);
      mkdirSync(join(dir, 'usr/bin'), { recursive: true });
      writeFileSync(join(dir, 'usr/bin/app'), '#!/bin/sh\necho ran\n', { mode: 0o755 });
      for (const [path, text] of Object.entries(files)) writeFileSync(join(dir, path), text);
      return dir;
    };
    const image = (name: string, files: Record<string, string>) => {
      buildArchive(join(work, `${name}.tar`), `localhost/test/${name}:latest`, {}, [
        layer(name, files),
      ]);
      root.ok(['load', join(work, `${name}.tar`), '--quiet']);
    };
    image('pwn', { systemfiles: `# looks harmless\ndpkg -L jq\ntouch ${pwned}\n` });
    image('sysfiles', {
      // Each query brings its package only (as dpkg -L lists it): jq's libraries too.
      systemfiles: '# the host provides jq\ndpkg -L jq\ndpkg -L libjq1 libonig5 libc6\n',
    });
    image('missing', { removed: '/usr/bin/jq\n/nonexistent/pilot-check-file\n' });
  });
  afterAll(() => {
    root?.cleanup();
    if (hostDir) rmSync(hostDir, { recursive: true, force: true });
    rmSync(pwned, { force: true });
  });

  it('runs jq from host_packages, with its libraries, from a delta without /removed', () => {
    root.ok([
      'register',
      '--container',
      'pilot/hello-delta',
      ...base,
      '--host-package',
      'jq',
      '--app',
      '/usr/bin/x',
      '--target',
      '/usr/bin/jq',
    ]);
    expect(JSON.parse(root.ok(['show', 'x', '--json']).stdout).container.host_packages).toEqual([
      'jq',
    ]);
    const r = root.run('/usr/bin/x', ['-n', '-c', '{a: (1+1)}']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('{"a":2}\n');
    expect(r.code).toBe(0);
    // Warm: the resolution is cached and the same host layer serves.
    const warm = root.run('/usr/bin/x', ['-n', '3'], { env: { PILOT_DEBUG: '1' } });
    expect(warm.stdout).toBe('3\n');
    expect(warm.stderr).toMatch(/host requirements cached/);
  });

  it('serves host packages to an unprivileged caller too', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pilot-nobody-'));
    try {
      chownSync(dir, NOBODY, NOBODY);
      const as = { uid: NOBODY, gid: NOBODY, cwd: dir, env: { HOME: dir } };
      const r = root.run('/usr/bin/x', ['-n', '[1,2] | add'], as);
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe('3\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // The Debian base is built by `examples/build.sh` without --small (debootstrap).
  it.skipIf(!existsSync(join(examples, 'debian-python-base.tar')))(
    'leaves the packages a Debian base has (its dpkg status) to the image',
    () => {
      root.load('debian-python-base');
      root.ok([
        'register',
        '--container',
        'pilot/hello-delta',
        '--base',
        'pilot/debian-python-base',
        '--host-package',
        'jq',
        '--app',
        '/usr/bin/deb-jq',
        '--target',
        '/usr/bin/jq',
      ]);
      const check = JSON.parse(root.ok(['check', 'deb-jq', '--json']).stdout);
      expect(check.inImage).toContain('libc6');
      expect(check.packages.map((p: { name: string }) => p.name).sort()).toEqual([
        'jq',
        'libjq1',
        'libonig5',
      ]);
      expect(check.files.map((f: { path: string }) => f.path)).not.toContain(
        '/lib/x86_64-linux-gnu/libc.so.6',
      );
      const r = root.run('/usr/bin/deb-jq', ['-n', '-c', '[1, 2]']);
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe('[1,2]\n');
    },
    300_000,
  );

  it('refuses an unknown host package at register, naming it', () => {
    const r = root.pilot([
      'register',
      '--container',
      'pilot/hello-delta',
      ...base,
      '--host-package',
      'pilot-no-such-package',
      '--app',
      '/usr/bin/unknown-pkg',
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('pilot-no-such-package');
    expect(r.stderr).toContain('apt-get install pilot-no-such-package');
    expect(existsSync(root.link('/usr/bin/unknown-pkg'))).toBe(false);
    expect(existsSync(join(root.dir, 'usr/share/flakes/unknown-pkg.yaml'))).toBe(false);
  });

  it('resolves the package queries of /systemfiles (dpkg -L) of the one image', () => {
    // Without a base the image's own copy counts once check_host_dependencies says so.
    root.ok([
      'register',
      '--container',
      'test/sysfiles',
      '--app',
      '/usr/bin/sysfiles-jq',
      '--target',
      '/usr/bin/app',
    ]);
    mkdirSync(join(root.dir, 'usr/share/flakes/sysfiles-jq.d'), { recursive: true });
    writeFileSync(
      join(root.dir, 'usr/share/flakes/sysfiles-jq.d/10-check.yaml'),
      'container:\n  check_host_dependencies: true\n  target_app_path: /usr/bin/jq\n',
    );
    expect(root.run('/usr/bin/sysfiles-jq', ['-n', '"ok"']).stdout).toBe('"ok"\n');
  });

  it('never runs /systemfiles: a shell command is an error naming it, at launch and check', () => {
    // On a base, a delta's copy is not even read: only the base image's counts (upstream).
    root.ok([
      'register',
      '--container',
      'test/pwn',
      ...base,
      '--app',
      '/usr/bin/pwn',
      '--target',
      '/usr/bin/app',
    ]);
    expect(root.run('/usr/bin/pwn').stdout).toBe('ran\n');
    expect(root.ok(['check', 'pwn']).stdout).toMatch(
      /note: \/systemfiles of image test\/pwn .* not read/,
    );
    expect(existsSync(pwned)).toBe(false);

    // Registered without a base, /systemfiles is not read; a drop-in then turns it on.
    root.ok(['register', '--container', 'test/pwn', '--app', '/usr/bin/pwn-late']);
    mkdirSync(join(root.dir, 'usr/share/flakes/pwn-late.d'), { recursive: true });
    writeFileSync(
      join(root.dir, 'usr/share/flakes/pwn-late.d/10-check.yaml'),
      'container:\n  check_host_dependencies: true\n',
    );
    const launched = root.run('/usr/bin/pwn-late');
    expect(launched.code).toBeGreaterThanOrEqual(125);
    expect(launched.stdout).toBe('');
    expect(launched.stderr).toContain(`:3: "touch ${pwned}"`);
    expect(existsSync(pwned)).toBe(false);
    const check = root.pilot(['check', 'pwn-late']);
    expect(check.code).toBe(1);
    expect(check.stderr).toContain(`touch ${pwned}`);
    expect(existsSync(pwned)).toBe(false);
  });

  it.each([
    ['with a base image', ['--container', 'pilot/hello-delta', ...base], 'inc-base'],
    ['without a base image', ['--container', 'pilot/busybox-base'], 'inc-nobase'],
  ])('shows include.tar and include.path inside the app %s', (_name, images, app) => {
    const tarDir = join(work, `tar-${app}`);
    mkdirSync(join(tarDir, 'etc/included'), { recursive: true });
    writeFileSync(join(tarDir, 'etc/included/from-tar'), 'from the tar\n');
    const tar = join(work, `${app}.tar.gz`);
    execFileSync('tar', ['-czf', tar, '-C', tarDir, 'etc']);
    const dir = join(hostDir, app);
    mkdirSync(join(dir, 'sub'), { recursive: true });
    writeFileSync(join(dir, 'file'), 'from the host\n');
    writeFileSync(join(dir, 'sub/deeper'), 'deeper\n');
    root.ok([
      'register',
      ...images,
      '--app',
      `/usr/bin/${app}`,
      '--target',
      '/usr/bin/cat',
      '--include-tar',
      tar,
      '--include-path',
      dir,
    ]);
    const r = root.run(`/usr/bin/${app}`, [
      '/etc/included/from-tar',
      join(dir, 'file'),
      join(dir, 'sub/deeper'),
    ]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('from the tar\nfrom the host\ndeeper\n');
    // Not nested one level deeper, as flake-pilot does.
    expect(root.run(`/usr/bin/${app}`, [join(dir, app, 'file')]).code).not.toBe(0);
    // A change on the host shows at the next launch.
    writeFileSync(join(dir, 'file'), 'changed\n');
    expect(root.run(`/usr/bin/${app}`, [join(dir, 'file')]).stdout).toBe('changed\n');
    expect(root.ok(['check', app]).stdout).toContain(tar);
  });

  it('refuses an include.tar entry that would escape, naming it', () => {
    const tar = join(work, 'hostile.tar');
    writeFileSync(
      tar,
      encodeTar([
        { path: 'etc/fine', body: 'fine\n' },
        { path: '../../escaped-by-include', body: 'x' },
      ]),
    );
    root.ok([
      'register',
      '--container',
      'pilot/hello-delta',
      ...base,
      '--app',
      '/usr/bin/hostile',
      '--include-tar',
      tar,
    ]);
    const r = root.run('/usr/bin/hostile', ['exit', '0']);
    expect(r.code).toBeGreaterThanOrEqual(125);
    expect(r.stderr).toContain('../../escaped-by-include');
    expect(existsSync(join(root.dir, 'var/lib/escaped-by-include'))).toBe(false);
    expect(existsSync(join(root.dir, 'var/escaped-by-include'))).toBe(false);
  });

  it('check passes for a complete app', () => {
    const r = root.pilot(['check', 'x']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ok +package jq +flake host_packages$/m);
    expect(r.stdout).toMatch(/^ok +\/usr\/bin\/jq +host package jq/m);
    const json = JSON.parse(root.ok(['check', '/usr/bin/x', '--json']).stdout);
    expect(json.ok).toBe(true);
    expect(json.database).toBe('dpkg');
    expect(json.missing).toEqual([]);
    expect(json.packages.map((p: { name: string }) => p.name)).toContain('libjq1');
  });

  it('check fails for a /removed that names a missing file, naming it', () => {
    root.ok(['register', '--container', 'test/missing', ...base, '--app', '/usr/bin/missing-app']);
    const r = root.pilot(['check', 'missing-app']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /^MISSING +\/nonexistent\/pilot-check-file +\/removed of image test\/missing/m,
    );
    expect(r.stdout).toMatch(/^ok +\/usr\/bin\/jq/m);
    expect(r.stdout).toContain('1 of 2 required host file(s) missing');
    const json = JSON.parse(root.pilot(['check', 'missing-app', '--json']).stdout);
    expect(json.ok).toBe(false);
    expect(json.missing).toEqual(['/nonexistent/pilot-check-file']);
  });

  it('check and launch report a host package that is no longer installed', () => {
    root.ok([
      'register',
      '--container',
      'pilot/hello-delta',
      ...base,
      '--app',
      '/usr/bin/gone-pkg',
    ]);
    mkdirSync(join(root.dir, 'usr/share/flakes/gone-pkg.d'), { recursive: true });
    writeFileSync(
      join(root.dir, 'usr/share/flakes/gone-pkg.d/10-pkg.yaml'),
      'container:\n  host_packages: [pilot-uninstalled-package]\n',
    );
    const r = root.pilot(['check', 'gone-pkg']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^NOT INSTALLED +package pilot-uninstalled-package/m);
    const launched = root.run('/usr/bin/gone-pkg', ['exit', '0']);
    expect(launched.code).toBe(127);
    expect(launched.stderr).toContain('package pilot-uninstalled-package (not installed');
  });

  it('leaves no mount behind', () => {
    expect(mountsMatching(root.dir)).toEqual([]);
  });
});
