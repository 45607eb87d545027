import { describe, expect, it } from 'vitest';
import { PilotError } from '../../src/core/errors.js';
import {
  type ParseOptions,
  type PodmanOptions,
  type PodmanVolume,
  parseEnvFile,
  parsePodmanOptions,
  SUPPORTED_OPTIONS,
  splitPodmanWords,
} from '../../src/core/podman-options.js';

const none: PodmanOptions = {
  envFileAt: [],
  env: [],
  envFiles: [],
  volumes: [],
  tmpfs: [],
  readOnly: false,
  network: 'host',
  capDrop: [],
  capAdd: [],
  noNewPrivileges: false,
  noops: [],
};

const STDIO = expect.stringMatching(/^stdio is always the caller's own$/);

function volume(
  written: string,
  source: string,
  target: string,
  readOnly = false,
  flags: PodmanVolume['flags'] = [],
): PodmanVolume {
  return { source, target, readOnly, flags, written };
}

/** The PilotError parsing `items` throws (fails the test if it does not). */
function refusal(items: string[], options: ParseOptions = {}): PilotError {
  try {
    parsePodmanOptions(items, options);
  } catch (error) {
    expect(error).toBeInstanceOf(PilotError);
    return error as PilotError;
  }
  throw new Error(`expected ${JSON.stringify(items)} to be refused`);
}

describe('splitPodmanWords', () => {
  it.each([
    ['--rm', ['--rm']],
    ['  --storage-opt   size=10G ', ['--storage-opt', 'size=10G']],
    ["-e 'A=b c'", ['-e', 'A=b c']],
    ['-e "A=b \\"c\\" \\\\ $x"', ['-e', 'A=b "c" \\ $x']],
    ['-e A=b\\ c', ['-e', 'A=b c']],
    ['-e A=\'x\'"y"z', ['-e', 'A=xyz']],
    ['\\--net host', ['--net', 'host']],
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

describe('parsePodmanOptions: honoured options', () => {
  it.each<[string, string[], Partial<PodmanOptions>]>([
    ['nothing', [], {}],
    // -e / --env, every pflag spelling
    ['-e A=B', ['-e A=B'], { env: [{ name: 'A', value: 'B' }] }],
    ['--env=A=B', ['--env=A=B'], { env: [{ name: 'A', value: 'B' }] }],
    ['--env A=B=C', ['--env A=B=C'], { env: [{ name: 'A', value: 'B=C' }] }],
    ['-eA=B (attached)', ['-eA=B'], { env: [{ name: 'A', value: 'B' }] }],
    ['-e=A=B (pflag form)', ['-e=A=B'], { env: [{ name: 'A', value: 'B' }] }],
    ['-e A= (empty value)', ['-e A='], { env: [{ name: 'A', value: '' }] }],
    ['quoted value', ["-e 'MSG=hello world'"], { env: [{ name: 'MSG', value: 'hello world' }] }],
    ['option and value in two items', ['-e', 'A=B'], { env: [{ name: 'A', value: 'B' }] }],
    [
      '-e NAME takes the caller value',
      ['-e HOME', '--env=TERM'],
      {
        env: [
          { name: 'HOME', fromCaller: true },
          { name: 'TERM', fromCaller: true },
        ],
      },
    ],
    ['-e PREFIX* passes a prefix', ['-e LC_*'], { env: [{ name: 'LC_*', fromCaller: true }] }],
    [
      'entries keep their order (pilot-exec lets the later win)',
      ['-e A=1', '-e A', '-e B', '-e B=2'],
      {
        env: [
          { name: 'A', value: '1' },
          { name: 'A', fromCaller: true },
          { name: 'B', fromCaller: true },
          { name: 'B', value: '2' },
        ],
      },
    ],
    [
      '--env-file, both spellings',
      ['--env-file /etc/app.env', '--env-file=/etc/more.env'],
      {
        envFiles: ['/etc/app.env', '/etc/more.env'],
        envFileAt: ['runtime.podman item 1', 'runtime.podman item 2'],
      },
    ],
    // -v / --volume
    ['-v /a:/b', ['-v /a:/b'], { volumes: [volume('-v /a:/b', '/a', '/b')] }],
    ['-v/a:/b (attached)', ['-v/a:/b'], { volumes: [volume('-v/a:/b', '/a', '/b')] }],
    [
      '--volume /a:/b:ro',
      ['--volume /a:/b:ro'],
      { volumes: [volume('--volume /a:/b:ro', '/a', '/b', true)] },
    ],
    [
      '--volume=/a:/b:rw,z',
      ['--volume=/a:/b:rw,z'],
      { volumes: [volume('--volume=/a:/b:rw,z', '/a', '/b')] },
    ],
    ['-v /a:/b:Z', ['-v /a:/b:Z'], { volumes: [volume('-v /a:/b:Z', '/a', '/b')] }],
    [
      'the last of ro and rw wins',
      ['-v /a:/b:ro,rw'],
      { volumes: [volume('-v /a:/b:ro,rw', '/a', '/b', false)] },
    ],
    [
      'nosuid, nodev, noexec become flags, once each',
      ['-v /a:/b:ro,nosuid,nodev,noexec,nosuid'],
      {
        volumes: [
          volume('-v /a:/b:ro,nosuid,nodev,noexec,nosuid', '/a', '/b', true, [
            'nosuid',
            'nodev',
            'noexec',
          ]),
        ],
      },
    ],
    [
      'rbind, private, rprivate and the host-side suid, dev, exec change nothing',
      ['-v /a:/b:rbind,private,rprivate,suid,dev,exec'],
      { volumes: [volume('-v /a:/b:rbind,private,rprivate,suid,dev,exec', '/a', '/b')] },
    ],
    [
      'volumes keep their order',
      ['-v /x:/x:ro,Z', '-v', '/y:/y'],
      { volumes: [volume('-v /x:/x:ro,Z', '/x', '/x', true), volume('-v /y:/y', '/y', '/y')] },
    ],
    // --mount type=bind
    [
      '--mount type=bind,src=,dst=',
      ['--mount type=bind,src=/a,dst=/b'],
      { volumes: [volume('--mount type=bind,src=/a,dst=/b', '/a', '/b')] },
    ],
    [
      '--mount=type=bind,source=,target=,ro',
      ['--mount=type=bind,source=/a,target=/b,ro'],
      { volumes: [volume('--mount=type=bind,source=/a,target=/b,ro', '/a', '/b', true)] },
    ],
    [
      '--mount destination= and readonly',
      ['--mount type=bind,source=/a,destination=/b,readonly'],
      {
        volumes: [volume('--mount type=bind,source=/a,destination=/b,readonly', '/a', '/b', true)],
      },
    ],
    [
      '--mount readonly=true',
      ['--mount type=bind,src=/a,dst=/b,readonly=true'],
      { volumes: [volume('--mount type=bind,src=/a,dst=/b,readonly=true', '/a', '/b', true)] },
    ],
    [
      '--mount readonly=false and ro=0',
      ['--mount type=bind,src=/a,dst=/b,readonly=false', '--mount type=bind,src=/c,dst=/d,ro=0'],
      {
        volumes: [
          volume('--mount type=bind,src=/a,dst=/b,readonly=false', '/a', '/b', false),
          volume('--mount type=bind,src=/c,dst=/d,ro=0', '/c', '/d', false),
        ],
      },
    ],
    [
      '--mount bind-propagation=private or rprivate, relabel',
      [
        '--mount type=bind,src=/a,dst=/b,bind-propagation=private',
        '--mount type=bind,src=/c,dst=/d,bind-propagation=rprivate,relabel=shared',
      ],
      {
        volumes: [
          volume('--mount type=bind,src=/a,dst=/b,bind-propagation=private', '/a', '/b'),
          volume(
            '--mount type=bind,src=/c,dst=/d,bind-propagation=rprivate,relabel=shared',
            '/c',
            '/d',
          ),
        ],
      },
    ],
    // --mount type=tmpfs and --tmpfs
    [
      '--mount type=tmpfs',
      ['--mount type=tmpfs,dst=/t'],
      { tmpfs: [{ target: '/t', options: '' }] },
    ],
    [
      '--mount type=tmpfs with tmpfs-size (bytes) and tmpfs-mode',
      ['--mount type=tmpfs,target=/t,tmpfs-size=64m,tmpfs-mode=1777'],
      { tmpfs: [{ target: '/t', options: 'size=67108864,mode=1777' }] },
    ],
    [
      '--mount type=tmpfs with a size in percent, read-only',
      ['--mount type=tmpfs,destination=/t,tmpfs-size=50%,readonly'],
      { tmpfs: [{ target: '/t', options: 'size=50%,ro' }] },
    ],
    ['--tmpfs DIR', ['--tmpfs /t'], { tmpfs: [{ target: '/t', options: '' }] }],
    [
      '--tmpfs DIR:OPTIONS',
      ['--tmpfs /t:size=64m,mode=1777,noexec'],
      { tmpfs: [{ target: '/t', options: 'size=67108864,mode=1777,noexec' }] },
    ],
    [
      '--tmpfs=DIR:OPTIONS with every other option',
      ['--tmpfs=/t:rw,ro,exec,nosuid,nodev,nr_inodes=100,uid=1000,gid=100,size=1k'],
      {
        tmpfs: [
          {
            target: '/t',
            options: 'rw,ro,exec,nosuid,nodev,nr_inodes=100,uid=1000,gid=100,size=1024',
          },
        ],
      },
    ],
    // -w / --workdir
    ['-w /x', ['-w /x'], { workdir: '/x' }],
    ['-w/x', ['-w/x'], { workdir: '/x' }],
    ['--workdir=/x', ['--workdir=/x'], { workdir: '/x' }],
    ['the last workdir wins', ['-w /x', '--workdir /y'], { workdir: '/y' }],
    // --entrypoint
    ['--entrypoint /bin/sh', ['--entrypoint /bin/sh'], { entrypoint: ['/bin/sh'] }],
    ['--entrypoint=/bin/sh', ['--entrypoint=/bin/sh'], { entrypoint: ['/bin/sh'] }],
    ['--entrypoint "a b" is one word', ['--entrypoint "/bin/a b"'], { entrypoint: ['/bin/a b'] }],
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
      '--entrypoint with a non-string array is one word',
      ['--entrypoint [1]'],
      { entrypoint: ['[1]'] },
    ],
    // -u / --user
    ['-u root', ['-u root'], { user: { user: 'root' } }],
    ['-u1000', ['-u1000'], { user: { user: '1000' } }],
    ['--user=1000:100', ['--user=1000:100'], { user: { user: '1000', group: '100' } }],
    ['--user NAME:GROUP', ['--user alice:wheel'], { user: { user: 'alice', group: 'wheel' } }],
    ['--user with a machine account name', ['--user host$'], { user: { user: 'host$' } }],
    // --read-only
    ['--read-only', ['--read-only'], { readOnly: true }],
    ['--read-only=true', ['--read-only=true'], { readOnly: true }],
    ['--read-only=false', ['--read-only=false'], { readOnly: false }],
    ['a later --read-only=false wins', ['--read-only', '--read-only=false'], { readOnly: false }],
    // --network / --net
    ['--network none', ['--network none'], { network: 'none' }],
    ['--network=host', ['--network=host'], { network: 'host' }],
    ['--net none', ['--net none'], { network: 'none' }],
    ['--net=none', ['--net=none'], { network: 'none' }],
    ["flake-ctl's escaped \\--net", ['\\--net none'], { network: 'none' }],
    ['the last network wins', ['--net none', '--network host'], { network: 'host' }],
    // --cap-drop / --cap-add
    ['--cap-drop ALL', ['--cap-drop ALL'], { capDrop: ['ALL'] }],
    ['--cap-drop all', ['--cap-drop=all'], { capDrop: ['ALL'] }],
    ['--cap-add without CAP_', ['--cap-add NET_RAW'], { capAdd: ['CAP_NET_RAW'] }],
    ['--cap-add lower case', ['--cap-add net_raw'], { capAdd: ['CAP_NET_RAW'] }],
    [
      '--cap-add a list, with and without CAP_',
      ['--cap-add CAP_NET_ADMIN,sys_time', '--cap-add=cap_chown'],
      { capAdd: ['CAP_NET_ADMIN', 'CAP_SYS_TIME', 'CAP_CHOWN'] },
    ],
    [
      'drops and adds in order',
      ['--cap-drop ALL', '--cap-add NET_BIND_SERVICE', '--cap-drop CAP_KILL'],
      { capDrop: ['ALL', 'CAP_KILL'], capAdd: ['CAP_NET_BIND_SERVICE'] },
    ],
    [
      'the newest capability',
      ['--cap-add checkpoint_restore'],
      { capAdd: ['CAP_CHECKPOINT_RESTORE'] },
    ],
    // --security-opt
    ['no-new-privileges', ['--security-opt no-new-privileges'], { noNewPrivileges: true }],
    [
      'no-new-privileges=true',
      ['--security-opt=no-new-privileges=true'],
      { noNewPrivileges: true },
    ],
    [
      'no-new-privileges:true',
      ['--security-opt no-new-privileges:true'],
      { noNewPrivileges: true },
    ],
    [
      'a later no-new-privileges=false wins',
      ['--security-opt no-new-privileges', '--security-opt no-new-privileges=false'],
      { noNewPrivileges: false },
    ],
    [
      'label=disable is a no-op with its reason',
      ['--security-opt label=disable'],
      {
        noops: [
          { option: '--security-opt label=disable', reason: 'pilot applies no SELinux labels' },
        ],
      },
    ],
    // --hostname, -h
    ['--hostname box', ['--hostname box'], { hostname: 'box' }],
    ['--hostname=box', ['--hostname=box'], { hostname: 'box' }],
    ['-h box', ['-h box'], { hostname: 'box' }],
    ['a 64-byte host name', [`--hostname ${'h'.repeat(64)}`], { hostname: 'h'.repeat(64) }],
    // --storage-opt size=
    ['--storage-opt size=10G', ['--storage-opt size=10G'], { storageSize: 10 * 1024 ** 3 }],
    ['--storage-opt=size=512m', ['--storage-opt=size=512m'], { storageSize: 512 * 1024 ** 2 }],
    ['--storage-opt size=1.5g', ['--storage-opt size=1.5g'], { storageSize: 1.5 * 1024 ** 3 }],
    ['--storage-opt size=4096', ['--storage-opt size=4096'], { storageSize: 4096 }],
    ['--storage-opt size=10GB', ['--storage-opt size=10GB'], { storageSize: 10 * 1024 ** 3 }],
    // no-ops, each with its reason
    ['-t', ['-t'], { noops: [{ option: '-t', reason: STDIO }] }],
    ['-i', ['-i'], { noops: [{ option: '-i', reason: STDIO }] }],
    ['-ti', ['-ti'], { noops: [{ option: '-ti', reason: STDIO }] }],
    ['-it', ['-it'], { noops: [{ option: '-it', reason: STDIO }] }],
    ['--tty', ['--tty'], { noops: [{ option: '--tty', reason: STDIO }] }],
    ['--tty=false', ['--tty=false'], { noops: [{ option: '--tty=false', reason: STDIO }] }],
    ['--interactive', ['--interactive'], { noops: [{ option: '--interactive', reason: STDIO }] }],
    [
      '--rm',
      ['--rm'],
      {
        noops: [
          {
            option: '--rm',
            reason: 'every call gets a fresh writable layer, removed when it ends',
          },
        ],
      },
    ],
    [
      "flake-ctl's defaults",
      ['--storage-opt size=10G', '--rm', '-ti'],
      {
        storageSize: 10 * 1024 ** 3,
        noops: [
          { option: '--rm', reason: expect.stringMatching(/fresh writable layer/) },
          { option: '-ti', reason: STDIO },
        ],
      },
    ],
    [
      'several options in one item, mixed',
      ['--rm -e A=1 -v /h:/c:ro -w /c --entrypoint /bin/app --read-only --net none'],
      {
        env: [{ name: 'A', value: '1' }],
        volumes: [volume('-v /h:/c:ro', '/h', '/c', true)],
        workdir: '/c',
        entrypoint: ['/bin/app'],
        readOnly: true,
        network: 'none',
        noops: [{ option: '--rm', reason: expect.any(String) }],
      },
    ],
  ])('%s', (_name, items, expected) => {
    expect(parsePodmanOptions(items)).toEqual({ ...none, ...expected });
  });

  it('is pure: the caller environment does not leak in', () => {
    process.env.PILOT_TEST_PODMAN_OPTION = 'x';
    try {
      expect(parsePodmanOptions(['-e PILOT_TEST_PODMAN_OPTION', '-e B=%PILOT'])).toEqual({
        ...none,
        env: [
          { name: 'PILOT_TEST_PODMAN_OPTION', fromCaller: true },
          { name: 'B', value: '%PILOT' },
        ],
      });
    } finally {
      delete process.env.PILOT_TEST_PODMAN_OPTION;
    }
  });

  it('keeps odd variable names as data', () => {
    const { env } = parsePodmanOptions(['-e __proto__=x', '-e constructor']);
    expect(env).toEqual([
      { name: '__proto__', value: 'x' },
      { name: 'constructor', fromCaller: true },
    ]);
  });
});

describe('parsePodmanOptions: refused options', () => {
  // [items, the option as the message quotes it, what the message says about it]
  it.each<[string[], string, RegExp]>([
    // more than the caller has
    [['--privileged'], '--privileged', /more than its caller has/],
    [['--pid host'], '--pid host', /more than its caller has/],
    [['--pid=host'], '--pid=host', /more than its caller has/],
    [['--pid', 'host'], '--pid host', /more than its caller has/],
    [['--device /dev/fuse'], '--device /dev/fuse', /more than its caller has/],
    [['--device=/dev/kvm'], '--device=/dev/kvm', /more than its caller has/],
    [['--ipc host'], '--ipc host', /more than its caller has/],
    [['--userns=keep-id'], '--userns=keep-id', /more than its caller has/],
    [['--uts host'], '--uts host', /more than its caller has/],
    // other options pilot cannot honour
    [['--runtime crun'], '--runtime crun', /is not supported by pilot$/],
    [['-d'], '-d', /is not supported by pilot$/],
    [['--detach'], '--detach', /is not supported by pilot$/],
    [['-p 8080:80'], '-p', /is not supported by pilot$/],
    [['-dt'], '-dt', /is not supported by pilot$/],
    [['--init', '--rm'], '--init', /is not supported by pilot$/],
    [['--name x'], '--name x', /is not supported by pilot$/],
    [['stray'], 'stray', /is not an option/],
    // values the honoured options cannot take
    [['--rm -e'], '-e', /needs a value/],
    [['--env-file'], '--env-file', /needs a value/],
    [['-e =x'], '-e =x', /needs a name/],
    [['--env-file app.env'], '--env-file app.env', /env file must be an absolute path/],
    [['-v data:/data'], '-v data:/data', /"data" is a named volume/],
    [['-v /data'], '-v /data', /anonymous volume/],
    [['-v /a:b'], '-v /a:b', /volume target must be an absolute path/],
    [['-v /a:/b:O'], '-v /a:/b:O', /volume option "O" is not supported/],
    [['-v /a:/b:ro:x'], '-v /a:/b:ro:x', /expected SRC:DST\[:OPTIONS\]/],
    [['-v /a:/b:shared'], '-v /a:/b:shared', /volume option "shared" is not supported/],
    [['--mount type=volume,src=v,dst=/d'], '--mount type=volume,src=v,dst=/d', /type=volume/],
    [['--mount type=image,src=i,dst=/d'], '--mount type=image,src=i,dst=/d', /type=image/],
    [['--mount src=/a,dst=/d'], '--mount src=/a,dst=/d', /type=\(none\)/],
    [['--mount type=bind,src=/a'], '--mount type=bind,src=/a', /needs target=DIR/],
    [['--mount type=bind,dst=/b'], '--mount type=bind,dst=/b', /needs source=PATH/],
    [['--mount type=bind,src=a,dst=/b'], '--mount type=bind,src=a,dst=/b', /bind source/],
    [
      ['--mount type=bind,src=/a,dst=/b,bind-propagation=shared'],
      '--mount type=bind,src=/a,dst=/b,bind-propagation=shared',
      /bind-propagation=shared: every mount of the app is private/,
    ],
    [
      ['--mount type=bind,src=/a,dst=/b,bind-propagation=rslave'],
      '--mount type=bind,src=/a,dst=/b,bind-propagation=rslave',
      /bind-propagation=rslave/,
    ],
    [
      ['--mount type=bind,src=/a,dst=/b,consistency=cached'],
      '--mount type=bind,src=/a,dst=/b,consistency=cached',
      /"consistency" is not supported in --mount/,
    ],
    [
      ['--mount type=tmpfs,dst=/t,tmpfs-size=x'],
      '--mount type=tmpfs,dst=/t,tmpfs-size=x',
      /not a size/,
    ],
    [['--tmpfs /t:suid'], '--tmpfs /t:suid', /"suid" would let the app gain/],
    [['--tmpfs /t:dev'], '--tmpfs /t:dev', /"dev" would let the app gain/],
    [['--tmpfs /t:size=huge'], '--tmpfs /t:size=huge', /size "huge" is not a size/],
    [['--tmpfs /t:mode=999'], '--tmpfs /t:mode=999', /mode "999" is not an octal mode/],
    [['--tmpfs /t:uid=root'], '--tmpfs /t:uid=root', /tmpfs option "uid=root"/],
    [['--tmpfs t'], '--tmpfs t', /tmpfs target must be an absolute path/],
    [['-w x'], '-w x', /working directory must be an absolute path/],
    [['-u a:b:c'], '-u a:b:c', /expected USER\[:GROUP\]/],
    [['--user ""'], '--user ', /expected USER\[:GROUP\]/],
    [['--read-only=yes'], '--read-only=yes', /expected --read-only, --read-only=true/],
    [['--network bridge'], '--network bridge', /network "bridge" is not supported/],
    [['--net=slirp4netns'], '--net=slirp4netns', /network "slirp4netns"/],
    [['\\--net bridge'], '--net bridge', /network "bridge"/],
    [['--cap-add FOO'], '--cap-add FOO', /"FOO" is not a capability/],
    [['--cap-drop CAP_FOO,CHOWN'], '--cap-drop CAP_FOO,CHOWN', /"CAP_FOO" is not a capability/],
    [['--cap-add CAP_ALL'], '--cap-add CAP_ALL', /"CAP_ALL" is not a capability/],
    [['--security-opt seccomp=unconfined'], '--security-opt seccomp=unconfined', /seccomp/],
    [['--security-opt apparmor=unconfined'], '--security-opt apparmor=unconfined', /apparmor/],
    [['--security-opt label=type:x'], '--security-opt label=type:x', /is not supported/],
    [[`--hostname ${'h'.repeat(65)}`], `--hostname ${'h'.repeat(65)}`, /1 to 64 bytes/],
    [['--storage-opt overlay.size=1G'], '--storage-opt overlay.size=1G', /size=N .* only/],
    [['--storage-opt size=big'], '--storage-opt size=big', /size=N .* only/],
    [['--storage-opt size=0'], '--storage-opt size=0', /size=N .* only/],
  ])('refuses %j', (items, written, reason) => {
    const error = refusal(items);
    expect(error.code).toBe('PILOT_FLAKE_INVALID');
    // The option as written (quoted as an excerpt), and where: file:line, or the item.
    expect(error.message.startsWith(`runtime.podman item 1: podman option "${written}": `)).toBe(
      true,
    );
    expect(error.message).toMatch(reason);
    expect(error.hint).toBeTruthy();
  });

  it('names the item the option is written in, with the caller-given locator', () => {
    const where = (index: number) => `/usr/share/flakes/app.yaml:${12 + index}`;
    const error = refusal(['--rm', '-e A=1', '--device', '/dev/fuse'], { where });
    expect(error.message).toBe(
      '/usr/share/flakes/app.yaml:14: podman option "--device /dev/fuse": is not supported: it would give the app more than its caller has',
    );
    expect(refusal(['--rm', '-ti --privileged'], { where }).message).toMatch(
      /^\/usr\/share\/flakes\/app\.yaml:13: podman option "--privileged"/,
    );
  });

  it('lists the supported options in the hint of an unknown one', () => {
    const { hint } = refusal(['--runtime crun']);
    for (const option of SUPPORTED_OPTIONS) expect(hint).toContain(option);
    expect(hint).toContain('--security-opt no-new-privileges');
  });

  it('names broken quoting with the item', () => {
    expect(refusal(['--rm', "-e 'A=b"], { where: (i) => `f.yaml:${i + 7}` }).message).toBe(
      'f.yaml:8: podman option "-e \'A=b": unterminated \' quote',
    );
  });

  it('quotes a long or hostile option as a short escaped excerpt', () => {
    const { message } = refusal([`--x\u001b[2J${'y'.repeat(500)}`]);
    expect(message).toMatch(/^runtime\.podman item 1: podman option "--x\\x1b\[2Jy+…": /);
    expect(message.length).toBeLessThan(200);
  });
});

describe('%VAR placeholders', () => {
  const env = { HOME: '/home/u', USER: 'u', DATA: '/srv/%HOME', EMPTY: '' };

  it.each<[string, string[], Partial<PodmanOptions>]>([
    [
      '%HOME from the caller',
      ['-v %HOME/data:/data'],
      { volumes: [volume('-v /home/u/data:/data', '/home/u/data', '/data')] },
    ],
    [
      'unset: $NAME, as upstream',
      ['-e GREETING=%NOPE'],
      { env: [{ name: 'GREETING', value: '$NOPE' }] },
    ],
    ['an empty value is a value', ['-e X=a%EMPTY'], { env: [{ name: 'X', value: 'a' }] }],
    ['one pass: an inserted %X stays', ['-w %DATA'], { workdir: '/srv/%HOME' }],
    ['only %[A-Z]+: %home stays', ['-e X=%home'], { env: [{ name: 'X', value: '%home' }] }],
    [
      'the name ends at the first other character',
      ['-e X=%HOME_DIR'],
      { env: [{ name: 'X', value: '/home/u_DIR' }] },
    ],
    ['several in one word', ['-e X=%USER@%HOME'], { env: [{ name: 'X', value: 'u@/home/u' }] }],
    ['in names and values alike', ['-e %USER=1'], { env: [{ name: 'u', value: '1' }] }],
    ['in a --user value', ['--user %USER'], { user: { user: 'u' } }],
  ])('%s', (_name, items, expected) => {
    expect(parsePodmanOptions(items, { env })).toEqual({ ...none, ...expected });
  });

  it('expands a placeholder before the option is read', () => {
    expect(refusal(['--%USER'], { env }).message).toMatch(/podman option "--u": is not supported/);
  });

  it('records every name looked up with its value (undefined: unset)', () => {
    const used = new Map<string, string | undefined>();
    parsePodmanOptions(['-e A=%HOME', '-v %DATA:/d', '-e B=%NOPE%HOME', '-e C=%home'], {
      env,
      used,
    });
    expect([...used]).toEqual([
      ['HOME', '/home/u'],
      ['DATA', '/srv/%HOME'],
      ['NOPE', undefined],
    ]);
  });

  it('looks up only own keys of the environment', () => {
    const used = new Map<string, string | undefined>();
    const { env: out } = parsePodmanOptions(['-e X=%VALUEOF'], { env: {}, used });
    expect(out).toEqual([{ name: 'X', value: '$VALUEOF' }]);
    expect([...used]).toEqual([['VALUEOF', undefined]]);
  });

  it('an unset placeholder in a path is refused at launch, naming the variable', () => {
    const volume = refusal(['-v %NOPE/x:/x'], { env });
    expect(volume.message).toMatch(
      /the source "\$NOPE\/x" is no absolute path: %NOPE is not set in the caller's environment$/,
    );
    expect(volume.hint).toBe('set NOPE before running the app, or change the option in the flake');
    expect(refusal(['-w %NOPE'], { env }).message).toMatch(/"\$NOPE" is no absolute path: %NOPE/);
  });

  it('tells a relative volume source from a named volume, with the fix for each', () => {
    const relative = refusal(['-v ./data:/data'], { where: () => '--opt 1' });
    expect(relative.message).toBe(
      '--opt 1: podman option "-v ./data:/data": the source "./data" is a relative path; pilot binds a host path given from "/" (an app runs from any directory)',
    );
    expect(relative.hint).toMatch(/^write the whole path, e\.g\. -v \/srv\/data:\/data/);
    expect(refusal(['-v data/sub:/data']).message).toMatch(/"data\/sub" is a relative path/);
    const named = refusal(['-v cache:/c']);
    expect(named.message).toMatch(/"cache" is a named volume; pilot keeps no volumes/);
    expect(named.hint).toBe('bind a host directory instead, e.g. -v /srv/cache:/c');
    // An --opt of register is no flake line: the default hint says which to change.
    expect(refusal(['-e =x'], { where: () => '--opt 2' }).hint).toBe(
      'change or leave out that --opt',
    );
  });

  it('without env, a placeholder stays and passes for an absolute path', () => {
    expect(
      parsePodmanOptions([
        '-v %HOME/x:/x',
        '--mount type=bind,src=%HOME,dst=%HOME',
        '-w %HOME',
        '--env-file %HOME/.env',
        '--tmpfs %XDG',
        '-e A=%HOME',
        '-u %USER',
      ]),
    ).toEqual({
      ...none,
      env: [{ name: 'A', value: '%HOME' }],
      envFiles: ['%HOME/.env'],
      envFileAt: ['runtime.podman item 4'],
      volumes: [
        volume('-v %HOME/x:/x', '%HOME/x', '/x'),
        volume('--mount type=bind,src=%HOME,dst=%HOME', '%HOME', '%HOME'),
      ],
      tmpfs: [{ target: '%XDG', options: '' }],
      workdir: '%HOME',
      user: { user: '%USER' },
    });
  });

  it.each([
    ['-v %home/x:/x'],
    ['-w %home'],
    ['-v %/x:/x'],
    ['--env-file %1'],
  ])('without env, %j is no placeholder and is refused', (item) => {
    expect(refusal([item]).message).toMatch(/named volume|relative path|must be an absolute path/);
  });
});

describe('parseEnvFile', () => {
  it('reads NAME=VALUE, NAME and PREFIX* lines as podman does', () => {
    const text = [
      '# a comment',
      '',
      'A=1',
      '   B=two words ',
      '\tC',
      'LC_*',
      'D=x=y',
      'E=',
      '  # an indented comment',
      'F="quoted"',
      "G='single' # not a comment",
      'H=crlf\r',
      '   ',
      'A=again',
    ].join('\n');
    expect(parseEnvFile(text, '/etc/app.env')).toEqual([
      { name: 'A', value: '1' },
      { name: 'B', value: 'two words ' },
      { name: 'C', fromCaller: true },
      { name: 'LC_*', fromCaller: true },
      { name: 'D', value: 'x=y' },
      { name: 'E', value: '' },
      { name: 'F', value: '"quoted"' },
      { name: 'G', value: "'single' # not a comment" },
      { name: 'H', value: 'crlf' },
      { name: 'A', value: 'again' },
    ]);
  });

  it('reads an empty file, or one of comments only, as nothing', () => {
    expect(parseEnvFile('', '/e')).toEqual([]);
    expect(parseEnvFile('# x\n\n  \n#y', '/e')).toEqual([]);
  });

  it.each([
    ['A=1\nbad name=2\n', 2, '"bad name=2"'],
    ['A=1\n\n  =value\n', 3, '"=value"'],
    ['# x\nB =1', 2, '"B =1"'],
    ['\u001b[2J x=1', 1, '"\\x1b[2J x=1"'],
    ['A\tB=1', 1, '"A\\tB=1"'],
  ])('refuses a line without a name (%j) with file:line', (text, line, quoted) => {
    let error: unknown;
    try {
      parseEnvFile(text, '/etc/app.env');
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(PilotError);
    expect((error as PilotError).code).toBe('PILOT_FLAKE_INVALID');
    expect((error as PilotError).message).toBe(`/etc/app.env:${line}: ${quoted} is not NAME=VALUE`);
  });
});
