/**
 * flake-ctl's forms on pilot's commands: register's options mapped (every flag), --info
 * read from the image, remove --force and --container.
 */
import { existsSync, lstatSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  infoFileNames,
  instanceRecords,
  purgeContainer,
  readImageInfo,
  registerOptionsOf,
  removeFlakeApp,
} from '../../src/commands/flake-ctl.js';
import { registerApp } from '../../src/commands/register.js';
import { listRefs } from '../../src/core/image-record.js';
import { loadArchive } from '../../src/store/load.js';
import {
  makeImage,
  makeLayer,
  ociFiles,
  simpleLayer,
  type TempStore,
  tarOf,
  tempStore,
} from '../store/helpers.js';

const base = { container: 'c', layer: [], includeTar: [], includePath: [], opt: [] };

describe('registerOptionsOf', () => {
  it('maps every flake-ctl flag onto pilot register', () => {
    const options = registerOptionsOf(
      {
        container: 'pilot/hello-delta',
        app: '/usr/bin/hello',
        target: '/bin/hello',
        base: 'pilot/busybox-base',
        layer: ['a', 'b', 'c'],
        includeTar: ['/t.tar'],
        includePath: ['/etc/x', '/etc/y'],
        resume: true,
        runAs: 'nobody',
        opt: ['\\--net host', '-e A=1'],
        force: true,
        checkHostDependencies: true,
      },
      (name) => name === 'nobody',
    );
    expect(options).toEqual({
      container: 'pilot/hello-delta',
      app: '/usr/bin/hello',
      target: '/bin/hello',
      base: 'pilot/busybox-base',
      layers: ['a', 'b', 'c'],
      includeTar: ['/t.tar'],
      includePath: ['/etc/x', '/etc/y'],
      hostPackages: [],
      resume: true,
      attach: false,
      opts: ['\\--net host', '-e A=1'],
      force: true,
      checkHostDependencies: true,
      runas: 'nobody',
    });
  });

  it('leaves out runas without --run-as, and defaults every list and flag', () => {
    const options = registerOptionsOf({ container: 'c', app: '/usr/bin/x' });
    expect(options).not.toHaveProperty('runas');
    expect(options).toMatchObject({
      layers: [],
      includeTar: [],
      includePath: [],
      opts: [],
      resume: false,
      attach: false,
      force: false,
      checkHostDependencies: false,
    });
  });

  it('takes root and any without an account lookup (they mean the caller)', () => {
    const never = () => {
      throw new Error('looked up');
    };
    expect(registerOptionsOf({ ...base, app: '/x', runAs: 'root' }, never).runas).toBe('root');
    expect(registerOptionsOf({ ...base, app: '/x', runAs: 'any' }, never).runas).toBe('any');
  });

  it('refuses, as usage errors: no --app, --layer without --base, an unknown --run-as', () => {
    expect(() => registerOptionsOf(base)).toThrow(/needs --app PATH \(or --info\)/);
    expect(() => registerOptionsOf({ ...base, app: '/x', layer: ['l'] })).toThrow(
      /--layer needs --base/,
    );
    expect(() => registerOptionsOf({ ...base, app: '/x', runAs: 'ghost' }, () => false)).toThrow(
      /--run-as "ghost" is not an account on this host/,
    );
    try {
      registerOptionsOf(base);
    } catch (error) {
      expect(error).toMatchObject({ code: 'PILOT_USAGE', exitCode: 2 });
    }
  });
});

describe('infoFileNames', () => {
  it("is the ref's last component as given, then without tag or digest", () => {
    expect(infoFileNames('registry.example.com/team/app:1.0')).toEqual([
      'app:1.0.yaml',
      'app.yaml',
    ]);
    expect(infoFileNames('app')).toEqual(['app.yaml']);
    expect(infoFileNames(`localhost:5000/app@sha256:${'a'.repeat(64)}`)).toEqual([
      `app@sha256:${'a'.repeat(64)}.yaml`,
      'app.yaml',
    ]);
  });
});

describe('with a store', () => {
  let store: TempStore;
  beforeEach(() => {
    store = tempStore('pilot-flake-ctl-');
  });
  afterEach(() => store.cleanup());

  async function load(ref: string, entries: Parameters<typeof makeLayer>[0]): Promise<void> {
    const file = join(store.dir, `${ref.replace(/\W/g, '_')}.tar`);
    writeFileSync(
      file,
      tarOf(ociFiles([{ image: makeImage([makeLayer(entries)]), refName: ref }])),
    );
    await loadArchive(store.paths, file);
  }

  it('--info prints /NAME.yaml from the image', async () => {
    await load('test/info:1', [{ path: 'info.yaml', body: 'container:\n  name: info\n' }]);
    expect(readImageInfo(store.paths, 'test/info:1')).toBe('container:\n  name: info\n');
  });

  it('--info refuses a symlink and says when there is no info file', async () => {
    await load('test/link:1', [{ path: 'link.yaml', type: 'symlink', linkpath: '/etc/shadow' }]);
    expect(() => readImageInfo(store.paths, 'test/link:1')).toThrow(
      /\/link.yaml in image test\/link:1 is not a regular file/,
    );
    await load('test/none:1', [{ path: 'etc/', type: 'dir' }]);
    expect(() => readImageInfo(store.paths, 'test/none:1')).toThrow(
      'image test/none:1 carries no registration info (/none:1.yaml or /none.yaml)',
    );
  });

  it('remove --app --force is no error when nothing is registered; without, it is', () => {
    expect(removeFlakeApp(store.paths, '/usr/bin/none', true)).toEqual({ removed: [] });
    expect(() => removeFlakeApp(store.paths, '/usr/bin/none', false)).toThrow(
      /no app is registered at \/usr\/bin\/none/,
    );
  });

  it('remove --container removes its apps, then the image name', async () => {
    const image = makeImage([simpleLayer('hello')]);
    const file = join(store.dir, 'hello.tar');
    writeFileSync(file, tarOf(ociFiles([{ image, refName: 'test/hello:1' }])));
    await loadArchive(store.paths, file);
    const launcher = join(store.dir, 'pilot-exec');
    const options = registerOptionsOf({ container: 'test/hello:1', app: '/usr/bin/hello' });
    registerApp(store.paths, options, launcher);
    const link = join(store.paths.root, 'usr/bin/hello');
    expect(lstatSync(link).isSymbolicLink()).toBe(true);

    const result = purgeContainer(store.paths, 'test/hello:1');
    expect(result.removed.map((r) => r.app)).toEqual(['hello']);
    expect(result.untagged).toEqual(['test/hello:1']);
    expect(existsSync(link)).toBe(false);
    expect([...listRefs(store.paths).keys()]).toEqual([]);
    expect(() => purgeContainer(store.paths, 'test/hello:1')).toThrow(/test\/hello:1/);
  });

  it('register writes --check-host-dependencies and --run-as into the flake', async () => {
    await load('test/app:1', [{ path: 'usr/', type: 'dir' }]);
    const options = registerOptionsOf(
      {
        container: 'test/app:1',
        app: '/usr/bin/app',
        target: '/',
        checkHostDependencies: true,
        runAs: 'root',
      },
      () => true,
    );
    const result = registerApp(store.paths, options, join(store.dir, 'pilot-exec'));
    expect(result.flake.container.check_host_dependencies).toBe(true);
    const text = readFileSync(result.flakeFile, 'utf8');
    expect(text).toContain('check_host_dependencies: true');
    expect(text).toContain('runas: root');
  });

  it('show has no instances in a fresh store', () => {
    expect(instanceRecords(store.paths)).toEqual([]);
  });
});
