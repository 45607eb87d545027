/**
 * Where the containers tools (podman, skopeo, buildah: containers/image) keep the
 * configuration pilot reads too, and in which order they look, written once so that one
 * login, one trust policy and one set of CAs govern every tool on the host:
 *
 * - policy.json and registries.d (containers-policy.json(5), containers-registries.d(5)):
 *   `$HOME/.config/containers/NAME` when it exists, else `/etc/containers/NAME`.
 *   containers/image joins these to $HOME itself, not to $XDG_CONFIG_HOME.
 * - auth.json (containers-auth.json(5)): `$REGISTRY_AUTH_FILE`,
 *   `$XDG_RUNTIME_DIR/containers/auth.json`, `$XDG_CONFIG_HOME/containers/auth.json`
 *   (`~/.config` when unset), then docker's `~/.docker/config.json`.
 * - certs.d (containers-certs.d(5)): `$HOME/.config/containers/certs.d/HOST:PORT`, then
 *   `/etc/containers/certs.d/HOST:PORT` and `/etc/docker/certs.d/HOST:PORT`.
 * - the built-in signature store (no registries.d entry): root's
 *   /var/lib/containers/sigstore, a user's `~/.local/share/containers/sigstore`.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { xdgDir } from '../core/paths.js';

export const SYSTEM_CONTAINERS_DIR = '/etc/containers';
const DOCKER_CERTS_DIR = '/etc/docker/certs.d';

export interface ContainersDirs {
  env: NodeJS.ProcessEnv;
  /** The home directory whose ~/.config/containers is read. */
  home: string;
  /** The system configuration directory (/etc/containers; tests point it elsewhere). */
  systemDir: string;
}

/** The directories of this process (each one overridable, for tests). */
export function containersDirs(overrides: Partial<ContainersDirs> = {}): ContainersDirs {
  const env = overrides.env ?? process.env;
  return {
    env,
    home: overrides.home ?? env.HOME ?? homedir(),
    systemDir: overrides.systemDir ?? SYSTEM_CONTAINERS_DIR,
  };
}

function userDir(dirs: ContainersDirs): string {
  return join(dirs.home, '.config/containers');
}

/** `policy.json`, `registries.d`: the user's when it exists, else the system's. */
export function userOrSystemPath(dirs: ContainersDirs, name: string): string {
  const user = join(userDir(dirs), name);
  return existsSync(user) ? user : join(dirs.systemDir, name);
}

/** The auth files looked at, in order (without --authfile). */
export function authFileSearch(dirs: ContainersDirs): string[] {
  const { env, home } = dirs;
  const files: string[] = [];
  if (env.REGISTRY_AUTH_FILE) files.push(env.REGISTRY_AUTH_FILE);
  if (env.XDG_RUNTIME_DIR) files.push(join(env.XDG_RUNTIME_DIR, 'containers/auth.json'));
  const configHome = xdgDir(env.XDG_CONFIG_HOME) ?? join(home, '.config');
  files.push(join(configHome, 'containers/auth.json'));
  files.push(join(home, '.docker/config.json'));
  return files;
}

/** The certs.d directories of `hostPort`, in the order their files are read. */
export function certDirSearch(dirs: ContainersDirs, hostPort: string): string[] {
  return [join(userDir(dirs), 'certs.d'), join(dirs.systemDir, 'certs.d'), DOCKER_CERTS_DIR].map(
    (dir) => join(dir, hostPort),
  );
}

/** The containers tools' built-in signature lookaside: root's, or the user's own. */
export function builtinSigstore(dirs: ContainersDirs): string {
  return process.geteuid?.() === 0
    ? 'file:///var/lib/containers/sigstore'
    : `file://${join(dirs.home, '.local/share/containers/sigstore')}`;
}
