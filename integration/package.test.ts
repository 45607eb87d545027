/**
 * Packages for real, installed with dpkg in a THROWAWAY root only: a private mount
 * namespace (a `sleep` that `unshare --mount --propagation private` started, entered with
 * nsenter for each step) with overlays over /usr, /etc, /var and /run whose upper dirs
 * are in a temp dir, so dpkg's database and every file the packages write vanish with the
 * namespace. The store, /var/lib/pilot, is a bind mount of a plain temp dir (overlayfs
 * refuses the overlay xattrs a layer may need on an overlay upper). Nothing is installed
 * on the test machine: the last test checks that.
 *
 * `make deb`'s pilot, then an app package with images (v1), an upgrade to v2 while a loop
 * launches the app (it never fails with "command not found"/127), removal (link and flake
 * gone, images kept until gc), a package without images installed over a store that
 * has them already, and one whose image the store lacks: its postinst pulls the pinned
 * REF@DIGEST from a docker-registry (TLS, its CA in the throwaway root's
 * /etc/containers/certs.d, as a site would configure a host), fetching only that image's
 * blobs. The same app as an .rpm, installed, upgraded and removed with rpm (--nodeps:
 * rpm's own database knows no pilot).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildArchive, examples, repo, skipReason, TestRoot } from './harness.js';
import { RegistryServer } from './registry-server.js';

const skip = skipReason();
const hostPackages = () => spawnSync('dpkg', ['-l', 'pilot*'], { encoding: 'utf8' });

/** An image `ref` whose /usr/bin/greet prints "greet vVERSION ARGS" and exits with `code`. */
function greetImage(dir: string, version: number, code: number): string {
  const layer = join(dir, `greet-v${version}`);
  mkdirSync(join(layer, 'usr/bin'), { recursive: true });
  writeFileSync(
    join(layer, 'usr/bin/greet'),
    `#!/bin/sh\necho "greet v${version} $*"\nexit ${code}\n`,
  );
  chmodSync(join(layer, 'usr/bin/greet'), 0o755);
  const archive = join(dir, `greet-v${version}.tar`);
  buildArchive(archive, `localhost/test/greet:${version}.0`, { Env: ['PATH=/usr/bin:/bin'] }, [
    layer,
  ]);
  return archive;
}

describe.skipIf(skip !== '')('packages installed in a throwaway root', () => {
  let root: TestRoot;
  let out: string;
  let ns: ChildProcess | undefined;
  let pid = 0;
  let pilotDeb = '';
  const ids: string[] = [];
  const flakes: string[] = [];
  const before = hostPackages();

  /** A shell command inside the throwaway root, with a clean environment (no PILOT_ROOT). */
  const inside = (script: string) => {
    const r = spawnSync('nsenter', ['-t', String(pid), '-m', '--', 'sh', '-c', script], {
      encoding: 'utf8',
      env: {
        PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
        HOME: '/root',
        LANG: 'C',
      },
      timeout: 60_000,
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  const ok = (script: string) => {
    const r = inside(script);
    if (r.code !== 0) throw new Error(`${script} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  };

  beforeAll(async () => {
    root = new TestRoot('package');
    out = join(root.dir, 'out');
    mkdirSync(out);
    const deb = spawnSync('make', ['--no-print-directory', 'deb'], { cwd: repo, encoding: 'utf8' });
    if (deb.status !== 0) throw new Error(`make deb failed: ${deb.stdout}${deb.stderr}`);
    pilotDeb = join(repo, deb.stdout.match(/built (\S+\.deb)/)![1]!);

    root.load('busybox-base');
    const register = (version: number) =>
      root.ok([
        'register',
        '--force',
        '--container',
        `localhost/test/greet:${version}.0`,
        '--base',
        'pilot/busybox-base',
        '--app',
        '/usr/bin/greet',
      ]);
    for (const [version, code] of [
      [1, 3],
      [2, 4],
    ] as const) {
      root.ok(['load', '--quiet', greetImage(join(root.dir, 'work'), version, code)]);
      register(version);
      ids.push(
        JSON.parse(root.ok(['show', 'greet', '--json']).stdout).container.digests[
          `localhost/test/greet:${version}.0`
        ],
      );
      flakes.push(readFileSync(join(root.dir, 'usr/share/flakes/greet.yaml'), 'utf8'));
      root.ok(['package', 'greet', '--with-images', '-o', out]);
      root.ok(['package', 'greet', '--with-images', '--format', 'rpm', '-o', out]);
    }
    root.ok(['package', 'greet', '-o', out, '--version', '3.0']);

    const throwaway = join(root.dir, 'throwaway');
    mkdirSync(join(throwaway, 'store'), { recursive: true, mode: 0o755 });
    const setup = [
      'set -e',
      'for d in usr etc var run; do',
      '  mkdir -p "$1/$d.up" "$1/$d.work"',
      '  mount -t overlay overlay -o "lowerdir=/$d,upperdir=$1/$d.up,workdir=$1/$d.work" "/$d"',
      'done',
      'mkdir -p /var/lib/pilot && mount --bind "$1/store" /var/lib/pilot',
      'echo ready',
      'exec sleep 600',
    ].join('\n');
    ns = spawn(
      'unshare',
      ['--mount', '--propagation', 'private', 'sh', '-c', setup, 'sh', throwaway],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    await new Promise<void>((ready, fail) => {
      ns!.stdout!.on('data', (d) => String(d).includes('ready') && ready());
      ns!.on('exit', (code) => fail(new Error(`the throwaway namespace exited ${code}`)));
    });
    pid = ns.pid!;
  }, 120_000);

  afterAll(() => {
    ns?.kill('SIGKILL');
    root?.cleanup();
  });

  it('builds packages with the right names, contents and scripts', () => {
    expect(pilotDeb).toMatch(/dist\/pilot_\d+\.\d+\.\d+_amd64\.deb$/);
    const info = spawnSync('dpkg-deb', ['-f', pilotDeb, 'Depends', 'Recommends'], {
      encoding: 'utf8',
    });
    expect(info.stdout).toContain('Depends: nodejs (>= 20), util-linux, tar, gzip');
    expect(info.stdout).toContain('Recommends: podman, skopeo, xz-utils, zstd');
    const v1 = join(out, 'pilot-app-greet_1.0_amd64.deb');
    const fields = spawnSync('dpkg-deb', ['-f', v1], { encoding: 'utf8' }).stdout;
    expect(fields).toMatch(/^Depends: pilot \(>= \d+\.\d+\.\d+\)$/m);
    const files = spawnSync('dpkg-deb', ['-c', v1], { encoding: 'utf8' }).stdout;
    expect(files).toMatch(/root\/root .* \.\/usr\/share\/pilot\/apps\/greet\/greet\.yaml$/m);
    expect(files.match(/\.\/usr\/share\/pilot\/apps\/greet\/images\/\S+\.tar$/gm)).toHaveLength(2);
    expect(files).not.toContain('usr/share/flakes');
    expect(existsSync(join(out, 'pilot-app-greet_3.0_all.deb'))).toBe(true);
  });

  it('installs pilot and the app; the app runs through its link', () => {
    ok(`dpkg -i ${pilotDeb}`);
    expect(ok('pilot --version')).toMatch(/^\d+\.\d+\.\d+\n$/);
    expect(ok('stat -c %a /var/lib/pilot')).toBe('755\n');
    ok(`dpkg -i ${join(out, 'pilot-app-greet_1.0_amd64.deb')}`);
    const r = inside('/usr/bin/greet a b');
    expect([r.stdout, r.code]).toEqual(['greet v1 a b\n', 3]);
    expect(ok('readlink /usr/bin/greet')).toBe('/usr/libexec/pilot/pilot-exec\n');
    // The flake as registered where the package was built, pins and all.
    expect(ok('cat /usr/share/flakes/greet.yaml')).toBe(flakes[0]);
  });

  it('upgrades to the new image while the app keeps launching', async () => {
    const loop = spawn(
      'nsenter',
      [
        '-t',
        String(pid),
        '-m',
        '--',
        'sh',
        '-c',
        'while [ ! -e "$1/stop" ]; do /usr/bin/greet loop >/dev/null 2>>"$1/loop.err"; echo $? >>"$1/loop.rc"; done',
        'sh',
        root.dir,
      ],
      { env: { PATH: '/usr/bin:/bin' }, stdio: 'ignore' },
    );
    const exited = new Promise((done) => loop.on('exit', done));
    await new Promise((r) => setTimeout(r, 500));
    ok(`dpkg -i ${join(out, 'pilot-app-greet_2.0_amd64.deb')}`);
    await new Promise((r) => setTimeout(r, 500));
    writeFileSync(join(root.dir, 'stop'), '');
    await exited;
    const codes = readFileSync(join(root.dir, 'loop.rc'), 'utf8').trim().split('\n');
    expect(codes.length).toBeGreaterThan(2);
    expect(new Set(codes)).toEqual(new Set(['3', '4']));
    expect(codes.at(-1)).toBe('4');
    expect(readFileSync(join(root.dir, 'loop.err'), 'utf8')).not.toMatch(/not found|No such file/);
    const r = inside('/usr/bin/greet c');
    expect([r.stdout, r.code]).toEqual(['greet v2 c\n', 4]);
    expect(ok('dpkg-query -W pilot-app-greet')).toBe('pilot-app-greet\t2.0\n');
  });

  it('removing the app removes its registration and keeps its images until gc', () => {
    ok('dpkg -r pilot-app-greet');
    expect(inside('test -e /usr/bin/greet || test -e /usr/share/flakes/greet.yaml').code).toBe(1);
    const images = ok('pilot images --json');
    for (const id of ids) expect(images).toContain(id);
  });

  it("an .rpm of the app installs, upgrades and removes the same way (rpm, --nodeps: rpm's database has no pilot)", () => {
    const rpm = (version: number) => join(out, `pilot-app-greet-${version}.0-1.x86_64.rpm`);
    expect(spawnSync('rpm', ['-qpR', rpm(1)], { encoding: 'utf8' }).stdout).toMatch(
      /^pilot >= \d/m,
    );
    ok(`rpm -i --nodeps ${rpm(1)}`);
    expect(inside('/usr/bin/greet r').stdout).toBe('greet v1 r\n');
    // RPM runs the new %post before the old %preun: the old one must not remove the app.
    ok(`rpm -U --nodeps ${rpm(2)}`);
    const r = inside('/usr/bin/greet s');
    expect([r.stdout, r.code]).toEqual(['greet v2 s\n', 4]);
    ok('rpm -e pilot-app-greet');
    expect(inside('test -e /usr/bin/greet || test -e /usr/share/flakes/greet.yaml').code).toBe(1);
    expect(ok('pilot images --json')).toContain(ids[1]);
  });

  it('a package without images registers from images the store has', () => {
    ok(`dpkg -i ${join(out, 'pilot-app-greet_3.0_all.deb')}`);
    const r = inside('/usr/bin/greet d');
    expect([r.stdout, r.code]).toEqual(['greet v2 d\n', 4]);
    ok('dpkg -r pilot-app-greet');
    ok('pilot rmi localhost/test/greet:1.0 && pilot rmi localhost/test/greet:2.0 && pilot gc');
    const images = ok('pilot images --json');
    for (const id of ids) expect(images).not.toContain(id);
  });

  it('a package without images pulls what the store lacks from the registry, by digest', async () => {
    const server = await RegistryServer.start({ tls: true });
    try {
      const ref = server.ref('test/greet:5.0');
      const baseRef = server.ref('pilot/busybox-base:1');
      server.push(`oci-archive:${greetImage(join(root.dir, 'work'), 5, 5)}`, 'test/greet:5.0');
      server.push(`oci-archive:${join(examples, 'busybox-base.tar')}`, 'pilot/busybox-base:1');
      // A build root pulls both and packages the app without images.
      const build = new TestRoot('package-build');
      try {
        const tls = ['--cert-dir', server.certDir!];
        build.ok(['pull', '--quiet', ...tls, baseRef]);
        build.ok(['pull', '--quiet', ...tls, ref]);
        build.ok([
          'register',
          '--container',
          ref,
          '--base',
          baseRef,
          '--app',
          '/usr/bin/greet5',
          '--target',
          '/usr/bin/greet',
        ]);
        build.ok(['package', 'greet5', '-o', out, '--version', '5.0']);
      } finally {
        build.cleanup();
      }
      // The host knows the site's CA; its store has the base (same id) but not greet 5.
      ok(
        `mkdir -p /etc/containers/certs.d/${server.host} && cp ${server.certDir}/ca.crt /etc/containers/certs.d/${server.host}/`,
      );
      const mark = server.mark();
      ok(`dpkg -i ${join(out, 'pilot-app-greet5_5.0_all.deb')}`);
      const r = inside('/usr/bin/greet5 p');
      expect([r.stdout, r.code]).toEqual(['greet v5 p\n', 5]);
      const fetched = server.blobsFetched(mark);
      // greet's config and its one layer; the base was in the store already.
      expect(fetched).toHaveLength(2);
      expect(server.manifestsFetched(mark)).toEqual([
        expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
      ]);
      ok('dpkg -r pilot-app-greet5');
      expect(inside('test -e /usr/bin/greet5').code).toBe(1);
    } finally {
      // Whatever failed above, pilot itself must stay removable for the last test.
      inside('dpkg -r pilot-app-greet5');
      server.stop();
    }
  }, 60_000);

  it('removing pilot keeps the store; nothing reached the test machine', () => {
    ok('dpkg -r pilot');
    expect(inside('test -e /usr/bin/pilot').code).toBe(1);
    expect(ok('test -d /var/lib/pilot/layers && echo kept')).toBe('kept\n');
    ns?.kill('SIGKILL');
    const after = hostPackages();
    expect([after.status, after.stdout]).toEqual([before.status, before.stdout]);
    expect(existsSync('/usr/share/pilot')).toBe(false);
    expect(spawnSync('rpm', ['-q', 'pilot-app-greet'], { encoding: 'utf8' }).status).not.toBe(0);
    expect(existsSync('/usr/bin/greet')).toBe(false);
    expect(existsSync('/usr/share/flakes/greet.yaml')).toBe(false);
    rmSync(join(root.dir, 'throwaway'), { recursive: true, force: true });
  });
});

describe.skipIf(skip !== '')('pilot package and register --from-flake: bad input', () => {
  let root: TestRoot;
  let out: string;

  beforeAll(() => {
    root = new TestRoot('package-bad');
    out = join(root.dir, 'out');
    mkdirSync(out);
    root.load('busybox-base', 'hello-delta');
    root.ok([
      'register',
      '--container',
      'pilot/hello-delta',
      '--base',
      'pilot/busybox-base',
      '--app',
      '/usr/bin/hello',
    ]);
  });
  afterAll(() => root?.cleanup());

  const fails = (args: string[], code: number, message: string, env?: NodeJS.ProcessEnv) => {
    const r = root.pilot(args, env ? { env: root.env(env) } : {});
    expect([r.code, r.stderr]).toEqual([code, expect.stringContaining(message)]);
    return r;
  };

  it('exports images that keep their manifest digest and load elsewhere', () => {
    const r = JSON.parse(
      root.ok(['package', 'hello', '--with-images', '-o', out, '--json']).stdout,
    );
    expect(r).toMatchObject({ package: 'pilot-app-hello', architecture: 'amd64' });
    expect(r.version).toMatch(/^0\.0\.0\+pilot\.\d{14}$/);
    expect(r.images.map((i: { originalManifest: boolean }) => i.originalManifest)).toEqual([
      true,
      true,
    ]);
    const other = new TestRoot('package-load');
    try {
      const x = join(other.dir, 'x');
      spawnSync('dpkg-deb', ['-x', r.file, x]);
      for (const image of r.images) other.ok(['load', '--quiet', join(x, image.file)]);
      other.ok(['register', '--from-flake', join(x, 'usr/share/pilot/apps/hello/hello.yaml')]);
      expect(other.run('/usr/bin/hello', ['y']).stdout).toBe('hello from pilot\n[y]\n');
      expect(readFileSync(join(other.dir, 'usr/share/flakes/hello.yaml'), 'utf8')).toBe(
        readFileSync(join(root.dir, 'usr/share/flakes/hello.yaml'), 'utf8'),
      );
    } finally {
      other.cleanup();
    }
  });

  it('refuses what it cannot package, leaving nothing behind', () => {
    fails(['package', 'nosuch', '-o', out], 1, 'no flake for app "nosuch"');
    fails(['package', 'hello', '-o', join(out, 'missing')], 2, 'does not exist');
    writeFileSync(join(root.dir, 'file'), '');
    fails(['package', 'hello', '-o', join(root.dir, 'file')], 2, 'is not a directory');
    fails(['package', 'hello', '-o', out, '--version', 'v1'], 2, 'is not a Debian version');
    const empty = join(root.dir, 'empty-path');
    mkdirSync(empty);
    fails(['package', 'hello', '-o', out], 1, 'dpkg-deb is not installed', { PATH: empty });
    writeFileSync(
      join(root.dir, 'usr/share/flakes/loose.yaml'),
      'include: {tar: [], path: []}\ncontainer:\n  name: pilot/hello-delta\n  host_app_path: /usr/bin/loose\n',
    );
    fails(['package', 'loose', '-o', out], 1, 'pins no image digest for "pilot/hello-delta"');
    // An image whose archive is gone: the store keeps no layer tarballs.
    const layer = join(root.dir, 'gone-layer');
    mkdirSync(join(layer, 'usr/bin'), { recursive: true });
    writeFileSync(join(layer, 'usr/bin/gone'), '#!/bin/sh\necho gone\n', { mode: 0o755 });
    const archive = join(root.dir, 'gone.tar');
    buildArchive(archive, 'localhost/test/gone:1.0', {}, [layer]);
    root.ok(['load', '--quiet', archive]);
    root.ok([
      'register',
      '--container',
      'localhost/test/gone:1.0',
      '--base',
      'pilot/busybox-base',
      '--app',
      '/usr/bin/gone',
    ]);
    rmSync(archive);
    const before = readdirSync(out);
    fails(
      ['package', 'gone', '--with-images', '-o', out],
      1,
      'is in no archive it was loaded from',
    );
    expect(readdirSync(out)).toEqual(before);
    // Without images the package only names them: it builds.
    expect(root.ok(['package', 'gone', '-o', out]).stdout).toMatch(/pilot-app-gone_1\.0_all\.deb/);
  });

  it('register --from-flake keeps every field, and refuses what it cannot register', () => {
    const shipped = join(root.dir, 'shipped');
    mkdirSync(join(shipped, 'hello.d'), { recursive: true });
    const text = readFileSync(join(root.dir, 'usr/share/flakes/hello.yaml'), 'utf8');
    writeFileSync(join(shipped, 'hello.yaml'), `# shipped\n${text}`);
    writeFileSync(
      join(shipped, 'hello.d/10-env.yaml'),
      'container:\n  runtime:\n    podman: ["-e GREETING=hi"]\n',
    );
    fails(['register', '--from-flake', join(shipped, 'hello.yaml')], 1, 'already registered');
    root.ok(['register', '--force', '--from-flake', join(shipped, 'hello.yaml')]);
    expect(readFileSync(join(root.dir, 'usr/share/flakes/hello.yaml'), 'utf8')).toBe(
      `# shipped\n${text}`,
    );
    expect(readdirSync(join(root.dir, 'usr/share/flakes/hello.d'))).toEqual(['10-env.yaml']);
    expect(root.run('/usr/bin/hello', ['z']).stdout).toBe('hello from pilot\n[z]\n');
    fails(
      ['register', '--from-flake', join(shipped, 'hello.yaml'), '--app', '/usr/bin/x'],
      2,
      '--app cannot go with it',
    );
    fails(['register', '--from-flake', join(root.dir, 'file')], 2, 'is not a NAME.yaml flake file');
    fails(['register'], 2, 'required option --container not given');
    writeFileSync(
      join(shipped, 'other.yaml'),
      text
        .replace(/sha256:[a-f0-9]{64}/, `sha256:${'0'.repeat(64)}`)
        .replace('/usr/bin/hello', '/usr/bin/other'),
    );
    fails(['register', '--from-flake', join(shipped, 'other.yaml')], 1, 'is gone from the store');
    expect(existsSync(join(root.dir, 'usr/bin/other'))).toBe(false);
    writeFileSync(join(shipped, 'nolink.yaml'), text.replace(/ *host_app_path: .*\n/, ''));
    fails(
      ['register', '--from-flake', join(shipped, 'nolink.yaml')],
      1,
      'container.host_app_path is missing',
    );
  });
});
