/**
 * The host's account databases for identity.ts: /etc/passwd and /etc/group first, then
 * the name service (`getent`, which knows LDAP and sssd users), so that any caller's
 * account resolves. Only the plan step reads these; the fast path stamps the files.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { type Account, type GroupEntry, parseGroup, parsePasswd } from './identity.js';

export const HOST_ACCOUNT_FILES = ['/etc/passwd', '/etc/group'];

function readOr(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function getent(database: string, key: string): string {
  const r = spawnSync('getent', [database, key], { encoding: 'utf8', timeout: 10_000 });
  return r.status === 0 ? r.stdout : '';
}

export function hostAccount(nameOrUid: string): Account | undefined {
  const numeric = /^\d+$/.test(nameOrUid);
  const match = (a: Account) => (numeric ? a.uid === Number(nameOrUid) : a.name === nameOrUid);
  const found = parsePasswd(readOr('/etc/passwd')).find(match);
  if (found) return found;
  if (numeric && Number(nameOrUid) === process.getuid?.()) {
    try {
      const me = userInfo();
      return {
        name: me.username,
        uid: me.uid,
        gid: me.gid,
        gecos: '',
        home: me.homedir,
        shell: me.shell ?? '/bin/sh',
      };
    } catch {
      // no account for this uid at all
    }
  }
  return parsePasswd(getent('passwd', nameOrUid)).find(match);
}

export function hostGroup(gid: number): GroupEntry | undefined {
  return (
    parseGroup(readOr('/etc/group')).find((g) => g.gid === gid) ??
    parseGroup(getent('group', String(gid))).find((g) => g.gid === gid)
  );
}

/** NAME's groups as initgroups(3) would set them: its primary group and every group listing it. */
export function hostGroupsOf(account: Account): number[] {
  const listed = parseGroup(readOr('/etc/group'))
    .filter((g) => g.members.includes(account.name))
    .map((g) => g.gid);
  const r = spawnSync('id', ['-G', account.name], { encoding: 'utf8', timeout: 10_000 });
  const viaNss = r.status === 0 ? r.stdout.trim().split(/\s+/).filter(Boolean).map(Number) : [];
  return [...new Set([account.gid, ...listed, ...viaNss])];
}
