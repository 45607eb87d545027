/**
 * The launcher's plan step: app name + caller → the exec helper's argv.
 * Resolves the flake, the pinned images, the host files of every `/removed`,
 * makes sure the cached host layer exists, and plans the sandbox. Each step that is
 * more than a call has its file: launcher-paths.ts (which store), flake-images.ts,
 * launch-host-files.ts, launch-instance.ts (resume/attach), launch-options.ts.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { type CallerArgs, parseCallerArgs } from '../core/caller-args.js';
import { debugStep } from '../core/debug.js';
import { HOST_SETTING_VARIABLES, hostSettings, onHost } from '../core/host-root.js';
import { makeDirs } from '../core/modes.js';
import { type PilotPaths, storeDirs } from '../core/paths.js';
import { STORE_FORMAT, storeFormat } from '../core/store-version.js';
import { fastPlanWords, writeFastPlan } from './fast-plan.js';
import { loadFlakeCached } from './flake-cache.js';
import { flakeImages } from './flake-images.js';
import { LayeredTree, treeLayers } from './image-tree.js';
import { includeTarLowers } from './include-tar.js';
import { provideHostFiles } from './launch-host-files.js';
import { type KeptInstance, keptInstance } from './launch-instance.js';
import { launchOptions } from './launch-options.js';
import { type Composition, helperArgv, planLaunch, stackLayers } from './launch-plan.js';
import { launcherPaths, ownsStore } from './launcher-paths.js';

// Callers and tests find the launch's steps here too.
export { flakeImages, pinnedImage } from './flake-images.js';
export { launcherPaths } from './launcher-paths.js';

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

  // Host files (launch-host-files.ts): include.path, /removed, host packages and
  // /systemfiles, checked and provided as a host layer (or binds).
  const host = hostSettings(request.env);
  const provided = await provideHostFiles({
    paths,
    app: request.app,
    flake,
    images,
    layers,
    tree,
    host,
    helper: request.helper,
    ignoreSyncError: caller.options.has('ignore_sync_error'),
    progress,
  });
  const { hostBinds } = provided;
  const extraLowers = [...provided.lowers];
  // include.tar (include-tar.ts): extracted tars, below the host layer, above the images.
  extraLowers.push(...(await includeTarLowers(paths, flake)));

  const userns = request.uid !== 0;
  const mnt = join(paths.run, 'mnt');
  makeDirs(mnt);
  let composition: Composition = { kind: 'per-run' };
  const after: (() => Promise<void>)[] = [];
  const started: ((pid: number) => void)[] = [];
  let fastInstance: KeptInstance['fastInstance'];
  if (kept) {
    const instance = await keptInstance(
      { request, paths, flake, caller, extraLowers, layers, progress },
      { after, started },
    );
    composition = instance.composition;
    fastInstance = instance.fastInstance;
  }
  const {
    options,
    overrides,
    identity,
    envdeps,
    stamped: optionFiles,
    imageAccounts,
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
      // The package database when packages (host_packages or /systemfiles) were
      // resolved; the host files themselves are provided.stamps (host-stamps.ts).
      ...provided.databases,
      ...flake.include.tar,
      ...flake.include.path,
      ...(flake.container.host_packages.length > 0
        ? [onHost(host.root, '/var/lib/dpkg/status')]
        : []),
      ...(request.helper ? [request.helper] : []),
      ...(fastInstance?.stamped ?? []),
      ...optionFiles,
    ];
    // A plan of the store's owner goes into the store (a reboot keeps it) and, when
    // nothing in it is the owner's alone, serves every caller: the stub adds the
    // caller's part (docs/plan.md). Any other plan is its caller's, in its run dir.
    const inStore = ownsStore(paths) && !fastInstance && !identity.changed;
    const shared =
      inStore &&
      composition.kind === 'per-run' &&
      provided.shared &&
      options.envFiles.every(worldReadable);
    try {
      writeFastPlan(
        inStore ? paths.store : paths.run,
        request.app,
        request.uid,
        fastPlanWords(plan, {
          stamped,
          host: provided.stamps,
          envdeps,
          pidsDir: fastInstance?.pids,
          mounts: fastInstance?.mounts,
          callers: shared ? 'all' : request.uid,
          accounts: identity.changed ? undefined : imageAccounts,
        }),
      );
      debugStep(`fast plan written${shared ? ' for every caller' : ''}`);
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

/** An env file every caller may read: its values may go into a plan every caller runs. */
function worldReadable(file: string): boolean {
  try {
    return (statSync(file).mode & 0o004) !== 0;
  } catch {
    return false;
  }
}
