import { describe, expect, it } from 'vitest';
import { PilotError } from '../../src/core/errors.js';
import type { PodmanUser } from '../../src/core/podman-options.js';
import {
  type Account,
  type AccountDatabases,
  type Caller,
  type GroupEntry,
  type Identity,
  parseGroup,
  parsePasswd,
  resolveIdentity,
  runasIsCaller,
  sessionFiles,
} from '../../src/runtime/identity.js';

const account = (name: string, uid: number, gid: number, home: string, gecos = ''): Account => ({
  name,
  uid,
  gid,
  gecos,
  home,
  shell: '/bin/bash',
});

const host = {
  root: account('root', 0, 0, '/root', 'root'),
  alice: account('alice', 1000, 1000, '/home/alice', 'Alice'),
  bob: account('bob', 1001, 1001, '/home/bob'),
  svc: account('svc', 990, 990, '/var/lib/svc'),
};

const hostGroups: Record<number, GroupEntry> = {
  0: { name: 'root', gid: 0, members: [] },
  44: { name: 'video', gid: 44, members: ['svc', 'alice'] },
  990: { name: 'svc', gid: 990, members: [] },
  1000: { name: 'alice', gid: 1000, members: [] },
  1001: { name: 'bob', gid: 1001, members: [] },
  20: { name: 'staff', gid: 20, members: ['svc'] },
};
const hostGroup = (gid: number): GroupEntry | undefined => hostGroups[gid];

const IMAGE_PASSWD = [
  'root:x:0:0:root:/root:/bin/sh',
  'daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin',
  'app:x:500:500:App:/home/app:/bin/sh',
  'web:x:1000:33:Web:/var/www:/bin/sh',
  '',
].join('\n');
const IMAGE_GROUP = [
  'root:x:0:',
  'daemon:x:1:',
  'www-data:x:33:app',
  'app:x:500:',
  'staff:x:50:app,web',
  '',
].join('\n');

function db(imagePasswd = IMAGE_PASSWD, imageGroup = IMAGE_GROUP): AccountDatabases {
  return {
    hostAccount: (key) => Object.values(host).find((a) => a.name === key || String(a.uid) === key),
    hostGroupsOf: (a) => (a.name === 'svc' ? [990, 44] : [a.gid]),
    imagePasswd,
    imageGroup,
  };
}

const caller = (a: Account): Caller => ({ uid: a.uid, gid: a.gid, account: a });
const self = (a: Account): Identity => ({
  uid: a.uid,
  gid: a.gid,
  changed: false,
  account: a,
  source: 'caller',
});
const image = (name: string, uid: number, gid: number, home: string, gecos: string) => ({
  name,
  uid,
  gid,
  gecos,
  home,
  shell: '/bin/sh',
});

/** The PilotError `fn` throws (fails the test if it does not). */
function thrown(fn: () => unknown): PilotError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(PilotError);
    return error as PilotError;
  }
  throw new Error('expected a PilotError');
}

describe('runasIsCaller', () => {
  it.each([
    [undefined, true],
    ['', true],
    ['root', true],
    ['any', true],
    ['svc', false],
    ['0', false],
    ['Root', false],
  ])('%j: %s', (runas, expected) => {
    expect(runasIsCaller(runas)).toBe(expected);
  });
});

describe('resolveIdentity: runas', () => {
  it.each<[string, string | undefined, Caller, Identity]>([
    ['runas absent: the caller', undefined, caller(host.alice), self(host.alice)],
    ['runas root: the caller', 'root', caller(host.alice), self(host.alice)],
    ['runas any: the caller', 'any', caller(host.alice), self(host.alice)],
    ['runas root for a root caller', 'root', caller(host.root), self(host.root)],
    [
      'a caller the host does not know',
      undefined,
      { uid: 4242, gid: 4242 },
      { uid: 4242, gid: 4242, changed: false, source: 'caller' },
    ],
    [
      "runas USER for a root caller: USER's ids and host groups",
      'svc',
      caller(host.root),
      { uid: 990, gid: 990, groups: [990, 44], changed: true, account: host.svc, source: 'host' },
    ],
    [
      'runas by uid for a root caller',
      '990',
      caller(host.root),
      { uid: 990, gid: 990, groups: [990, 44], changed: true, account: host.svc, source: 'host' },
    ],
    ['runas USER when USER calls', 'svc', caller(host.svc), self(host.svc)],
    [
      'runas USER for another unprivileged caller: itself, with a note',
      'svc',
      caller(host.alice),
      {
        ...self(host.alice),
        note: 'runas svc applies to root callers; uid 1000 runs the app as itself',
      },
    ],
  ])('%s', (_name, runas, who, expected) => {
    expect(resolveIdentity(runas, undefined, who, db())).toEqual(expected);
  });

  it.each([
    caller(host.root),
    caller(host.alice),
  ])('refuses a runas the host does not know (caller uid $uid)', (who) => {
    const error = thrown(() => resolveIdentity('ghost', undefined, who, db()));
    expect(error.code).toBe('PILOT_FLAKE_INVALID');
    expect(error.exitCode).toBe(125);
    expect(error.message).toBe('runtime.runas: "ghost" is not an account on this host');
  });
});

describe('resolveIdentity: --user', () => {
  const app = image('app', 500, 500, '/home/app', 'App');
  const web = image('web', 1000, 33, '/var/www', 'Web');

  it.each<[string, PodmanUser, Identity]>([
    [
      "a name from the image's passwd, with its groups",
      { user: 'app' },
      { uid: 500, gid: 500, groups: [500, 33, 50], changed: true, account: app, source: 'image' },
    ],
    [
      'a uid the image knows',
      { user: '500' },
      { uid: 500, gid: 500, groups: [500, 33, 50], changed: true, account: app, source: 'image' },
    ],
    [
      'a uid the image does not know: gid 0',
      { user: '4242' },
      { uid: 4242, gid: 0, groups: [0], changed: true, source: 'image' },
    ],
    [
      'USER:GROUP by name',
      { user: 'app', group: 'staff' },
      { uid: 500, gid: 50, groups: [50, 33], changed: true, account: app, source: 'image' },
    ],
    [
      'UID:GID by number',
      { user: '500', group: '33' },
      { uid: 500, gid: 33, groups: [33, 50], changed: true, account: app, source: 'image' },
    ],
    [
      'an unknown uid with a group name',
      { user: '4242', group: 'staff' },
      { uid: 4242, gid: 50, groups: [50], changed: true, source: 'image' },
    ],
    [
      'an unknown uid with an unknown gid number',
      { user: '4242', group: '4343' },
      { uid: 4242, gid: 4343, groups: [4343], changed: true, source: 'image' },
    ],
    [
      'root by name',
      { user: 'root' },
      {
        uid: 0,
        gid: 0,
        groups: [0],
        changed: true,
        account: image('root', 0, 0, '/root', 'root'),
        source: 'image',
      },
    ],
    [
      'a second account of an image uid (web is uid 1000)',
      { user: 'web' },
      { uid: 1000, gid: 33, groups: [33, 50], changed: true, account: web, source: 'image' },
    ],
  ])('root caller: %s', (_name, user, expected) => {
    expect(resolveIdentity(undefined, user, caller(host.root), db())).toEqual(expected);
  });

  it('wins over runas (which is not even looked up)', () => {
    const app = resolveIdentity('svc', { user: 'app' }, caller(host.root), db());
    expect(app).toMatchObject({ uid: 500, gid: 500, source: 'image' });
    expect(resolveIdentity('ghost', { user: 'app' }, caller(host.root), db()).uid).toBe(500);
  });

  it.each<[string, PodmanUser]>([
    ['its own uid', { user: '1000' }],
    ['an image name with its own uid', { user: 'web' }],
    ['its own uid and gid', { user: '1000', group: '1000' }],
  ])('an unprivileged caller may name %s: it runs as itself', (_name, user) => {
    expect(resolveIdentity('svc', user, caller(host.alice), db())).toEqual(self(host.alice));
  });

  it.each<[string, PodmanUser, string]>([
    [
      'another uid',
      { user: 'app' },
      '--user "app": an unprivileged caller\'s app runs as the caller (uid 1000, gid 1000), not as uid 500 gid 500',
    ],
    [
      'root',
      { user: '0' },
      '--user "0": an unprivileged caller\'s app runs as the caller (uid 1000, gid 1000), not as uid 0 gid 0',
    ],
    [
      'its own uid with another group',
      { user: '1000', group: 'www-data' },
      '--user "1000:www-data": an unprivileged caller\'s app runs as the caller (uid 1000, gid 1000), not as uid 1000 gid 33',
    ],
  ])('an unprivileged caller naming %s is refused (exit 125)', (_name, user, message) => {
    const error = thrown(() => resolveIdentity(undefined, user, caller(host.alice), db()));
    expect(error.code).toBe('PILOT_NEEDS_PRIVILEGE');
    expect(error.exitCode).toBe(125);
    expect(error.message).toBe(message);
    expect(error.hint).toMatch(/remove --user/);
  });

  it.each<[string, PodmanUser, Caller, RegExp]>([
    [
      'an unknown user',
      { user: 'ghost' },
      caller(host.root),
      /^--user "ghost": no such user in the image's \/etc\/passwd$/,
    ],
    [
      'an unknown group',
      { user: 'app', group: 'ghosts' },
      caller(host.root),
      /^--user "app:ghosts": no such group in the image's \/etc\/group$/,
    ],
    ['an unknown user, unprivileged caller', { user: 'ghost' }, caller(host.alice), /no such user/],
    ['any name, an image without /etc/passwd', { user: 'root' }, caller(host.root), /no such user/],
  ])('refuses %s', (name, user, who, message) => {
    const databases = name.includes('without') ? db('', '') : db();
    const error = thrown(() => resolveIdentity(undefined, user, who, databases));
    expect(error.code).toBe('PILOT_FLAKE_INVALID');
    expect(error.exitCode).toBe(125);
    expect(error.message).toMatch(message);
  });
});

describe('parsePasswd and parseGroup', () => {
  it('skip lines that are not entries and keep a shell with a colon', () => {
    expect(
      parsePasswd('# comment\nshort:x:1\nbad:x:a:1::/:/bin/sh\nok:x:2:3:G:/h:/bin/sh:x\n'),
    ).toEqual([{ name: 'ok', uid: 2, gid: 3, gecos: 'G', home: '/h', shell: '/bin/sh:x' }]);
    expect(parseGroup('g:x:5:a,,b\nbad:x:z:\nshort:x\ne:x:6:\n')).toEqual([
      { name: 'g', gid: 5, members: ['a', 'b'] },
      { name: 'e', gid: 6, members: [] },
    ]);
  });
});

describe('sessionFiles', () => {
  const imagePasswdWithout = (...names: string[]) =>
    IMAGE_PASSWD.split('\n').filter((line) => line !== '' && !names.includes(line.split(':')[0]!));

  it("appends the caller's entry when the image lacks its uid, and its group from the host", () => {
    const identity = resolveIdentity(undefined, undefined, caller(host.bob), db());
    expect(sessionFiles(identity, db(), hostGroup)).toEqual({
      passwd: `${[...imagePasswdWithout(), 'bob:x:1001:1001::/home/bob:/bin/bash'].join('\n')}\n`,
      group: `${IMAGE_GROUP}bob:x:1001:\n`,
    });
  });

  it("replaces the image's entry of the same uid under another name", () => {
    const identity = resolveIdentity(undefined, undefined, caller(host.alice), db());
    const files = sessionFiles(identity, db(), hostGroup);
    expect(files.passwd).toBe(
      `${[...imagePasswdWithout('web'), 'alice:x:1000:1000:Alice:/home/alice:/bin/bash'].join('\n')}\n`,
    );
    expect(files.group).toBe(`${IMAGE_GROUP}alice:x:1000:\n`);
  });

  it("replaces the image's entry of the same name with another home", () => {
    const passwd = 'root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/srv/alice:/bin/sh\n';
    const group = 'root:x:0:\nalice:x:1000:\n';
    const identity = resolveIdentity(undefined, undefined, caller(host.alice), db(passwd, group));
    expect(sessionFiles(identity, db(passwd, group), hostGroup)).toEqual({
      passwd: 'root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000:Alice:/home/alice:/bin/bash\n',
    });
  });

  it('writes nothing when the image already has the account as the host has it', () => {
    const passwd = `${IMAGE_PASSWD}alice:x:1000:1000:whatever:/home/alice:/bin/zsh\n`;
    const group = `${IMAGE_GROUP}alice:x:1000:\n`;
    const identity = resolveIdentity(undefined, undefined, caller(host.alice), db(passwd, group));
    expect(sessionFiles(identity, db(passwd, group), hostGroup)).toEqual({});
  });

  it("writes nothing for root when the image has root (whatever root's home there)", () => {
    const identity = resolveIdentity('root', undefined, caller(host.root), db());
    expect(sessionFiles(identity, db(), hostGroup)).toEqual({});
    const odd = 'root:x:0:0:root:/var/root:/bin/ash\n';
    expect(sessionFiles(identity, db(odd, 'root:x:0:\n'), hostGroup)).toEqual({});
  });

  it('adds root to an image without account files', () => {
    const identity = resolveIdentity(undefined, undefined, caller(host.root), db('', ''));
    expect(sessionFiles(identity, db('', ''), hostGroup)).toEqual({
      passwd: 'root:x:0:0:root:/root:/bin/bash\n',
      group: 'root:x:0:\n',
    });
  });

  it('writes nothing for an identity of the image (--user), or a caller the host does not know', () => {
    const app = resolveIdentity(undefined, { user: 'app' }, caller(host.root), db());
    expect(sessionFiles(app, db(), hostGroup)).toEqual({});
    const unknown = resolveIdentity(undefined, undefined, { uid: 4242, gid: 4242 }, db());
    expect(sessionFiles(unknown, db(), hostGroup)).toEqual({});
  });

  it("adds a runas account's host groups the image lacks, with the account as member where the host lists it", () => {
    const identity = resolveIdentity('svc', undefined, caller(host.root), db());
    expect(sessionFiles(identity, db(), hostGroup)).toEqual({
      passwd: `${[...imagePasswdWithout(), 'svc:x:990:990::/var/lib/svc:/bin/bash'].join('\n')}\n`,
      group: `${IMAGE_GROUP}svc:x:990:\nvideo:x:44:svc\n`,
    });
  });

  it('skips a group the host does not resolve, and replaces an image group of the same name', () => {
    const identity: Identity = {
      uid: 990,
      gid: 990,
      groups: [990, 20, 7777],
      changed: true,
      account: host.svc,
      source: 'host',
    };
    const group = 'root:x:0:\nstaff:x:50:web\nsvc:x:990:\n';
    const files = sessionFiles(identity, db(IMAGE_PASSWD, group), hostGroup);
    expect(files.group).toBe('root:x:0:\nsvc:x:990:\nstaff:x:20:svc\n');
  });
});
