/**
 * The launch's step for a kept instance (resume/attach): root's calls share one mounted
 * root (instances.ts), recorded so that `pilot ps` and `stop` see every call; an
 * unprivileged caller keeps a persistent upper dir of its own instead.
 */
import { join } from 'node:path';
import type { CallerArgs } from '../core/caller-args.js';
import { debugStep } from '../core/debug.js';
import type { Flake } from '../core/flake-file.js';
import { layerAlias } from '../core/image-record.js';
import { waitForLock } from '../core/lock.js';
import { makeDirs, PRIVATE_DIR_MODE } from '../core/modes.js';
import { processStartTime, selfOwner } from '../core/owner.js';
import { type PilotPaths, resolvePaths } from '../core/paths.js';
import { sha256Hex } from '../core/sha256.js';
import { ensureInstance, enterInstance, instanceId, livePids, stopInstance } from './instances.js';
import type { Composition } from './launch-plan.js';

/** Who calls: the caller's environment and ids. */
interface InstanceCaller {
  app: string;
  env: NodeJS.ProcessEnv;
  uid: number;
}

/**
 * An unprivileged caller cannot mount a kept root in the host's namespace: its
 * instance is a persistent upper dir of its own, mounted per call inside its user
 * namespace. One upper dir must not be mounted twice at once, so calls of the
 * same instance take turns (the claim is dropped when the call ends, or found
 * stale when the launcher was killed).
 */
async function persistentUpper(
  request: InstanceCaller,
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

/** What the kept instance gives the launch. */
export interface KeptInstance {
  composition: Composition;
  /** A kept (resume) instance the fast path may exec into: its pids dir and what to stamp. */
  fastInstance?: { pids: string; stamped: string[]; mounts: string[] };
}

/**
 * Mounts (or joins) the instance; `started` runs once the app's pid is known, `after`
 * once the call ended (the caller's hooks, run in order).
 */
export async function keptInstance(
  input: {
    request: InstanceCaller;
    paths: PilotPaths;
    flake: Flake;
    caller: CallerArgs;
    /** The lower dirs above the images (host layer, include tars) and the image layers. */
    extraLowers: readonly string[];
    layers: readonly string[];
    progress: (message: string) => void;
  },
  hooks: { after: (() => Promise<void>)[]; started: ((pid: number) => void)[] },
): Promise<KeptInstance> {
  const { request, paths, flake, caller, extraLowers, layers, progress } = input;
  const { after, started } = hooks;
  const userns = request.uid !== 0;
  let composition: Composition;
  let fastInstance: KeptInstance['fastInstance'];
  const id = instanceId(request.app, caller.instance);
  const lowerdirs = [...extraLowers, ...layers.map((l) => `l/${layerAlias(l)}`)];
  const key = sha256Hex(lowerdirs.join(':'));
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
  return fastInstance ? { composition, fastInstance } : { composition };
}
