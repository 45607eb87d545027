/**
 * Every host path pilot touches, in one place. `PILOT_ROOT` (or `--root`) puts all
 * of them under one directory so that tests never touch the real system.
 */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { PilotError } from './errors.js';
import { quoteExcerpt } from './excerpt.js';

export interface PilotPaths {
  /** '' for the real system, else an absolute directory. */
  root: string;
  /** Content-addressed image store (layers, blobs, images, refs). */
  store: string;
  /** Flake files: `<flakes>/<app>.yaml` and `<app>.d/`. */
  flakes: string;
  /** Runtime state: plans, locks, mount points. Lost on reboot by design. */
  run: string;
  /** True when the store belongs to root (system store) rather than to the caller. */
  system: boolean;
}

export interface PathOptions {
  root?: string | undefined;
  env?: NodeJS.ProcessEnv;
  uid?: number;
}

export function resolvePaths(options: PathOptions = {}): PilotPaths {
  const env = options.env ?? process.env;
  const uid = options.uid ?? process.getuid?.() ?? 0;
  // An empty PILOT_ROOT means unset, as for any variable (the stub reads it so too); an
  // empty --root was asked for explicitly and names nothing.
  if (options.root === '') {
    throw new PilotError('PILOT_USAGE', '--root "" names no directory', {
      hint: 'give the directory to put everything under (--root /srv/pilot), or leave --root out for the default store',
    });
  }
  const given = options.root ?? env.PILOT_ROOT;
  if (given !== undefined && given !== '') {
    checkRoot(given, options.root !== undefined ? '--root' : 'PILOT_ROOT');
    const root = resolve(given);
    return {
      root,
      store: join(root, 'var/lib/pilot'),
      flakes: join(root, 'usr/share/flakes'),
      run: join(root, 'run/pilot'),
      system: true,
    };
  }
  if (uid === 0) {
    return {
      root: '',
      store: '/var/lib/pilot',
      flakes: '/usr/share/flakes',
      run: '/run/pilot',
      system: true,
    };
  }
  const home = env.HOME ?? homedir();
  return {
    root: '',
    store: join(xdgDir(env.XDG_DATA_HOME) ?? join(home, '.local/share'), 'pilot'),
    flakes: join(xdgDir(env.XDG_CONFIG_HOME) ?? join(home, '.config'), 'flakes'),
    // The stub looks for this caller's plans by the same rule (callerRunDir, docs/plan.md).
    run: callerRunDir(env, '') ?? join(home, '.cache/pilot/run'),
    system: false,
  };
}

/**
 * An XDG base directory variable's value, or undefined when it is unset, empty or
 * relative: the XDG Base Directory spec has a relative one ignored (it would name
 * another directory from every working directory).
 */
export function xdgDir(value: string | undefined): string | undefined {
  return value?.startsWith('/') ? value : undefined;
}

/** Characters that overlayfs mount options cannot carry in a path (comma and backslash split or
 * escape options, `:` separates lower dirs) or that break line-based records (newline). */
const ROOT_FORBIDDEN: [string, string][] = [
  [',', "','"],
  [':', "':'"],
  ['\\', "'\\'"],
  ['\n', 'a newline'],
];

/**
 * Refuses a root that would be accepted now and fail later: a relative one (it would
 * mean another directory from every working directory) or one with a character that
 * every launch's overlay mount would choke on.
 */
function checkRoot(given: string, source: '--root' | 'PILOT_ROOT'): void {
  const shown = `${source} ${quoteExcerpt(given)}`;
  if (!given.startsWith('/')) {
    throw new PilotError(
      'PILOT_USAGE',
      `${shown} is a relative path: pilot needs an absolute one (a relative root would name another directory from every working directory)`,
      {
        hint: `give the full path, e.g. ${source === '--root' ? '--root ' : 'PILOT_ROOT='}${resolve(given)}`,
      },
    );
  }
  for (const [char, name] of ROOT_FORBIDDEN) {
    if (given.includes(char)) {
      throw new PilotError(
        'PILOT_USAGE',
        `${shown} contains ${name}, which overlay mount options cannot carry: every launch would fail`,
        { hint: "choose a root directory whose path has no ',', ':', '\\' or newline" },
      );
    }
  }
}

/** Where a host path such as `/usr/bin/x` lives under the root. */
export function hostPath(paths: PilotPaths, path: string): string {
  return paths.root === '' ? path : join(paths.root, path);
}

/** Store sub-directories. Kept here so that store, runtime and gc agree. */
export const storeDirs = {
  layers: (p: PilotPaths) => join(p.store, 'layers'),
  layer: (p: PilotPaths, diffId: string) => join(p.store, 'layers', digestHex(diffId)),
  /** Short aliases `l/<10 hex>` → layer dirs, so that 100+ lowerdirs fit in one page. */
  aliases: (p: PilotPaths) => join(p.store, 'l'),
  blobs: (p: PilotPaths) => join(p.store, 'blobs', 'sha256'),
  images: (p: PilotPaths) => join(p.store, 'images'),
  refs: (p: PilotPaths) => join(p.store, 'refs'),
  tmp: (p: PilotPaths) => join(p.store, 'tmp'),
  hostLayers: (p: PilotPaths) => join(p.store, 'host'),
  instances: (p: PilotPaths) => join(p.store, 'instances'),
};

/**
 * The hex of a `sha256:` digest. Image data is checked when it is loaded, so a bad one
 * here comes from a damaged store record (a ref file, an image record): said as that.
 */
export function digestHex(digest: string): string {
  const hex = digest.startsWith('sha256:') ? digest.slice(7) : digest;
  if (!/^[a-f0-9]{64}$/.test(hex)) {
    throw new PilotError(
      'PILOT_IMAGE_INVALID',
      `the store names ${quoteExcerpt(digest)} where a sha256 digest belongs: a damaged record`,
      { hint: 'run "pilot verify" (it names what is damaged), then load or pull the image again' },
    );
  }
  return hex;
}

/**
 * FNV-1a (64 bit) of a string's UTF-8 bytes, as 16 hex digits: a short, stable name
 * for a PILOT_ROOT under a caller's own run dir. pilot/exec/stub.c computes the same.
 */
export function fnv1a64(text: string): string {
  let hash = 0xcbf29ce484222325n;
  for (const byte of Buffer.from(text, 'utf8')) {
    hash ^= BigInt(byte);
    hash = (hash * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return hash.toString(16).padStart(16, '0');
}

/**
 * Where a caller keeps its own runtime state (plans, caches, scratch) for a store that
 * is not its own: nothing of a caller's may go where another user can write, or into
 * the owner's run dir. `$XDG_RUNTIME_DIR/pilot`, else `~/.cache/pilot/run`; for a
 * PILOT_ROOT store, a directory per root below it. Undefined when the caller has
 * neither (then it keeps no state). pilot/exec/stub.c finds plans by the same rule.
 */
export function callerRunDir(env: NodeJS.ProcessEnv, root: string): string | undefined {
  const xdg = xdgDir(env.XDG_RUNTIME_DIR);
  const home = env.HOME;
  const base = xdg
    ? join(xdg, 'pilot')
    : home?.startsWith('/')
      ? join(home, '.cache/pilot/run')
      : undefined;
  if (base === undefined) return undefined;
  return root === '' ? base : join(base, 'roots', fnv1a64(root));
}
