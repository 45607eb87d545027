/**
 * flake-ctl's command level with the real example images, in a temp root: `pilot podman
 * load --oci` (and its FILE* fallback), `podman register` with `--layer a b`, `list
 * --format json|csv|table`, `--info`, `podman show`, launches, `podman remove`; then the
 * same through the `flake-ctl` name `make install FLAKE_CTL_NAMES=1` puts under a temp
 * DESTDIR, and an app link to its `podman-pilot`.
 * Time budget: about 15 s (one make install, a dozen Node starts, five launches).
 */
import { spawnSync } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { make } from '../test/cli/helpers.js';
import { buildArchive, examples, type Result, skipReason, TestRoot } from './harness.js';

const skip = skipReason();

describe.skipIf(skip !== '')('flake-ctl command level', () => {
  let root: TestRoot;
  let work: string;
  const flakes = () => join(root.dir, 'usr/share/flakes');

  beforeAll(() => {
    root = new TestRoot('fctl');
    work = join(root.dir, 'work');
    const layer = join(work, 'extra');
    mkdirSync(join(layer, 'etc'), { recursive: true });
    writeFileSync(join(layer, 'etc/pilot-extra'), 'extra\n');
    writeFileSync(join(layer, 'extra-layer.yaml'), 'container:\n  name: extra-layer\n');
    buildArchive(join(work, 'extra-layer-1.0.tar'), 'localhost/test/extra-layer:latest', {}, [
      layer,
    ]);
  });
  afterAll(() => {
    root?.pilot(['stop', '--all']);
    root?.cleanup();
  });

  it('loads with podman load --oci, a missing FILE by the highest version of FILE*', () => {
    const base = root.ok(['podman', 'load', '--oci', join(examples, 'busybox-base.tar')]);
    expect(base.stdout).toMatch(/^loaded localhost\/pilot\/busybox-base:latest /);
    // build/examples has hello-delta.tar: "hello-del" is its prefix.
    const delta = root.ok(['podman', 'load', '--oci', join(examples, 'hello-del')]);
    expect(delta.stdout).toMatch(/^loaded localhost\/pilot\/hello-delta:latest /);
    root.ok(['podman', 'load', '--oci', join(examples, 'whiteout-layer.tar')]);
    root.ok(['podman', 'load', '--oci', join(work, 'extra-layer')]);
    const none = root.pilot(['podman', 'load', '--oci', join(work, 'nothing')]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('no file name starts with it');
  });

  it('registers with --layer a b and launches through both layers', () => {
    const r = root.ok([
      'podman',
      'register',
      '--container',
      'pilot/hello-delta',
      '--base',
      'pilot/busybox-base',
      '--layer',
      'pilot/whiteout-layer',
      'test/extra-layer',
      '--app',
      '/usr/bin/layers',
      '--target',
      '/bin/cat',
      '--check-host-dependencies',
      '--run-as',
      'root',
      '--opt',
      '\\--net host',
    ]);
    expect(r.stdout).toContain('registered layers');
    const flake = readFileSync(join(flakes(), 'layers.yaml'), 'utf8');
    expect(flake).toMatch(/layers:\n\s+- pilot\/whiteout-layer\n\s+- test\/extra-layer\n/);
    expect(flake).toContain('check_host_dependencies: true');
    expect(flake).toContain('runas: root');
    const run = root.run('/usr/bin/layers', ['/etc/pilot-layer', '/etc/pilot-extra']);
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe('layer\nextra\n');
    expect(run.code).toBe(0);
  });

  it("lists with flake-ctl's keys (json), CSV without header, and its table", () => {
    root.ok([
      'podman',
      'register',
      '--container',
      'pilot/hello-delta',
      '--base',
      'pilot/busybox-base',
      '--app',
      '/usr/bin/hello',
    ]);
    const record = (name: string, target: string) => ({
      name,
      engine: 'podman',
      target,
      host_app_path: `/usr/bin/${name}`,
      config: join(flakes(), `${name}.yaml`),
    });
    // pilot's --format json adds "behind" (upstream readers ignore unknown keys); run as
    // flake-ctl the output stays flake-ctl's own (the installed flake-ctl below).
    expect(JSON.parse(root.ok(['list', '--format', 'json']).stdout)).toEqual([
      { ...record('hello', '/usr/bin/hello'), behind: false },
      { ...record('layers', '/bin/cat'), behind: false },
    ]);
    expect(root.ok(['list', '--format', 'csv']).stdout).toBe(
      `hello,podman,/usr/bin/hello,/usr/bin/hello,${flakes()}/hello.yaml\nlayers,podman,/bin/cat,/usr/bin/layers,${flakes()}/layers.yaml\n`,
    );
    const table = root.ok(['list', '--format', 'table']).stdout.split('\n');
    expect(table[0]).toBe(`Flake applications registered in ${flakes()}`);
    expect(table[2]).toMatch(/^NAME\s+ENGINE\s+TARGET APP PATH\s+HOST APP PATH\s+CONFIG$/);
    expect(table[3]).toMatch(/^-+ {2}-+/);
    // pilot's own --json is unchanged
    expect(JSON.parse(root.ok(['list', '--json']).stdout)[0]).toMatchObject({
      app: 'hello',
      linked: true,
      container: 'pilot/hello-delta',
    });
    expect(root.run('/usr/bin/hello', ['x']).stdout).toBe('hello from pilot\n[x]\n');
  });

  it('--info prints the info file the image carries, registering nothing', () => {
    const info = root.ok(['podman', 'register', '--container', 'test/extra-layer', '--info']);
    expect(info.stdout).toBe('container:\n  name: extra-layer\n');
    const none = root.pilot(['podman', 'register', '--container', 'pilot/hello-delta', '--info']);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('carries no registration info (/hello-delta.yaml)');
  });

  it('podman show lists a kept instance with its image and flake', () => {
    root.ok([
      'podman',
      'register',
      '--container',
      'pilot/hello-delta',
      '--base',
      'pilot/busybox-base',
      '--app',
      '/usr/bin/kept',
      '--target',
      '/usr/bin/hello',
      '--resume',
    ]);
    expect(root.run('/usr/bin/kept', ['k']).code).toBe(0);
    const records = JSON.parse(root.ok(['podman', 'show', '--format', 'json']).stdout);
    expect(records).toEqual([
      {
        name: 'kept',
        user: 'root',
        id: 'kept',
        status: expect.stringMatching(/^(running|stopped)$/),
        image: 'pilot/hello-delta',
        config: join(flakes(), 'kept.yaml'),
      },
    ]);
    expect(root.ok(['podman', 'show']).stdout).toMatch(
      /^NAME\s+USER\s+ID\s+STATUS\s+IMAGE\s+CONFIG\n/,
    );
    root.ok(['stop', '--all']);
  });

  it('removes by --app (--force: nothing there is fine) and by --container with its name', () => {
    expect(root.ok(['podman', 'remove', '--app', '/usr/bin/hello']).stdout).toContain(
      'removed hello',
    );
    expect(root.pilot(['podman', 'remove', '--app', '/usr/bin/hello']).code).toBe(1);
    expect(root.ok(['podman', 'remove', '--app', '/usr/bin/hello', '--force']).stdout).toBe('');
    // pilot's remove --container: every app that uses the image (here as a layer), then
    // the image's name, as flake-ctl removes the image from podman's storage
    const purge = root.ok(['podman', 'remove', '--container', 'test/extra-layer']);
    expect(purge.stdout).toBe(
      `removed layers (${root.link('/usr/bin/layers')})\nuntagged localhost/test/extra-layer:latest\n`,
    );
    expect(root.ok(['podman', 'remove', '--container', 'pilot/hello-delta']).stdout).toBe(
      `removed kept (${root.link('/usr/bin/kept')})\nuntagged localhost/pilot/hello-delta:latest\n`,
    );
    expect(root.ok(['list', '--format', 'csv']).stdout).toBe('');
  });

  describe('the installed flake-ctl and podman-pilot names', () => {
    let destdir: string;
    const env = () => ({ ...process.env, PILOT_ROOT: root.dir, PILOT_LAUNCHER: undefined });
    const flakeCtl = (args: string[]): Result => {
      const r = spawnSync(join(destdir, 'usr/bin/flake-ctl'), args, {
        env: env(),
        encoding: 'utf8',
      });
      return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
    };

    beforeAll(() => {
      destdir = mkdtempSync(join(tmpdir(), 'pilot-fctl-dest-'));
      make([
        'install',
        'PREFIX=/usr',
        `DESTDIR=${destdir}`,
        'FLAKE_CTL_NAMES=1',
        'OWNER_QUERY=false',
      ]);
    }, 300_000);
    afterAll(() => {
      if (destdir) rmSync(destdir, { recursive: true, force: true });
    });

    it('runs flake-ctl podman load/register/list/remove and the app it registered', () => {
      expect(flakeCtl(['podman', 'load', '--oci', join(examples, 'hello-delta.tar')]).code).toBe(0);
      const reg = flakeCtl([
        'podman',
        'register',
        '--container',
        'pilot/hello-delta',
        '--base',
        'pilot/busybox-base',
        '--app',
        '/usr/bin/hello2',
        '--target',
        '/usr/bin/hello',
      ]);
      expect(reg.stderr).toBe('');
      expect(reg.code).toBe(0);
      expect(readlinkSync(root.link('/usr/bin/hello2'))).toBe(
        join(destdir, 'usr/libexec/pilot/pilot-exec'),
      );
      expect(root.run('/usr/bin/hello2', ['y']).stdout).toBe('hello from pilot\n[y]\n');
      expect(flakeCtl(['list', '--format', 'csv']).stdout).toBe(
        `hello2,podman,/usr/bin/hello,/usr/bin/hello2,${flakes()}/hello2.yaml\n`,
      );
      expect(flakeCtl(['list']).stdout).toContain('hello2  podman  /usr/bin/hello');
      expect(Object.keys(JSON.parse(flakeCtl(['list', '--format', 'json']).stdout)[0])).toEqual([
        'name',
        'engine',
        'target',
        'host_app_path',
        'config',
      ]);
      expect(flakeCtl(['podman', 'remove', '--app', '/usr/bin/hello2']).code).toBe(0);
    });

    it("launches an app linked to podman-pilot, as flake-pilot's links are", () => {
      root.ok([
        'register',
        '--container',
        'pilot/hello-delta',
        '--base',
        'pilot/busybox-base',
        '--app',
        '/usr/bin/old',
        '--target',
        '/usr/bin/hello',
      ]);
      const link = root.link('/usr/bin/old');
      rmSync(link);
      symlinkSync(join(destdir, 'usr/bin/podman-pilot'), link);
      const r = root.run('/usr/bin/old', ['z']);
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe('hello from pilot\n[z]\n');
    });
  });
});
