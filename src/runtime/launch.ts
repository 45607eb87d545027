/**
 * The launcher's plan step: app name + caller → the exec helper's argv.
 * Resolves the flake, the pinned images, the host files of every `/removed`,
 * makes sure the cached host layer exists, and plans the sandbox.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CallerArgs, parseCallerArgs } from '../core/caller-args.js';
import { debugStep } from '../core/debug.js';
import { PilotError } from '../core/errors.js';
import { escapeExcerpt, quoteExcerpt } from '../core/excerpt.js';
import type { Flake } from '../core/flake-file.js';
import { pathOwner, pathPresent } from '../core/fs-query.js';
import { HOST_SETTING_VARIABLES, hostSettings, onHost } from '../core/host-root.js';
import { type ImageRecord, layerAlias, readImageById, resolveImage } from '../core/image-record.js';
import { waitForLock } from '../core/lock.js';
import { makeDirs, PRIVATE_DIR_MODE } from '../core/modes.js';
import { processStartTime, selfOwner } from '../core/owner.js';
import { callerRunDir, type PilotPaths, resolvePaths, storeDirs } from '../core/paths.js';
import { STORE_FORMAT, storeFormat } from '../core/store-version.js';
import { fastPlanWords, writeFastPlan } from './fast-plan.js';
import { loadFlakeCached } from './flake-cache.js';
import { scanAppHostFiles } from './host-files.js';
import { ensureHostLayer, hostLayerKey } from './host-layer.js';
import { LayeredTree, treeLayers } from './image-tree.js';
import { includeTarLowers } from './include-tar.js';
import { ensureInstance, enterInstance, instanceId, livePids, stopInstance } from './instances.js';
import { launchOptions } from './launch-options.js';
import {
  type Composition,
  helperArgv,
  type PlanImages,
  planLaunch,
  stackLayers,
} from './launch-plan.js';

export interface LaunchRequest {
  app: string;
  args: readonly string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** The cwd was removed (caller-bytes.ts): the app runs in it by descriptor. */
  cwdDeleted?: boolean;
  uid: number;
  gid: number;
  debug: boolean;
  /** The exec helper: its identity is stamped into fast plans (an upgrade invalidates them). */
  helper?: string;
}

export interface PreparedLaunch {
  argv: string[];
  caller: CallerArgs;
  paths: PilotPaths;
  /** Runs once the exec helper (which becomes the app) started: records its pid in the instance. */
  started: (pid: number) => void;
  /** Runs after the app ended: leaves the instance, drops it for %remove / attach. */
  finish: () => Promise<void>;
}

/**
 * An unprivileged caller cannot mount a kept root in the host's namespace: its
 * instance is a persistent upper dir of its own, mounted per call inside its user
 * namespace. One upper dir must not be mounted twice at once, so calls of the
 * same instance take turns (the claim is dropped when the call ends, or found
 * stale when the launcher was killed).
 */
async function persistentUpper(
  request: LaunchRequest,
  id: string,
  after: (() => Promise<void>)[],
): Promise<Composition> {
  const own = resolvePaths({ env: { ...request.env, PILOT_ROOT: '' }, uid: request.uid });
  const state = join(own.store, 'instances', id);
  makeDirs(join(state, 'upper'));
  makeDirs(join(state, 'work'), PRIVATE_DIR_MODE);
  const lock = await waitForLock(join(state, 'lock'), `instance ${id}`, 600_000);
  after.push(async () => lock.release());
  return { kind: 'persistent-upper', upper: join(state, 'upper'), work: join(state, 'work') };
}

/** Names from an image's lists, for a message: the first few, each cut short and escaped. */
function shownList(items: readonly string[], max = 20): string {
  const shown = items.slice(0, max).map((item) => `    ${escapeExcerpt(item)}`);
  if (items.length > max) shown.push(`    … and ${items.length - max} more`);
  return shown.join('\n');
}

/** Files in the images that are pilot's business, not the app's. */
export const HIDDEN_IMAGE_FILES = ['/removed', '/systemfiles'];

/**
 * Which store serves this app: `PILOT_ROOT`, else root's system store, else the
 * caller's own store when it has the flake, else the system store read-only. A caller
 * who does not own the store keeps its runtime state in its own run dir
 * (core/paths.ts, callerRunDir), or, when it has none, in a private dir for this call.
 */
export function launcherPaths(app: string, env: NodeJS.ProcessEnv, uid: number): PilotPaths {
  const own = resolvePaths({ env, uid });
  if (own.root !== '') {
    if (uid === 0 || pathOwner(own.root) === uid) return own;
    return { ...own, run: usableRunDir(callerRunDir(env, own.root)) };
  }
  if (own.system) return own;
  // Whatever is there (a FIFO too) makes it the caller's own app: loadFlake says what is wrong.
  if (pathPresent(join(own.flakes, `${app}.yaml`))) return own;
  const system = resolvePaths({ env, uid: 0 });
  return { ...system, run: usableRunDir(callerRunDir(env, '')), system: true };
}

/** The caller's own run dir when it can have one, else a private one for this call. */
function usableRunDir(dir: string | undefined): string {
  if (dir !== undefined) {
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      if (pathOwner(dir) === process.geteuid?.()) return dir;
    } catch {
      // a HOME it cannot write, say
    }
  }
  return privateRunDir();
}

/** A caller without a run dir of its own: state for this call only, removed at exit. */
function privateRunDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'pilot-run-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The image a flake ref is pinned to; an image gone from the store is an error naming the fix. */
export function pinnedImage(paths: PilotPaths, flake: Flake, ref: string): ImageRecord {
  const pinned = flake.container.digests[ref];
  if (!pinned) return resolveImage(paths, ref);
  const record = readImageById(paths, pinned);
  if (record) return record;
  throw new PilotError(
    'PILOT_IMAGE_UNKNOWN',
    `image ${quoteExcerpt(ref)} (${pinned}) that this app is registered with is gone from the store`,
    {
      hint: `load it again ("pilot load ARCHIVE"), or re-pin the app with "pilot register --force ..."`,
      exitCode: 127,
    },
  );
}

export function flakeImages(paths: PilotPaths, flake: Flake): PlanImages {
  const c = flake.container;
  return {
    top: pinnedImage(paths, flake, c.name),
    layers: c.layers.map((ref) => pinnedImage(paths, flake, ref)),
    base: c.base_container ? pinnedImage(paths, flake, c.base_container) : undefined,
  };
}

export async function prepareLaunch(request: LaunchRequest): Promise<PreparedLaunch> {
  const paths = launcherPaths(request.app, request.env, request.uid);
  if (request.uid === 0 && storeFormat(paths) < STORE_FORMAT) {
    // Cold path only: a store an earlier pilot wrote is converted once (store-format.ts).
    const { upgradeStore } = await import('../store/store-format.js');
    upgradeStore(paths);
  }
  debugStep(`app ${request.app}, store ${paths.store}`);
  const {
    flake,
    warnings,
    files: flakeFiles,
    targets: flakeTargets,
    podmanAt,
  } = await loadFlakeCached(paths, request.app);
  if (request.debug) {
    for (const w of warnings)
      process.stderr.write(`pilot: warning: ${w.file}:${w.line}: ${w.message}\n`);
  }
  debugStep('flake loaded');
  // Which arguments are pilot's depends on the flake: `@NAME` only names a kept instance.
  const kept = flake.container.runtime.resume || flake.container.runtime.attach;
  const caller = parseCallerArgs(request.args, { kept });
  // %progress: say what the launch composes (on stderr, so the app's output stays its own).
  // %interactive is accepted for flake-pilot compatibility: pilot always hands the app the
  // caller's own stdin/stdout/stderr, so a terminal already stays a terminal.
  const progress = (message: string) => {
    if (caller.options.has('progress')) process.stderr.write(`${request.app}: ${message}\n`);
  };
  progress(
    `using ${flake.container.name}${flake.container.base_container ? ` on ${flake.container.base_container}` : ''}`,
  );
  const images = flakeImages(paths, flake);
  const layers = stackLayers(images);
  const tree = new LayeredTree(treeLayers(paths, layers));
  debugStep(`images resolved: ${layers.length} layers`);

  // Host files (host-files.ts): include.path, /removed, host packages and /systemfiles.
  // A /removed path missing on the host is skipped (KIWI lists expected false positives:
  // logs, docs, package-database churn) unless the flake says host_files: strict.
  const host = hostSettings(request.env);
  const { files, missing, absent, watched } = scanAppHostFiles(paths, flake, images, tree, {
    hostRoot: host.root,
    packages: host.packages,
  });
  const strict = flake.container.host_files === 'strict';
  const fatal = strict ? [...missing, ...absent] : missing;
  if (fatal.length > 0 && !caller.options.has('ignore_sync_error')) {
    throw new PilotError(
      'PILOT_HOST_FILES_MISSING',
      `${fatal.length} host file(s) that ${request.app} needs are missing${strict && absent.length > 0 ? ' (container.host_files: strict)' : ''}:\n${shownList(fatal)}`,
      {
        hint: `install what provides them on the host ("pilot check ${request.app}" lists them), or run with %ignore_sync_error${strict && absent.length > 0 ? '; without host_files: strict, a missing /removed path is skipped' : ''}`,
        exitCode: 127,
      },
    );
  }
  const skipped = fatal.length > 0 ? fatal.concat(strict ? [] : absent) : absent;
  if (skipped.length > 0) {
    const what = `${skipped.length} host file(s) missing on the host, skipped ("pilot check ${request.app}" says who lists each):\n${shownList(skipped)}`;
    progress(what);
    debugStep(what);
  }
  debugStep(
    `host files checked: ${files.length} listed, ${skipped.length} missing and skipped${strict ? ' (strict)' : ''}`,
  );

  const hide = HIDDEN_IMAGE_FILES.filter((p) => tree.lookup(p));
  const extraLowers: string[] = [];
  const hostBinds: { source: string; target: string }[] = [];
  const present = files.filter((f) => f.kind !== 'missing');
  if (present.length > 0 || hide.length > 0) {
    // A layer of host files that everyone may read serves every caller; one with a
    // file that not everyone may read is its builder's alone (host-layer-build.ts).
    const publicOnly = present.every((f) => f.public === true);
    const key = hostLayerKey(layers, files, hide, publicOnly);
    const hostDir = storeDirs.hostLayers(paths);
    let layerPath: string | undefined;
    // A first composition on a terminal says what it does (erased when done);
    // nothing is printed when stderr is a pipe or a file.
    const announce = !existsSync(join(hostDir, key)) && process.stderr.isTTY === true;
    if (announce) process.stderr.write(`${request.app}: providing ${present.length} host file(s)…`);
    try {
      const built = await ensureHostLayer(hostDir, key, files, {
        hide,
        tree,
        helper: request.helper ?? 'pilot-exec',
        public: publicOnly,
        hostRoot: host.root,
      });
      layerPath = built.path;
      if (announce) process.stderr.write('\r\x1b[K');
      if (built.built) {
        progress(`provided ${present.length} host file(s) in a new host layer`);
        // Cold path only (a host file changed): older host layers nothing uses go now.
        const { pruneAfterHostLayerBuild } = await import('./caches.js');
        const pruned = await pruneAfterHostLayerBuild(paths, [`host/${key}`]);
        if (pruned.length > 0) debugStep(`pruned ${pruned.length} unused host layer(s)`);
      }
      for (const skip of built.skipped) {
        progress(`host file ${skip.path} not provided: ${skip.reason}`);
        debugStep(`host file ${skip.path} not provided: ${skip.reason}`);
      }
    } catch (error) {
      if (announce) process.stderr.write('\r\x1b[K');
      // An unprivileged caller of a system app whose host layer root has not
      // prepared yet: it cannot write the store, so it binds each host file.
      if (!(error instanceof PilotError) || error.code !== 'PILOT_NEEDS_PRIVILEGE') throw error;
    }
    if (layerPath) {
      extraLowers.push(`host/${key}`);
    } else {
      for (const file of present) {
        if (file.kind === 'file')
          hostBinds.push({ source: onHost(host.root, file.path), target: file.target });
      }
    }
    debugStep(`host layer ${layerPath ? `host/${key.slice(0, 12)}` : `${hostBinds.length} binds`}`);
  }
  // include.tar (include-tar.ts): extracted tars, below the host layer, above the images.
  extraLowers.push(...(await includeTarLowers(paths, flake)));

  const userns = request.uid !== 0;
  const mnt = join(paths.run, 'mnt');
  makeDirs(mnt);
  let composition: Composition = { kind: 'per-run' };
  const after: (() => Promise<void>)[] = [];
  const started: ((pid: number) => void)[] = [];
  /** A kept (resume) instance the fast path may exec into: its pids dir and what to stamp. */
  let fastInstance: { pids: string; stamped: string[]; mounts: string[] } | undefined;
  if (kept) {
    const id = instanceId(request.app, caller.instance);
    const lowerdirs = [...extraLowers, ...layers.map((l) => `l/${layerAlias(l)}`)];
    const key = createHash('sha256').update(lowerdirs.join(':')).digest('hex');
    if (userns) {
      composition = await persistentUpper(request, id, after);
    } else {
      const { dirs } = await ensureInstance(paths, id, lowerdirs, key);
      // This launcher is the call until the app runs; then the app is (the helper child
      // execs into it): a kill -9 of the launcher leaves a call that ps and stop still see.
      const leave = enterInstance(dirs, selfOwner());
      let leaveApp: (() => void) | undefined;
      started.push((pid) => {
        const start = processStartTime(pid);
        if (start === undefined) return; // already gone
        try {
          leaveApp = enterInstance(dirs, { pid, start });
          leave();
        } catch (error) {
          // The app runs either way; this launcher's own record then stands for it.
          debugStep(`cannot record pid ${pid}: ${(error as Error).message}`);
        }
      });
      after.push(async () => {
        leave();
        leaveApp?.();
        // attach: the instance lives while calls use it; resume: until `pilot stop`.
        const last = livePids(dirs).length === 0;
        if (caller.options.has('remove') || (flake.container.runtime.attach && last)) {
          if (last) await stopInstance(paths, id);
        }
      });
      composition = { kind: 'kept-root', root: dirs.root };
      // resume (not attach: dropping the instance after the last call needs this
      // process): the stub can exec into the mounted root and record its pid itself.
      // The root's device changes with every (re)mount, info.json with the lower dirs.
      if (!flake.container.runtime.attach && caller.instance === '') {
        fastInstance = { pids: dirs.pids, stamped: [dirs.info], mounts: [dirs.root] };
      }
    }
    debugStep(`instance ${id} ready`);
    progress(
      `instance ${id} ready at ${composition.kind === 'kept-root' ? composition.root : 'a private mount'}`,
    );
  }
  const {
    options,
    overrides,
    identity,
    envdeps,
    stamped: optionFiles,
  } = launchOptions({
    flake,
    podmanAt,
    tree,
    caller: { uid: request.uid, gid: request.gid, env: request.env },
    run: paths.run,
    ignoreMissingVolumes: caller.options.has('ignore_missing_volume_path'),
  });
  // The host root and package database (core/host-root.ts) chose the host files: a
  // call with other values must not take this plan.
  for (const name of HOST_SETTING_VARIABLES) envdeps.set(name, request.env[name]);
  if (identity.note) debugStep(identity.note);
  for (const noop of options.noops)
    debugStep(`option ${noop.option} changes nothing: ${noop.reason}`);
  debugStep(`app runs as uid ${identity.uid} gid ${identity.gid}`);
  const plan = planLaunch({
    flake,
    app: request.app,
    images,
    caller: {
      args: caller.appArgs,
      env: request.env,
      cwd: request.cwd,
      cwdDeleted: request.cwdDeleted === true,
      uid: request.uid,
      gid: request.gid,
    },
    storeDir: paths.store,
    extraLowers,
    hostBinds,
    mnt,
    userns,
    composition,
    overrides,
  });
  debugStep('plan ready');
  if ((composition.kind === 'per-run' || fastInstance) && !caller.hadPilotArgs) {
    const imageRecords = [images.top, ...images.layers, ...(images.base ? [images.base] : [])].map(
      (i) => join(storeDirs.images(paths), `${i.id.slice(7)}.json`),
    );
    const stamped = [
      join(paths.flakes, `${request.app}.yaml`),
      join(paths.flakes, `${request.app}.d`),
      ...flakeFiles,
      ...flakeTargets,
      ...imageRecords,
      ...extraLowers.map((l) => join(paths.store, l)),
      // host-files.ts: every host path looked at, and the package database when packages
      // (host_packages or /systemfiles) were resolved.
      ...watched,
      ...flake.include.tar,
      ...flake.include.path,
      ...(flake.container.host_packages.length > 0
        ? [onHost(host.root, '/var/lib/dpkg/status')]
        : []),
      ...(request.helper ? [request.helper] : []),
      ...(fastInstance?.stamped ?? []),
      ...optionFiles,
    ];
    try {
      writeFastPlan(
        paths.run,
        request.app,
        request.uid,
        fastPlanWords(plan, {
          stamped,
          envdeps,
          pidsDir: fastInstance?.pids,
          mounts: fastInstance?.mounts,
        }),
      );
      debugStep('fast plan written');
    } catch (error) {
      // The fast path is an optimisation: a caller who cannot write the run dir
      // simply keeps taking this path.
      debugStep(`no fast plan: ${(error as Error).message}`);
    }
  }
  return {
    argv: helperArgv(plan, request.debug),
    caller,
    paths,
    started: (pid) => {
      for (const step of started) step(pid);
    },
    finish: async () => {
      for (const step of after) await step();
    },
  };
}
