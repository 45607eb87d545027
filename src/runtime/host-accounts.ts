/**
 * The host's account databases for identity.ts: /etc/passwd and /etc/group first, then
 * the name service (`getent`, which knows LDAP and sssd users), so that any caller's
 * account resolves. Only the plan step reads these; the fast path stamps the files.
 */
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { ToolError } from '../core/tool-error.js';
import { runToolLight } from '../core/tool-light.js';
import { type Account, type GroupEntry, parseGroup, parsePasswd } from './identity.js';

export const HOST_ACCOUNT_FILES = ['/etc/passwd', '/etc/group'];

function readOr(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/**
 * What the name service says, or '' when it knows nothing: an unknown key (getent exits
 * 2), or no getent or id at all (a minimal host), leaves the files' answer standing.
 */
function askNameService(argv: string[]): string {
  try {
    return runToolLight(argv, { timeout: 10_000 }).stdout;
  } catch (error) {
    if (error instanceof ToolError) return '';
    throw error;
  }
}

function getent(database: string, key: string): string {
  return askNameService(['getent', database, key]);
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
  const viaNss = askNameService(['id', '-G', account.name])
    .trim()
    .split(/\s+/)
    .filter(Boolean)
    .map(Number);
  return [...new Set([account.gid, ...listed, ...viaNss])];
}
