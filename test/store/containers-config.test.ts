import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  authFileSearch,
  certDirSearch,
  containersDirs,
  SYSTEM_CONTAINERS_DIR,
  userOrSystemPath,
} from '../../src/store/containers-config.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pilot-containers-config-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('containers configuration search order', () => {
  it('defaults to $HOME and /etc/containers', () => {
    const dirs = containersDirs({ env: { HOME: '/h' } });
    expect(dirs).toEqual({ env: { HOME: '/h' }, home: '/h', systemDir: SYSTEM_CONTAINERS_DIR });
    expect(containersDirs({ env: { HOME: '/h' }, home: '/other' }).home).toBe('/other');
  });

  it.each([
    [
      { REGISTRY_AUTH_FILE: '/a.json', XDG_RUNTIME_DIR: '/run/u' },
      [
        '/a.json',
        '/run/u/containers/auth.json',
        '/h/.config/containers/auth.json',
        '/h/.docker/config.json',
      ],
    ],
    [{}, ['/h/.config/containers/auth.json', '/h/.docker/config.json']],
    [{ XDG_CONFIG_HOME: '/cfg' }, ['/cfg/containers/auth.json', '/h/.docker/config.json']],
    // A relative XDG_CONFIG_HOME is ignored (XDG base directory spec).
    [{ XDG_CONFIG_HOME: 'cfg' }, ['/h/.config/containers/auth.json', '/h/.docker/config.json']],
  ])('auth files for %j', (env, files) => {
    expect(authFileSearch(containersDirs({ env, home: '/h' }))).toEqual(files);
  });

  it('reads policy.json and registries.d from $HOME when there, else the system, never from $XDG_CONFIG_HOME', () => {
    const home = join(dir, 'home');
    const systemDir = join(dir, 'etc');
    const dirs = containersDirs({ env: { XDG_CONFIG_HOME: join(dir, 'xdg') }, home, systemDir });
    mkdirSync(join(dir, 'xdg/containers'), { recursive: true });
    writeFileSync(join(dir, 'xdg/containers/policy.json'), '{}');
    expect(userOrSystemPath(dirs, 'policy.json')).toBe(join(systemDir, 'policy.json'));
    mkdirSync(join(home, '.config/containers/registries.d'), { recursive: true });
    writeFileSync(join(home, '.config/containers/policy.json'), '{}');
    expect(userOrSystemPath(dirs, 'policy.json')).toBe(
      join(home, '.config/containers/policy.json'),
    );
    expect(userOrSystemPath(dirs, 'registries.d')).toBe(
      join(home, '.config/containers/registries.d'),
    );
  });

  it('looks for a registry certificate in the user, containers and docker certs.d', () => {
    expect(certDirSearch(containersDirs({ home: '/h', systemDir: '/etc/c' }), 'r.io:5000')).toEqual(
      [
        '/h/.config/containers/certs.d/r.io:5000',
        '/etc/c/certs.d/r.io:5000',
        '/etc/docker/certs.d/r.io:5000',
      ],
    );
  });
});
