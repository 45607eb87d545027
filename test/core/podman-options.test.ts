import { describe, expect, it } from 'vitest';
import { PilotError } from '../../src/core/errors.js';
import {
  type PodmanOptions,
  parsePodmanOptions,
  splitPodmanWords,
} from '../../src/core/podman-options.js';

const none: PodmanOptions = { env: {}, passEnv: [], volumes: [], ignored: [] };

describe('splitPodmanWords', () => {
  it.each([
    ['--rm', ['--rm']],
    ['  --storage-opt   size=10G ', ['--storage-opt', 'size=10G']],
    ["-e 'A=b c'", ['-e', 'A=b c']],
    ['-e "A=b \\"c\\" \\\\ $x"', ['-e', 'A=b "c" \\ $x']],
    ['-e A=b\\ c', ['-e', 'A=b c']],
    ['-e A=\'x\'"y"z', ['-e', 'A=xyz']],
    ["--entrypoint ''", ['--entrypoint', '']],
    ['--entrypoint ["/bin/sh", "-c"] --rm', ['--entrypoint', '["/bin/sh", "-c"]', '--rm']],
    ['--entrypoint=["/bin/sh", "-c"]', ['--entrypoint=["/bin/sh", "-c"]']],
    ['--entrypoint \'["/bin/sh", "-c"]\'', ['--entrypoint', '["/bin/sh", "-c"]']],
    ['', []],
  ])('%j', (text, words) => {
    expect(splitPodmanWords(text)).toEqual(words);
  });

  it.each(["-e 'A=b", '-e "A=b'])('refuses the unterminated quote in %j', (text) => {
    expect(() => splitPodmanWords(text)).toThrow(PilotError);
    expect(() => splitPodmanWords(text)).toThrow(/unterminated/);
  });
});

describe('parsePodmanOptions', () => {
  it.each<[string, string[], Partial<PodmanOptions>]>([
    ['nothing', [], {}],
    ['-e A=B', ['-e A=B'], { env: { A: 'B' } }],
    ['--env=A=B', ['--env=A=B'], { env: { A: 'B' } }],
    ['--env A=B=C', ['--env A=B=C'], { env: { A: 'B=C' } }],
    ['-eA=B (attached)', ['-eA=B'], { env: { A: 'B' } }],
    ['-e=A=B (pflag form)', ['-e=A=B'], { env: { A: 'B' } }],
    ['-e A= (empty value)', ['-e A='], { env: { A: '' } }],
    ['quoted value', ["-e 'MSG=hello world'"], { env: { MSG: 'hello world' } }],
    ['option and value in two items', ['-e', 'A=B'], { env: { A: 'B' } }],
    ['-e NAME takes it from the caller', ['-e HOME', '--env=TERM'], { passEnv: ['HOME', 'TERM'] }],
    ['-e PREFIX* passes a prefix', ['-e LC_*'], { passEnv: ['LC_*'] }],
    ['a later -e wins', ['-e A=1', '-e A', '-e B', '-e B=2'], { env: { B: '2' }, passEnv: ['A'] }],
    ['-e =x is not an env', ['-e =x'], { ignored: ['-e =x'] }],
    ['-v /a:/b', ['-v /a:/b'], { volumes: [{ source: '/a', target: '/b', readOnly: false }] }],
    [
      '--volume /a:/b:ro',
      ['--volume /a:/b:ro'],
      { volumes: [{ source: '/a', target: '/b', readOnly: true }] },
    ],
    [
      '--volume=/a:/b:rw,z',
      ['--volume=/a:/b:rw,z'],
      { volumes: [{ source: '/a', target: '/b', readOnly: false }] },
    ],
    [
      'volumes keep their order',
      ['-v /x:/x:ro,Z', '-v /y:/y'],
      {
        volumes: [
          { source: '/x', target: '/x', readOnly: true },
          { source: '/y', target: '/y', readOnly: false },
        ],
      },
    ],
    ['a named volume is ignored', ['-v data:/data'], { ignored: ['-v data:/data'] }],
    ['an anonymous volume is ignored', ['-v /data'], { ignored: ['-v /data'] }],
    ['a relative target is ignored', ['-v /a:b'], { ignored: ['-v /a:b'] }],
    ['an unknown volume option is ignored', ['-v /a:/b:O'], { ignored: ['-v /a:/b:O'] }],
    ['-w /x', ['-w /x'], { workdir: '/x' }],
    ['--workdir=/x', ['--workdir=/x'], { workdir: '/x' }],
    ['the last workdir wins', ['-w /x', '--workdir /y'], { workdir: '/y' }],
    ['a relative workdir is ignored', ['-w x'], { ignored: ['-w x'] }],
    ['--entrypoint /bin/sh', ['--entrypoint /bin/sh'], { entrypoint: ['/bin/sh'] }],
    [
      '--entrypoint JSON array',
      ['--entrypoint ["/bin/sh", "-c"]'],
      { entrypoint: ['/bin/sh', '-c'] },
    ],
    [
      '--entrypoint=JSON array',
      ['--entrypoint=["/usr/bin/env","python3"]'],
      { entrypoint: ['/usr/bin/env', 'python3'] },
    ],
    ['--entrypoint "" clears it', ['--entrypoint ""'], { entrypoint: [] }],
    ['--entrypoint with bad JSON is one word', ['--entrypoint [x'], { entrypoint: ['[x'] }],
    [
      'upstream defaults are ignored, each with its value',
      ['--storage-opt size=10G', '--rm', '-ti'],
      { ignored: ['--storage-opt size=10G', '--rm', '-ti'] },
    ],
    [
      'flags do not swallow the next word',
      ['--privileged', '-t', 'stray', '--init'],
      { ignored: ['--privileged', '-t', 'stray', '--init'] },
    ],
    [
      'unknown options with values',
      ['-u root', '--network=host', '-p 8080:80', '--cap-add', 'SYS_ADMIN'],
      { ignored: ['-u root', '--network=host', '-p 8080:80', '--cap-add SYS_ADMIN'] },
    ],
    ['a dangling -e is ignored', ['--rm -e'], { ignored: ['--rm', '-e'] }],
    [
      'several options in one item, mixed',
      ['--rm -e A=1 -v /h:/c:ro -w /c --entrypoint /bin/app'],
      {
        env: { A: '1' },
        volumes: [{ source: '/h', target: '/c', readOnly: true }],
        workdir: '/c',
        entrypoint: ['/bin/app'],
        ignored: ['--rm'],
      },
    ],
  ])('%s', (_name, options, expected) => {
    expect(parsePodmanOptions(options)).toEqual({ ...none, ...expected });
  });

  it('is pure: the caller environment does not leak in', () => {
    process.env.PILOT_TEST_PODMAN_OPTION = 'x';
    try {
      expect(parsePodmanOptions(['-e PILOT_TEST_PODMAN_OPTION'])).toEqual({
        ...none,
        passEnv: ['PILOT_TEST_PODMAN_OPTION'],
      });
    } finally {
      delete process.env.PILOT_TEST_PODMAN_OPTION;
    }
  });

  it('keeps odd variable names as plain own keys', () => {
    const { env } = parsePodmanOptions(['-e __proto__=x']);
    expect(Object.hasOwn(env, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(env)).toBe(Object.prototype);
  });
});
