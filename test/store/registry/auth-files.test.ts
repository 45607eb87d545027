import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  authKeysFor,
  findCredentials,
  normalizeAuthKey,
  parseCreds,
} from '../../../src/store/registry/auth-files.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pilot-auth-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const b64 = (text: string) => Buffer.from(text).toString('base64');

function authFile(path: string, auths: Record<string, unknown>): string {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, JSON.stringify({ auths }));
  return path;
}

describe('auth file lookup', () => {
  it('takes the first file that has the registry, the most specific key first', () => {
    const env = { XDG_RUNTIME_DIR: join(dir, 'run') };
    authFile(join(dir, 'run/containers/auth.json'), { 'other.io': { auth: b64('o:p') } });
    authFile(join(dir, 'home/.config/containers/auth.json'), {
      'reg.io': { auth: b64('wide:1') },
      'reg.io/team': { auth: b64('team:2') },
    });
    authFile(join(dir, 'home/.docker/config.json'), { 'reg.io': { auth: b64('docker:3') } });
    const home = join(dir, 'home');
    expect(findCredentials('reg.io', 'team/app', { env, home })).toMatchObject({
      username: 'team',
      password: '2',
    });
    expect(findCredentials('reg.io', 'solo/app', { env, home })).toMatchObject({
      username: 'wide',
      password: '1',
      origin: `${join(home, '.config/containers/auth.json')} (reg.io)`,
    });
    expect(findCredentials('none.io', 'x', { env, home })).toBeUndefined();
  });

  it("reads docker's URL keys and passwords with colons", () => {
    const file = authFile(join(dir, 'config.json'), {
      'https://index.docker.io/v1/': { auth: b64('hub:pa:ss') },
      'http://reg.io:5000/': { auth: b64('r:x') },
    });
    expect(findCredentials('docker.io', 'library/busybox', { authFile: file })).toMatchObject({
      username: 'hub',
      password: 'pa:ss',
    });
    expect(findCredentials('reg.io:5000', 'a', { authFile: file })).toMatchObject({
      username: 'r',
    });
    expect(normalizeAuthKey('registry-1.docker.io')).toBe('docker.io');
    expect(authKeysFor('r.io', 'a/b/c')).toEqual(['r.io/a/b/c', 'r.io/a/b', 'r.io/a', 'r.io']);
  });

  it('skips entries of credential helpers (no "auth") and refuses a bad one by name', () => {
    const file = authFile(join(dir, 'a.json'), {
      'reg.io': {},
      'bad.io': { auth: b64('nocolon') },
    });
    expect(findCredentials('reg.io', 'x', { authFile: file })).toBeUndefined();
    expect(() => findCredentials('bad.io', 'x', { authFile: file })).toThrow(
      /the "auth" of "bad.io" is not base64 of USER:PASSWORD/,
    );
  });

  it('--authfile must exist and be JSON; --creds wins over every file', () => {
    expect(() => findCredentials('r.io', 'x', { authFile: join(dir, 'missing.json') })).toThrow(
      /cannot read auth file/,
    );
    writeFileSync(join(dir, 'broken.json'), '{');
    expect(() => findCredentials('r.io', 'x', { authFile: join(dir, 'broken.json') })).toThrow(
      /is not valid JSON/,
    );
    expect(
      findCredentials('r.io', 'x', { creds: 'u:p', authFile: join(dir, 'missing.json') }),
    ).toEqual({
      username: 'u',
      password: 'p',
      origin: '--creds',
    });
    expect(() => parseCreds('user')).toThrow(/--creds has no password/);
    expect(() => parseCreds(':pw')).toThrow(/no user name/);
  });
});
