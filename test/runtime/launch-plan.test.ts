import { describe, expect, it } from 'vitest';
import type { Flake } from '../../src/core/flake-file.js';
import type { ImageConfig, ImageRecord } from '../../src/core/image-record.js';
import {
  helperArgv,
  mergedImageEnv,
  type PlanInput,
  planLaunch,
  resolveCommand,
  stackLayers,
} from '../../src/runtime/launch-plan.js';

const digest = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;

function image(id: number, layers: number[], config: ImageConfig = {}): ImageRecord {
  return {
    id: digest(id),
    manifestDigest: digest(id + 1000),
    layers: layers.map(digest),
    config,
    size: 0,
    loaded: '',
  };
}

function flake(target = '/usr/bin/app'): Flake {
  return {
    include: { tar: [], path: [] },
    container: {
      name: 'delta',
      target_app_path: target,
      layers: [],
      check_host_dependencies: false,
      digests: {},
      host_packages: [],
      runtime: { resume: false, attach: false, podman: [] },
    },
  };
}

const base = image(1, [10, 11], { Env: ['PATH=/base/bin', 'LANG=C'], Cmd: ['/bin/sh'] });
const extra = image(2, [20], { Env: ['EXTRA=1'] });
const delta = image(3, [30], { Env: ['PATH=/delta/bin:/base/bin'] });

function input(overrides: Partial<PlanInput> = {}): PlanInput {
  return {
    flake: flake(),
    images: { top: delta, layers: [extra], base },
    caller: {
      args: ['a b', ''],
      env: { HOME: '/home/u', PATH: '/host/bin' },
      cwd: '/home/u/work',
      uid: 0,
      gid: 0,
    },
    storeDir: '/var/lib/pilot',
    extraLowers: ['host/abc'],
    hostBinds: [],
    mnt: '/run/pilot/mnt',
    userns: false,
    overrides: { env: {}, volumes: [] },
    ...overrides,
  };
}

describe('stackLayers', () => {
  it('puts delta on top, then layers, then base, each layer once', () => {
    expect(stackLayers({ top: delta, layers: [extra], base })).toEqual([
      digest(30),
      digest(20),
      digest(11),
      digest(10),
    ]);
    const fullDelta = image(4, [10, 11, 40]);
    expect(stackLayers({ top: fullDelta, layers: [], base })).toEqual([
      digest(40),
      digest(11),
      digest(10),
    ]);
  });
});

describe('mergedImageEnv', () => {
  it('lets the delta win over the base', () => {
    const env = mergedImageEnv({ top: delta, layers: [extra], base });
    expect(env.get('PATH')).toBe('/delta/bin:/base/bin');
    expect(env.get('LANG')).toBe('C');
    expect(env.get('EXTRA')).toBe('1');
  });
});

describe('resolveCommand', () => {
  const ep = image(5, [50], { Entrypoint: ['/bin/tool', '--flag'], Cmd: ['default'] });
  const cmdOnly = image(6, [60], { Cmd: ['/bin/sh', '-c', 'echo hi'] });
  it.each([
    { target: '/usr/bin/x', top: delta, args: ['1'], program: '/usr/bin/x', expected: ['1'] },
    { target: '/', top: ep, args: [], program: '/bin/tool', expected: ['--flag', 'default'] },
    { target: '/', top: ep, args: ['run'], program: '/bin/tool', expected: ['--flag', 'run'] },
    { target: '/', top: cmdOnly, args: [], program: '/bin/sh', expected: ['-c', 'echo hi'] },
    { target: '/', top: cmdOnly, args: ['-x'], program: '/bin/sh', expected: ['-x'] },
    { target: '/', top: delta, args: [], program: '/bin/sh', expected: [] },
  ])('$target with $args', ({ target, top, args, program, expected }) => {
    expect(resolveCommand(target, { top, layers: [], base }, args)).toEqual({
      program,
      args: expected,
    });
  });
  it('honours an --entrypoint override', () => {
    expect(resolveCommand('/', { top: ep, layers: [] }, ['x'], ['/bin/other'])).toEqual({
      program: '/bin/other',
      args: ['x'],
    });
  });
  it('fails clearly when there is nothing to run', () => {
    expect(() => resolveCommand('/', { top: delta, layers: [] }, [])).toThrow(
      /neither Entrypoint nor Cmd/,
    );
  });
});

describe('planLaunch', () => {
  it('composes lowers, binds, env and argv', () => {
    const plan = planLaunch(input());
    expect(plan.lowerdirs[0]).toBe('host/abc');
    expect(plan.lowerdirs.slice(1)).toEqual(
      [30, 20, 11, 10].map((n) => `l/${digest(n).slice(7, 17)}`),
    );
    expect(plan.binds.map((b) => b.target)).toEqual([
      '/proc',
      '/dev',
      '/sys',
      '/tmp',
      '/etc/resolv.conf',
      '/etc/hosts',
      '/home/u',
    ]);
    expect(plan.cwd).toBe('/home/u/work');
    expect(plan.setenv).toContain('PATH=/delta/bin:/base/bin');
    expect(plan.program).toBe('/usr/bin/app');
    expect(plan.args).toEqual(['a b', '']);
  });

  it.each([
    ['/srv/data', true],
    ['/', false],
    ['/tmp/x', false],
    ['/usr/share', false],
    ['/home/u/x', false],
    ['/root', true],
  ])('binds cwd %s: %s', (cwd, bound) => {
    const plan = planLaunch(input({ caller: { ...input().caller, cwd } }));
    expect(
      plan.binds.some((b) => b.target === cwd && b.source === cwd && b.kind === 'rbind-cwd'),
    ).toBe(bound);
    expect(plan.cwd).toBe(cwd);
  });

  it('lets flake settings win and maps volumes and workdir', () => {
    const plan = planLaunch(
      input({
        overrides: {
          env: { PATH: '/custom', X: 'y' },
          volumes: [{ source: '/data', target: '/mnt/data', readOnly: true }],
          workdir: '/opt',
        },
      }),
    );
    expect(plan.setenv).toContain('PATH=/custom');
    expect(plan.setenv).toContain('X=y');
    expect(plan.binds).toContainEqual({
      kind: 'bind-ro',
      source: '/data',
      target: '/mnt/data',
      late: true,
    });
    expect(plan.cwd).toBe('/opt');
  });

  it('refuses more layers than one overlay mount holds', () => {
    const many = image(
      7,
      Array.from({ length: 300 }, (_, i) => 1000 + i),
    );
    expect(() => planLaunch(input({ images: { top: many, layers: [] } }))).toThrow(/do not fit/);
  });

  it('turns a plan into the helper command line', () => {
    const argv = helperArgv(planLaunch(input({ userns: true })));
    expect(argv.slice(0, 6)).toEqual([
      '--mnt',
      '/run/pilot/mnt',
      '--lowerdir-base',
      '/var/lib/pilot',
      '--lowerdir',
      expect.stringMatching(/^host\/abc:l\//),
    ]);
    expect(argv).toContain('--userns');
    expect(argv.slice(-4)).toEqual(['--', '/usr/bin/app', 'a b', '']);
  });
});
