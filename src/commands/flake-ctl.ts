/**
 * flake-ctl's command level (`pilot podman ...`, or pilot run as `flake-ctl`): its
 * forms and flags, mapped onto pilot's own commands. flake-pilot 3.1.44 and 2.2.x:
 *
 *   podman register --container C (--app A | --info) [--target T] [--base B]
 *     [--layer L...] [--include-tar T...] [--include-path P...] [--resume | --attach]
 *     [--run-as USER] (2.2.x) [--opt O...] [--check-host-dependencies] [--force]
 *   podman remove (--app A | --container C) [--force]
 *   podman load --oci FILE        podman pull --uri URI      podman show [--format F]
 *   list [--format table|json|csv]                          (podman/list: --user)
 *
 * Registering, removing, loading and pulling run pilot's own code (register.ts,
 * remove.ts, store/load.ts, store/pull.ts); only the mapping lives here.
 */
import { closeSync, constants, openSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { appsUsingImage, loadApps } from '../core/app-registry.js';
import { isPilotError, PilotError } from '../core/errors.js';
import { quoteExcerpt } from '../core/excerpt.js';
import { readBounded } from '../core/fs-query.js';
import { resolveImage } from '../core/image-record.js';
import { type PilotPaths, storeDirs } from '../core/paths.js';
import { hostAccount } from '../runtime/host-accounts.js';
import { LayeredTree, treeLayers } from '../runtime/image-tree.js';
import { listInstances } from '../runtime/instances.js';
import { stackLayers } from '../runtime/launch-plan.js';
import { removeImageRef } from '../store/images.js';
import type { InstanceRecord } from './flake-list.js';
import type { RegisterOptions } from './register.js';
import { type RemoveResult, removeApp, removeByContainer } from './remove.js';

/** `podman register`'s options as commander parses them. */
export interface FlakeCtlRegister {
  container: string;
  app?: string | undefined;
  target?: string | undefined;
  base?: string | undefined;
  layer?: string[] | undefined;
  includeTar?: string[] | undefined;
  includePath?: string[] | undefined;
  resume?: boolean | undefined;
  attach?: boolean | undefined;
  runAs?: string | undefined;
  opt?: string[] | undefined;
  info?: boolean | undefined;
  force?: boolean | undefined;
  checkHostDependencies?: boolean | undefined;
}

/** `runas` values that mean "the caller" (runtime/identity.ts), so need no account. */
const CALLER_RUNAS = new Set(['root', 'any']);

/**
 * pilot's register options for flake-ctl's; refuses what flake-ctl refuses (layers
 * without a base) and a --run-as that names no account here (every launch would fail).
 */
export function registerOptionsOf(
  given: FlakeCtlRegister,
  accountExists: (name: string) => boolean = (name) => hostAccount(name) !== undefined,
): RegisterOptions {
  if (given.app === undefined) {
    throw new PilotError('PILOT_USAGE', 'podman register needs --app PATH (or --info)', {
      hint: 'flake-ctl podman register --container NAME --app /usr/bin/APP [--base BASE]',
    });
  }
  const layers = given.layer ?? [];
  if (layers.length > 0 && given.base === undefined) {
    throw new PilotError('PILOT_USAGE', '--layer needs --base: layers stack on a base image', {
      hint: 'give --base BASE, or register the layer image as --container without --layer',
    });
  }
  const runas = given.runAs;
  if (runas !== undefined && !CALLER_RUNAS.has(runas) && !accountExists(runas)) {
    throw new PilotError(
      'PILOT_USAGE',
      `--run-as ${quoteExcerpt(runas)} is not an account on this host`,
      { hint: 'create the account, or leave --run-as out: the app then runs as its caller' },
    );
  }
  return {
    container: given.container,
    app: given.app,
    target: given.target,
    base: given.base,
    layers,
    includeTar: given.includeTar ?? [],
    includePath: given.includePath ?? [],
    hostPackages: [],
    resume: Boolean(given.resume),
    attach: Boolean(given.attach),
    opts: given.opt ?? [],
    force: Boolean(given.force),
    checkHostDependencies: Boolean(given.checkHostDependencies),
    ...(runas !== undefined ? { runas } : {}),
  };
}

/**
 * The names flake-ctl looks up for `--info`: `<name>.yaml` at the image's root, where
 * name is the last path component of the ref as given (tag included, as upstream does),
 * then without the tag or digest.
 */
export function infoFileNames(container: string): string[] {
  const last = basename(container);
  const bare = last.replace(/@.*$/, '').replace(/:[^:]*$/, '');
  return [...new Set([last, bare])].filter((n) => n !== '').map((n) => `${n}.yaml`);
}

/** Larger is no description a person reads. */
const MAX_INFO_BYTES = 1 << 20;

function readRegularFile(path: string, shown: string): string {
  // O_NOFOLLOW: image content is not trusted to point pilot at another file.
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const data = readBounded(fd, MAX_INFO_BYTES);
    if (data.length > MAX_INFO_BYTES) {
      throw new PilotError('PILOT_IMAGE_INVALID', `${shown} is larger than 1 MiB`);
    }
    return data.toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** `register --info`: the registration info file the image carries (flake-ctl prints it). */
export function readImageInfo(paths: PilotPaths, container: string): string {
  const image = resolveImage(paths, container);
  const tree = new LayeredTree(treeLayers(paths, stackLayers({ top: image, layers: [] })));
  const names = infoFileNames(container);
  for (const name of names) {
    const entry = tree.lookup(`/${name}`);
    if (!entry) continue;
    const shown = `/${name} in image ${container}`;
    if (!entry.stat.isFile()) {
      throw new PilotError('PILOT_IMAGE_INVALID', `${shown} is not a regular file`, {
        hint: 'the image must carry its registration info as a plain file',
      });
    }
    return readRegularFile(join(entry.layer, name), shown);
  }
  throw new PilotError(
    'PILOT_FLAKE_UNKNOWN',
    `image ${container} carries no registration info (/${names.join(' or /')})`,
    { hint: `register it with --app PATH; "pilot images" lists what the store holds` },
  );
}

/** `podman remove --app A [--force]`: with --force, nothing registered there is no error. */
export function removeFlakeApp(paths: PilotPaths, app: string, force: boolean): RemoveResult {
  try {
    return removeApp(paths, app);
  } catch (error) {
    if (force && isPilotError(error) && error.code === 'PILOT_FLAKE_UNKNOWN')
      return { removed: [] };
    throw error;
  }
}

/**
 * `podman remove --container C`: every app of that image, then the image's name (as
 * flake-ctl removes the image from podman's storage; its layers go with `pilot gc`).
 */
export function purgeContainer(
  paths: PilotPaths,
  container: string,
): RemoveResult & { untagged: string[] } {
  let removed: RemoveResult['removed'] = [];
  try {
    removed = removeByContainer(paths, container).removed;
  } catch (error) {
    if (!isPilotError(error) || error.code !== 'PILOT_FLAKE_UNKNOWN') throw error;
  }
  let untagged: string[] = [];
  try {
    untagged = removeImageRef(paths, container, {
      force: true,
      usedBy: (id) => appsUsingImage(paths, id),
    }).removed;
  } catch (error) {
    if (!isPilotError(error) || error.code !== 'PILOT_IMAGE_UNKNOWN' || removed.length === 0)
      throw error;
  }
  return { removed, untagged };
}

/** `podman show`: pilot's kept instances as flake-ctl's instance records. */
export function instanceRecords(paths: PilotPaths): InstanceRecord[] {
  const flakes = new Map(
    loadApps(paths).map((entry) => [entry.app, entry.ok ? entry.flake.container.name : null]),
  );
  return listInstances(paths).map((instance) => {
    let uid = 0;
    try {
      uid = statSync(join(storeDirs.instances(paths), instance.id)).uid;
    } catch {
      uid = process.getuid?.() ?? 0;
    }
    const known = flakes.has(instance.app);
    return {
      name: instance.id,
      user: hostAccount(String(uid))?.name ?? String(uid),
      id: instance.id,
      status: instance.state === 'stopped' ? 'stopped' : 'running',
      image: flakes.get(instance.app) ?? null,
      config: known ? join(paths.flakes, `${instance.app}.yaml`) : null,
    };
  });
}
