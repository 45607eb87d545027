/**
 * Who the app runs as (DESIGN.md, "Flake files": identity), and the passwd and group
 * entries that make that identity resolve inside the app.
 *
 * - `runas` absent, `root` or `any`: the caller.
 * - `runas: USER` (a host account): a root caller's app runs as USER with USER's host
 *   groups and home; USER itself and every other unprivileged caller run as themselves.
 * - `--user NAME|UID[:GROUP]` (podman's meaning: names from the image's /etc/passwd and
 *   /etc/group): a root caller's app runs as it; an unprivileged caller may only name its
 *   own uid (and group).
 *
 * The rules are pure (`resolveIdentity`, `sessionFiles`): the account databases come in
 * as text, so that every case is table-tested.
 */
import { PilotError } from '../core/errors.js';
import { quoteExcerpt } from '../core/excerpt.js';
import type { PodmanUser } from '../core/podman-options.js';

export interface Account {
  name: string;
  uid: number;
  gid: number;
  gecos: string;
  home: string;
  shell: string;
}

export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

export interface Identity {
  uid: number;
  gid: number;
  /** Supplementary groups; undefined: the caller's own (no id change). */
  groups?: number[];
  /** The app runs with other ids than its caller's (a root caller's runas or --user). */
  changed: boolean;
  /** The account, when one is known (for the passwd entry, HOME, USER and LOGNAME). */
  account?: Account;
  /** Where the account comes from: a host account's entry must be added to the image's. */
  source: 'caller' | 'host' | 'image';
  /** Why a flake's runas does not apply to this caller (a PILOT_DEBUG note). */
  note?: string;
}

export interface Caller {
  uid: number;
  gid: number;
  /** The caller's account, when the host knows it. */
  account?: Account;
}

export interface AccountDatabases {
  /** The host's account of NAME or uid (NSS-aware where it can be). */
  hostAccount: (nameOrUid: string) => Account | undefined;
  /** The groups the host lists NAME in, plus its primary group. */
  hostGroupsOf: (account: Account) => number[];
  /** The image's /etc/passwd and /etc/group, or '' when it has none. */
  imagePasswd: string;
  imageGroup: string;
}

export function parsePasswd(text: string): Account[] {
  const accounts: Account[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length < 7 || !/^\d+$/.test(f[2]!) || !/^\d+$/.test(f[3]!)) continue;
    accounts.push({
      name: f[0]!,
      uid: Number(f[2]),
      gid: Number(f[3]),
      gecos: f[4]!,
      home: f[5]!,
      shell: f.slice(6).join(':'),
    });
  }
  return accounts;
}

export function parseGroup(text: string): GroupEntry[] {
  const groups: GroupEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length < 4 || !/^\d+$/.test(f[2]!)) continue;
    groups.push({ name: f[0]!, gid: Number(f[2]), members: f[3]!.split(',').filter(Boolean) });
  }
  return groups;
}

/** `runas` values that mean "the caller" (what flake-ctl writes). */
export function runasIsCaller(runas: string | undefined): boolean {
  return runas === undefined || runas === '' || runas === 'root' || runas === 'any';
}

function refuse(message: string, hint: string): PilotError {
  return new PilotError('PILOT_NEEDS_PRIVILEGE', message, { hint, exitCode: 125 });
}

/** `--user` resolved in the image's databases, podman's way. */
function userFromImage(user: PodmanUser, db: AccountDatabases): Identity {
  const passwd = parsePasswd(db.imagePasswd);
  const groups = parseGroup(db.imageGroup);
  const numeric = /^\d+$/.test(user.user);
  const account = numeric
    ? passwd.find((a) => a.uid === Number(user.user))
    : passwd.find((a) => a.name === user.user);
  if (!account && !numeric) {
    throw new PilotError(
      'PILOT_FLAKE_INVALID',
      `--user ${quoteExcerpt(user.user)}: no such user in the image's /etc/passwd`,
      { hint: 'name a user of the image, or a number', exitCode: 125 },
    );
  }
  const uid = account?.uid ?? Number(user.user);
  // podman: a uid the image does not know runs with gid 0.
  let gid = account?.gid ?? 0;
  if (user.group !== undefined) {
    if (/^\d+$/.test(user.group)) gid = Number(user.group);
    else {
      const group = groups.find((g) => g.name === user.group);
      if (!group) {
        throw new PilotError(
          'PILOT_FLAKE_INVALID',
          `--user ${quoteExcerpt(`${user.user}:${user.group}`)}: no such group in the image's /etc/group`,
          { hint: 'name a group of the image, or a number', exitCode: 125 },
        );
      }
      gid = group.gid;
    }
  }
  const supplementary = account
    ? groups.filter((g) => g.members.includes(account.name)).map((g) => g.gid)
    : [];
  const identity: Identity = {
    uid,
    gid,
    groups: [...new Set([gid, ...supplementary])],
    changed: true,
    source: 'image',
  };
  if (account) identity.account = account;
  return identity;
}

export function resolveIdentity(
  runas: string | undefined,
  user: PodmanUser | undefined,
  caller: Caller,
  db: AccountDatabases,
): Identity {
  const self: Identity = { uid: caller.uid, gid: caller.gid, changed: false, source: 'caller' };
  if (caller.account) self.account = caller.account;
  if (user !== undefined) {
    const wanted = userFromImage(user, db);
    if (caller.uid === 0) return wanted;
    if (wanted.uid !== caller.uid || (user.group !== undefined && wanted.gid !== caller.gid)) {
      throw refuse(
        `--user ${quoteExcerpt(user.group === undefined ? user.user : `${user.user}:${user.group}`)}: ` +
          `an unprivileged caller's app runs as the caller (uid ${caller.uid}, gid ${caller.gid}), not as uid ${wanted.uid} gid ${wanted.gid}`,
        'run the app as root, or remove --user from the flake',
      );
    }
    return self;
  }
  if (runasIsCaller(runas)) return self;
  const account = db.hostAccount(runas!);
  if (!account) {
    throw new PilotError(
      'PILOT_FLAKE_INVALID',
      `runtime.runas: ${quoteExcerpt(runas!)} is not an account on this host`,
      {
        hint: 'create the account, or set runas to root (the app runs as its caller)',
        exitCode: 125,
      },
    );
  }
  if (caller.uid === 0) {
    return {
      uid: account.uid,
      gid: account.gid,
      groups: db.hostGroupsOf(account),
      changed: account.uid !== 0,
      account,
      source: 'host',
    };
  }
  if (caller.uid !== account.uid) {
    self.note = `runas ${runas} applies to root callers; uid ${caller.uid} runs the app as itself`;
  }
  return self;
}

/**
 * The image's /etc/passwd and /etc/group with the app's account added, so that its uid and
 * groups resolve inside (whoami, git, ssh): a host account's entry replaces the image's
 * entry of the same uid or name (the home and shell must be the host's). Undefined when
 * the image's files already serve (its own account, or root the image has).
 */
export function sessionFiles(
  identity: Identity,
  db: AccountDatabases,
  hostGroup: (gid: number) => GroupEntry | undefined,
): { passwd?: string; group?: string } {
  const account = identity.account;
  if (identity.source === 'image' || !account) return {};
  const out: { passwd?: string; group?: string } = {};
  const image = parsePasswd(db.imagePasswd);
  const same = image.find((a) => a.uid === account.uid && a.name === account.name);
  if (!(same && (account.uid === 0 || (same.home === account.home && same.gid === account.gid)))) {
    const kept = db.imagePasswd
      .split('\n')
      .filter((line) => line !== '')
      .filter((line) => {
        const f = line.split(':');
        return f[0] !== account.name && f[2] !== String(account.uid);
      });
    const entry = [
      account.name,
      'x',
      account.uid,
      account.gid,
      account.gecos,
      account.home,
      account.shell,
    ];
    out.passwd = `${[...kept, entry.join(':')].join('\n')}\n`;
  }
  const groups = parseGroup(db.imageGroup);
  const wanted = [identity.gid, ...(identity.groups ?? [])];
  const added: string[] = [];
  const replaced = new Set<string>();
  for (const gid of new Set(wanted)) {
    if (groups.some((g) => g.gid === gid)) continue;
    const host = hostGroup(gid);
    if (!host) continue;
    replaced.add(host.name);
    added.push(`${host.name}:x:${gid}:${host.members.includes(account.name) ? account.name : ''}`);
  }
  if (added.length > 0) {
    const kept = db.imageGroup
      .split('\n')
      .filter((line) => line !== '' && !replaced.has(line.split(':')[0]!));
    out.group = `${[...kept, ...added].join('\n')}\n`;
  }
  return out;
}
