import { describe, expect, it } from 'vitest';
import type { Flake } from '../../src/core/flake-file.js';
import type { ImageConfig, ImageRecord } from '../../src/core/image-record.js';
import {
  callerHelperOptions,
  envOptions,
  helperArgv,
  isolationOptions,
  mergedImageEnv,
  type PlanIdentity,
  type PlanInput,
  planLaunch,
  resolveCommand,
  stackLayers,
  staticHelperOptions,
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
      host_files: 'skip_missing',
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
    app: 'app',
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
    overrides: { env: [], volumes: [] },
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
      '/etc/localtime',
      '/run/user/0',
      '/home/u',
    ]);
    expect(plan.cwd).toBe('/home/u/work');
    expect(plan.envOptions).toEqual([
      '--image-env',
      'PATH=/delta/bin:/base/bin',
      '--image-env',
      'LANG=C',
      '--image-env',
      'EXTRA=1',
    ]);
    expect(plan.isolation).toEqual([]);
    expect(plan.homeBind).toBe(true);
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

  it.each([
    '/tmp/gone',
    '/home/u/gone',
    '/srv/gone',
    '/',
  ])('binds a deleted cwd %s by descriptor wherever it was (no path leads to it)', (cwd) => {
    const caller = { ...input().caller, cwd, cwdDeleted: true };
    const plan = planLaunch(input({ caller }));
    expect(plan.binds).toContainEqual({
      kind: 'rbind-cwd',
      source: cwd,
      target: cwd,
      perCall: true,
    });
    expect(helperArgv(plan)).not.toContain('--cwd');
    // A fixed working dir needs no cwd at all.
    const fixed = planLaunch(input({ caller, overrides: { ...input().overrides, workdir: '/w' } }));
    expect(fixed.binds.some((b) => b.kind === 'rbind-cwd')).toBe(false);
  });

  it('puts the flake env after the image env, and maps volumes and workdir', () => {
    const plan = planLaunch(
      input({
        overrides: {
          env: [
            { set: 'PATH', value: '/custom' },
            { set: 'X', value: 'y' },
          ],
          volumes: [{ source: '/data', target: '/mnt/data', readOnly: true }],
          workdir: '/opt',
        },
      }),
    );
    expect(plan.envOptions.slice(-4)).toEqual(['--setenv', 'PATH=/custom', '--setenv', 'X=y']);
    expect(plan.envOptions.indexOf('PATH=/delta/bin:/base/bin')).toBeLessThan(
      plan.envOptions.indexOf('PATH=/custom'),
    );
    expect(plan.binds).toContainEqual({
      kind: 'volume',
      source: '/data',
      target: '/mnt/data',
      extra: 'ro',
      late: true,
    });
    expect(plan.cwd).toBe('/opt');
    expect(plan.workdir).toBe('/opt');
    expect(plan.binds.some((b) => b.kind === 'rbind-cwd')).toBe(false);
  });

  it('refuses more layers than overlayfs stacks; a list past one page is for the helper', () => {
    const layers = (n: number) =>
      image(
        7,
        Array.from({ length: n }, (_, i) => 1000 + i),
      );
    expect(() => planLaunch(input({ images: { top: layers(500), layers: [] } }))).toThrow(
      /501 layers do not fit in one overlay mount \(overlayfs stacks at most 500\)/,
    );
    // 400 short names are more than mount(2)'s page: pilot-exec mounts them by parts.
    const plan = planLaunch(input({ images: { top: layers(400), layers: [] } }));
    expect(plan.lowerdirs).toHaveLength(401); // and the input's extra lower
    expect(plan.lowerdirs.join(':').length).toBeGreaterThan(4096);
  });

  it('turns a plan into the helper command line', () => {
    const argv = helperArgv(planLaunch(input({ userns: true })));
    // The caller's words first (docs/plan.md): the stub adds them to any caller's plan.
    expect(argv.slice(0, 7)).toEqual([
      '--mnt',
      '/run/pilot/mnt',
      '--userns',
      '--lowerdir-base',
      '/var/lib/pilot',
      '--lowerdir',
      expect.stringMatching(/^host\/abc:l\//),
    ]);
    expect(argv.slice(-4)).toEqual(['--', '/usr/bin/app', 'a b', '']);
  });
});

describe('envOptions', () => {
  const images = { top: delta, layers: [extra], base };
  const identity: PlanIdentity = {
    uid: 990,
    gid: 990,
    groups: [990],
    env: { HOME: '/home/svc', USER: 'svc', LOGNAME: 'svc' },
  };

  it('gives the image env, then the identity, then the flake entries in order', () => {
    expect(
      envOptions(
        images,
        [
          { set: 'A', value: '1' },
          { pass: 'TERM' },
          { pass: 'LC_*' },
          { set: 'A', value: '2' },
          { set: 'HOME', value: '/flake' },
        ],
        identity,
      ),
    ).toEqual([
      '--image-env',
      'PATH=/delta/bin:/base/bin',
      '--image-env',
      'LANG=C',
      '--image-env',
      'EXTRA=1',
      '--setenv',
      'HOME=/home/svc',
      '--setenv',
      'USER=svc',
      '--setenv',
      'LOGNAME=svc',
      '--setenv',
      'A=1',
      '--pass-env',
      'TERM',
      '--pass-env',
      'LC_*',
      '--setenv',
      'A=2',
      '--setenv',
      'HOME=/flake',
    ]);
  });

  it('keeps values as they are: =, empty, newlines, bytes', () => {
    expect(
      envOptions({ top: image(9, [90], { Env: ['E=a=b', 'F='] }), layers: [] }, [
        { set: 'G', value: 'x\ny' },
        { set: 'H', value: 'caf\udce9' },
      ]),
    ).toEqual([
      '--image-env',
      'E=a=b',
      '--image-env',
      'F=',
      '--setenv',
      'G=x\ny',
      '--setenv',
      'H=caf\udce9',
    ]);
  });

  it('gives nothing for nothing', () => {
    expect(envOptions({ top: image(9, [90]), layers: [] }, [])).toEqual([]);
  });
});

describe('isolationOptions', () => {
  it.each<[string, Parameters<typeof isolationOptions>, string[]]>([
    ['nothing', [], []],
    [
      'all defaults off',
      [{ readOnly: false, networkNone: false, capDrop: [], capAdd: [], noNewPrivileges: false }],
      [],
    ],
    ['--storage-opt size', [{ upperSize: 10737418240 }], ['--upper-size', '10737418240']],
    ['--read-only', [{ readOnly: true }], ['--read-only']],
    ['--network none', [{ networkNone: true }], ['--net-none']],
    ['--hostname', [{ hostname: 'box' }], ['--hostname', 'box']],
    [
      'capabilities, comma-joined',
      [{ capDrop: ['ALL'], capAdd: ['CAP_NET_RAW', 'CAP_CHOWN'] }],
      ['--cap-drop', 'ALL', '--cap-add', 'CAP_NET_RAW,CAP_CHOWN'],
    ],
    ['no-new-privileges', [{ noNewPrivileges: true }], ['--no-new-privs']],
    [
      'an identity with groups',
      [{}, { uid: 990, gid: 990, groups: [990, 44], env: {} }],
      ['--uid', '990', '--gid', '990', '--groups', '990,44'],
    ],
    [
      'an identity without groups: its gid',
      [undefined, { uid: 4242, gid: 0, groups: [], env: {} }],
      ['--uid', '4242', '--gid', '0', '--groups', '0'],
    ],
    [
      'everything, in docs/plan.md order',
      [
        {
          upperSize: 1024,
          readOnly: true,
          networkNone: true,
          hostname: 'h',
          capDrop: ['CAP_KILL'],
          capAdd: ['CAP_NET_BIND_SERVICE'],
          noNewPrivileges: true,
        },
        { uid: 1, gid: 2, groups: [2, 3], env: {} },
      ],
      [
        '--upper-size',
        '1024',
        '--read-only',
        '--net-none',
        '--hostname',
        'h',
        '--cap-drop',
        'CAP_KILL',
        '--cap-add',
        'CAP_NET_BIND_SERVICE',
        '--no-new-privs',
        '--uid',
        '1',
        '--gid',
        '2',
        '--groups',
        '2,3',
      ],
    ],
  ])('%s', (_name, args, words) => {
    expect(isolationOptions(...args)).toEqual(words);
  });
});

describe('planLaunch: podman options and identity', () => {
  const user = (cwd: string, home = '/home/u') => ({
    args: ['x'],
    env: { HOME: home },
    cwd,
    uid: 1000,
    gid: 1000,
  });

  it('gives the whole command line: isolation, env, binds, per-call binds, then volumes, tmpfs and host files', () => {
    const plan = planLaunch(
      input({
        caller: user('/srv/work'),
        userns: true,
        hostBinds: [{ source: '/usr/bin/git', target: '/usr/bin/git' }],
        overrides: {
          env: [{ set: 'A', value: '1' }, { pass: 'TERM' }],
          volumes: [
            { source: '/data', target: '/home/u/data', readOnly: true, flags: ['nosuid'] },
            { source: '/cache', target: '/cache', readOnly: false },
          ],
          tmpfs: [
            { target: '/scratch', options: 'size=1024,mode=1777' },
            { target: '/run/x', options: '' },
          ],
          isolation: { readOnly: true, networkNone: true },
          sessionFiles: [{ source: '/run/pilot/session/ab.passwd', target: '/etc/passwd' }],
          ignoreMissingVolumes: true,
        },
      }),
    );
    expect(helperArgv(plan)).toEqual([
      '--mnt',
      '/run/pilot/mnt',
      '--userns',
      '--lowerdir-base',
      '/var/lib/pilot',
      '--lowerdir',
      plan.lowerdirs.join(':'),
      '--read-only',
      '--net-none',
      '--ignore-missing-volumes',
      '--image-env',
      'PATH=/delta/bin:/base/bin',
      '--image-env',
      'LANG=C',
      '--image-env',
      'EXTRA=1',
      '--setenv',
      'A=1',
      '--pass-env',
      'TERM',
      ...['--rbind', '/proc', '/proc', '--rbind', '/dev', '/dev'],
      ...['--rbind', '/sys', '/sys', '--rbind', '/tmp', '/tmp'],
      ...['--try-bind', '/etc/resolv.conf', '/etc/resolv.conf'],
      ...['--try-bind', '/etc/hosts', '/etc/hosts'],
      ...['--try-bind', '/etc/localtime', '/etc/localtime'],
      // the caller's: its account files and runtime dir
      ...['--bind-ro', '/run/pilot/session/ab.passwd', '/etc/passwd'],
      ...['--try-rbind', '/run/user/1000', '/run/user/1000'],
      // per call: HOME and the cwd
      ...['--try-rbind', '/home/u', '/home/u'],
      ...['--rbind-cwd', '/srv/work'],
      // late: inside HOME is fine
      ...['--volume', '/data', '/home/u/data', 'ro,nosuid'],
      ...['--volume', '/cache', '/cache', 'rw'],
      ...['--tmpfs', '/scratch', 'size=1024,mode=1777'],
      ...['--tmpfs', '/run/x', ''],
      ...['--bind-ro', '/usr/bin/git', '/usr/bin/git'],
      '--',
      '/usr/bin/app',
      'x',
    ]);
  });

  it('keeps volumes, tmpfs and host files in the static tail, after the per-call binds', () => {
    const plan = planLaunch(
      input({
        caller: user('/srv/work'),
        hostBinds: [{ source: '/etc/gitconfig', target: '/etc/gitconfig' }],
        overrides: {
          env: [],
          volumes: [
            { source: '/data', target: '/data', readOnly: false, flags: ['nodev', 'noexec'] },
          ],
          tmpfs: [{ target: '/t', options: 'noexec' }],
        },
      }),
    );
    const { head, tail } = staticHelperOptions(plan);
    expect(tail).toEqual([
      ...['--volume', '/data', '/data', 'rw,nodev,noexec'],
      ...['--tmpfs', '/t', 'noexec'],
      ...['--bind-ro', '/etc/gitconfig', '/etc/gitconfig'],
    ]);
    expect(head).not.toContain('/home/u');
    expect(head).not.toContain('--rbind-cwd');
    expect(plan.binds.filter((b) => b.perCall).map((b) => b.kind)).toEqual([
      'try-rbind',
      'rbind-cwd',
    ]);
  });

  it('binds /run/user/UID of the caller, or of the identity the app runs as', () => {
    const of = (plan: ReturnType<typeof planLaunch>) =>
      plan.binds.filter((b) => b.target.startsWith('/run/user/'));
    // The caller's own is the stub's to add (perCaller); another identity's is the plan's.
    expect(of(planLaunch(input({ caller: user('/srv') })))).toEqual([
      { kind: 'try-rbind', source: '/run/user/1000', target: '/run/user/1000', perCaller: true },
    ]);
    const identity: PlanIdentity = { uid: 990, gid: 990, groups: [990], env: {} };
    expect(of(planLaunch(input({ overrides: { env: [], volumes: [], identity } })))).toEqual([
      { kind: 'try-rbind', source: '/run/user/990', target: '/run/user/990', perCaller: false },
    ]);
  });

  it("binds a runas identity's host home statically, not the caller's HOME", () => {
    const identity: PlanIdentity = {
      uid: 990,
      gid: 990,
      groups: [990, 44],
      env: { HOME: '/home/svc', USER: 'svc', LOGNAME: 'svc' },
      home: '/home/svc',
    };
    const plan = planLaunch(
      input({
        caller: { args: [], env: { HOME: '/root' }, cwd: '/home/svc/project', uid: 0, gid: 0 },
        overrides: { env: [{ set: 'X', value: '1' }], volumes: [], identity },
      }),
    );
    expect(plan.homeBind).toBe(false);
    expect(plan.binds).toContainEqual({
      kind: 'try-rbind',
      source: '/home/svc',
      target: '/home/svc',
      perCall: false,
    });
    expect(plan.binds.some((b) => b.target === '/root')).toBe(false);
    // The stub binds only the caller's HOME: a cwd inside the identity's home is bound itself.
    expect(plan.binds).toContainEqual({
      kind: 'rbind-cwd',
      source: '/home/svc/project',
      target: '/home/svc/project',
      perCall: true,
    });
    expect(plan.isolation).toEqual(['--uid', '990', '--gid', '990', '--groups', '990,44']);
    expect(plan.envOptions.slice(-8)).toEqual([
      '--setenv',
      'HOME=/home/svc',
      '--setenv',
      'USER=svc',
      '--setenv',
      'LOGNAME=svc',
      '--setenv',
      'X=1',
    ]);
    const { head } = staticHelperOptions(plan);
    expect(head.join(' ')).toContain('--try-rbind /home/svc /home/svc');
  });

  it("binds no home for an identity of the image (--user), and the cwd under the caller's HOME itself", () => {
    const identity: PlanIdentity = {
      uid: 500,
      gid: 500,
      groups: [500],
      env: { HOME: '/home/app' },
    };
    const plan = planLaunch(
      input({
        caller: { ...user('/home/u/work'), uid: 0, gid: 0 },
        overrides: { env: [], volumes: [], identity },
      }),
    );
    expect(plan.homeBind).toBe(false);
    expect(plan.binds.some((b) => b.target === '/home/u' || b.target === '/home/app')).toBe(false);
    expect(plan.binds.filter((b) => b.perCall)).toEqual([
      { kind: 'rbind-cwd', source: '/home/u/work', target: '/home/u/work', perCall: true },
    ]);
  });

  it('binds the session files read-only before the per-call binds', () => {
    const plan = planLaunch(
      input({
        overrides: {
          env: [],
          volumes: [],
          sessionFiles: [
            { source: '/run/pilot/session/1.passwd', target: '/etc/passwd' },
            { source: '/run/pilot/session/2.group', target: '/etc/group' },
          ],
        },
      }),
    );
    const session = plan.binds.filter(
      (b) => b.target === '/etc/passwd' || b.target === '/etc/group',
    );
    // The caller's account files: not in the plan's static words (the stub makes them).
    expect(session).toEqual([
      {
        kind: 'bind-ro',
        source: '/run/pilot/session/1.passwd',
        target: '/etc/passwd',
        perCaller: true,
      },
      {
        kind: 'bind-ro',
        source: '/run/pilot/session/2.group',
        target: '/etc/group',
        perCaller: true,
      },
    ]);
    expect(staticHelperOptions(plan).head.join(' ')).not.toContain('/etc/passwd');
    expect(callerHelperOptions(plan).binds.join(' ')).toBe(
      '--bind-ro /run/pilot/session/1.passwd /etc/passwd --bind-ro /run/pilot/session/2.group /etc/group --try-rbind /run/user/0 /run/user/0',
    );
  });

  it('passes the --entrypoint override to the command', () => {
    const plan = planLaunch(
      input({
        flake: flake('/'),
        caller: user('/srv'),
        overrides: { env: [], volumes: [], entrypoint: ['/bin/sh', '-c'] },
      }),
    );
    expect(plan.command).toEqual({ program: '/bin/sh', fixed: ['-c'], defaults: [] });
    expect(helperArgv(plan).slice(-4)).toEqual(['--', '/bin/sh', '-c', 'x']);
  });
});
