/**
 * Registration as a new user meets it, in a temp root: load, register with a base,
 * list, show a merged drop-in, every refusal, remove, and nothing left but images.
 */
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipReason, TestRoot } from './harness.js';

const skip = skipReason();

describe.skipIf(skip !== '')('registration', () => {
  let root: TestRoot;
  const register = [
    'register',
    '--container',
    'pilot/hello-delta',
    '--base',
    'pilot/busybox-base',
    '--app',
    '/usr/bin/hello',
  ];

  beforeAll(() => {
    root = new TestRoot('reg');
    root.load('busybox-base', 'hello-delta');
  });
  afterAll(() => root?.cleanup());

  it('registers, pins digests, links the app and lists it', () => {
    const r = root.ok(register);
    expect(r.stdout).toContain('registered hello');
    expect(readlinkSync(root.link('/usr/bin/hello'))).toMatch(/pilot-exec$/);
    const flake = readFileSync(join(root.dir, 'usr/share/flakes/hello.yaml'), 'utf8');
    expect(flake).toContain('name: pilot/hello-delta');
    expect(flake).toContain('base_container: pilot/busybox-base');
    expect(flake).toContain('host_app_path: /usr/bin/hello');
    expect(flake).not.toContain(root.dir);
    expect(flake).toMatch(/digests:\n\s+pilot\/hello-delta: sha256:[a-f0-9]{64}/);
    const list = JSON.parse(root.ok(['list', '--json']).stdout);
    expect(list).toEqual([
      expect.objectContaining({
        app: 'hello',
        ok: true,
        container: 'pilot/hello-delta',
        target_app_path: '/usr/bin/hello',
        linked: true,
      }),
    ]);
    expect(root.run('/usr/bin/hello', ['x']).stdout).toBe('hello from pilot\n[x]\n');
  });

  it('shows a drop-in deep-merged into the flake', () => {
    const dropIns = join(root.dir, 'usr/share/flakes/hello.d');
    mkdirSync(dropIns, { recursive: true });
    writeFileSync(
      join(dropIns, '10-exit.yaml'),
      'container:\n  runtime:\n    podman:\n      - -e HELLO_EXIT=3\n',
    );
    const shown = JSON.parse(root.ok(['show', 'hello', '--json']).stdout);
    expect(shown.container.runtime.podman).toEqual(['-e HELLO_EXIT=3']);
    expect(shown.container.base_container).toBe('pilot/busybox-base');
    expect(root.run('/usr/bin/hello').code).toBe(3);
  });

  it('refuses a second registration, a real file in the way and an unknown image, leaving nothing', () => {
    const again = root.pilot(register);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already registered.*--force/s);

    const inWay = root.link('/usr/local/bin/tool');
    mkdirSync(join(inWay, '..'), { recursive: true });
    writeFileSync(inWay, 'mine');
    const blocked = root.pilot([
      'register',
      '--container',
      'pilot/hello-delta',
      '--app',
      '/usr/local/bin/tool',
    ]);
    expect(blocked.code).toBe(1);
    expect(blocked.stderr).toContain(`${inWay} exists and is not a pilot app link`);
    expect(readFileSync(inWay, 'utf8')).toBe('mine');
    expect(existsSync(join(root.dir, 'usr/share/flakes/tool.yaml'))).toBe(false);

    const unknown = root.pilot([
      'register',
      '--container',
      'nope/missing',
      '--app',
      '/usr/bin/missing',
    ]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('image "nope/missing" is not in the store');
    expect(unknown.stderr).toMatch(/pilot load|pilot pull/);
    expect(existsSync(root.link('/usr/bin/missing'))).toBe(false);
    expect(existsSync(join(root.dir, 'usr/share/flakes/missing.yaml'))).toBe(false);
  });

  it('refuses an --app that names a directory, even with --force, and says which path to give', () => {
    const bin = root.link('/usr/local/bin');
    mkdirSync(bin, { recursive: true });
    for (const app of ['/usr/local/bin/', '/usr/local/bin/.']) {
      const r = root.pilot([
        'register',
        '--container',
        'pilot/hello-delta',
        '--app',
        app,
        '--force',
      ]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`pilot: --app "${app}" names a directory, not a command`);
      expect(r.stderr).toContain('e.g. --app /usr/bin/hello');
    }
    const dir = root.pilot([
      'register',
      '--container',
      'pilot/hello-delta',
      '--app',
      '/usr/local/bin',
      '--force',
    ]);
    expect(dir.code).toBe(1);
    expect(dir.stderr).toContain(`--app ${bin} is a directory`);
    expect(dir.stderr).not.toContain('--force to replace');
    expect(existsSync(join(root.dir, 'usr/share/flakes/bin.yaml'))).toBe(false);
  });

  it('register --force replaces a flake that is a FIFO, in seconds', () => {
    const flake = join(root.dir, 'usr/share/flakes/piped.yaml');
    expect(spawnSync('mkfifo', [flake]).status).toBe(0);
    const r = root.pilot(
      [
        'register',
        '--container',
        'pilot/hello-delta',
        '--base',
        'pilot/busybox-base',
        '--app',
        '/usr/bin/piped',
        '--force',
      ],
      { timeout: 10_000 },
    );
    expect(r.signal).toBeNull();
    expect(r.code).toBe(0);
    expect(readFileSync(flake, 'utf8')).toContain('pilot/hello-delta');
    root.ok(['remove', '--app', '/usr/bin/piped']);
  });

  it('reports a broken flake with file and line without breaking other apps', () => {
    root.ok([
      'register',
      '--container',
      'pilot/hello-delta',
      '--base',
      'pilot/busybox-base',
      '--app',
      '/usr/bin/pilot-test',
    ]);
    const broken = join(root.dir, 'usr/share/flakes/broken.yaml');
    writeFileSync(broken, 'container:\n  name: x\n  layers: [unclosed\n');
    const show = root.pilot(['show', 'broken']);
    expect(show.code).toBe(1);
    expect(show.stderr).toMatch(/broken\.yaml:\d+/);
    const list = JSON.parse(root.ok(['list', '--json']).stdout) as {
      app: string;
      ok: boolean;
      error?: string;
    }[];
    expect(list.find((e) => e.app === 'broken')).toMatchObject({
      ok: false,
      error: expect.stringMatching(/broken\.yaml:\d+/),
    });
    expect(list.filter((e) => e.ok).map((e) => e.app)).toEqual(['hello', 'pilot-test']);
    expect(root.run('/usr/bin/pilot-test', ['args', 'still']).stdout).toBe('[still]\n');
  });

  it('removes apps and leaves only the images', () => {
    root.ok(['remove', '--app', '/usr/bin/hello']);
    root.ok(['remove', '--container', 'pilot/hello-delta']);
    expect(existsSync(root.link('/usr/bin/hello'))).toBe(false);
    expect(() => lstatSync(root.link('/usr/bin/pilot-test'))).toThrow();
    expect(
      readdirSync(join(root.dir, 'usr/share/flakes')).filter((f) => !f.startsWith('.')),
    ).toEqual(['broken.yaml']);
    const images = JSON.parse(root.ok(['images', '--json']).stdout) as { names: string[] }[];
    expect(images.flatMap((i) => i.names).sort()).toEqual([
      'localhost/pilot/busybox-base:latest',
      'localhost/pilot/hello-delta:latest',
    ]);
    const notOurs = root.pilot(['remove', '--app', '/usr/local/bin/tool']);
    expect(notOurs.code).toBe(1);
    expect(readFileSync(root.link('/usr/local/bin/tool'), 'utf8')).toBe('mine');
  });
});
