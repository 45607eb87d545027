/**
 * Kept instances (`runtime.resume` / `runtime.attach`, `@NAME`): a composed root
 * whose upper dir persists under the store (it survives a reboot), mounted once
 * in the host's mount namespace under the run dir, so that every later call
 * execs into it without composing again and concurrent calls share it.
 *
 *   <store>/instances/<id>/upper, work     persistent state of the instance
 *   <run>/instances/<id>/root              the mounted root (gone after a reboot)
 *   <run>/instances/<id>/lock              claim (core/lock.ts) while (un)mounting
 *   <run>/instances/<id>/pids/<pid>        the app process of each call (start time inside)
 *   <run>/instances/<id>/info.json         what is mounted (key) and since when
 *
 * <id> is `<app>` for the default instance and `<app>@<name>` for `@NAME`.
 */
import { chmodSync, existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { writeJsonAtomic } from '../core/atomic-fs.js';
import { errnoOf, PilotError } from '../core/errors.js';
import { faultPoint } from '../core/fault.js';
import { listDir } from '../core/list-dir.js';
import { type Lock, waitForLock } from '../core/lock.js';
import { makeDirs, PRIVATE_DIR_MODE, writeFileMode } from '../core/modes.js';
import { mountPoints } from '../core/mountinfo.js';
import { isOwnerAlive, type Owner } from '../core/owner.js';
import { type PilotPaths, storeDirs } from '../core/paths.js';
import { removeTree } from '../core/temp-entries.js';
import { toolError } from '../core/tool-error.js';
import { runToolLight } from '../core/tool-light.js';
import { treeSize } from '../core/tree-size.js';
import { MAX_LOWERDIR_BYTES } from './launch-plan.js';

export interface InstanceInfo {
  key: string;
  since: string;
}

export interface InstanceDirs {
  id: string;
  state: string;
  upper: string;
  work: string;
  runtime: string;
  root: string;
  lock: string;
  pids: string;
  info: string;
}

export function instanceId(app: string, name: string): string {
  return name === '' ? app : `${app}@${name}`;
}

export function instanceDirs(paths: PilotPaths, id: string): InstanceDirs {
  const state = join(storeDirs.instances(paths), id);
  const runtime = join(paths.run, 'instances', id);
  return {
    id,
    state,
    upper: join(state, 'upper'),
    work: join(state, 'work'),
    runtime,
    // In a directory only root may enter: the mounted root and its upper dir hold
    // whatever root's app wrote there, for root's calls alone.
    root: join(runtime, 'private', 'root'),
    lock: join(runtime, 'lock'),
    pids: join(runtime, 'pids'),
    info: join(runtime, 'info.json'),
  };
}

function readInfo(dirs: InstanceDirs): InstanceInfo | undefined {
  try {
    return JSON.parse(readFileSync(dirs.info, 'utf8')) as InstanceInfo;
  } catch {
    return undefined;
  }
}

/**
 * Calls in progress: the processes that run the app (the stub's own pid, or the exec
 * helper child of the Node launcher), or a launcher still preparing one, each with its
 * start time. Records of dead processes are dropped on the way.
 */
export function liveCalls(dirs: InstanceDirs): Owner[] {
  const alive: Owner[] = [];
  for (const entry of listDir(dirs.pids)) {
    if (!/^\d+$/.test(entry)) continue;
    let start = '';
    try {
      start = readFileSync(join(dirs.pids, entry), 'utf8').trim();
    } catch {
      start = '';
    }
    const call = { pid: Number(entry), start };
    if (isOwnerAlive(call)) alive.push(call);
    else rmSync(join(dirs.pids, entry), { force: true });
  }
  return alive;
}

export function livePids(dirs: InstanceDirs): number[] {
  return liveCalls(dirs).map((call) => call.pid);
}

function unmount(path: string): void {
  // Lazy: a process still inside keeps its view; the mount leaves the host tree now.
  const argv = ['umount', '-l', path];
  const r = runToolLight(argv, { okExitCodes: 'any' });
  // Not mounted any more (a concurrent stop) is what was asked for.
  if (r.exitCode !== 0 && mountPoints().has(path)) {
    throw toolError(
      { argv, purpose: `cannot unmount ${path}`, exitCode: r.exitCode, stderr: r.stderr },
      { code: 'PILOT_RUNTIME' },
    );
  }
}

async function lockInstance(dirs: InstanceDirs): Promise<Lock> {
  makeDirs(dirs.runtime);
  return waitForLock(dirs.lock, `instance ${dirs.id}`, 60_000, 10);
}

/** Mount points every call binds onto; made once when the instance is mounted. */
const STANDARD_MOUNT_POINTS: { path: string; dir: boolean }[] = [
  { path: 'proc', dir: true },
  { path: 'dev', dir: true },
  { path: 'sys', dir: true },
  { path: 'tmp', dir: true },
];

/**
 * Makes sure the instance is mounted with the given lower dirs (relative to the
 * store). Ten first calls at once: the lock lets one mount, the others find it.
 * A mount left by a killed launcher is found through mountinfo and reused.
 */
export async function ensureInstance(
  paths: PilotPaths,
  id: string,
  lowerdirs: readonly string[],
  key: string,
): Promise<{ dirs: InstanceDirs; created: boolean }> {
  const dirs = instanceDirs(paths, id);
  const mountedNow = () => mountPoints().has(dirs.root);
  if (mountedNow() && readInfo(dirs)?.key === key) return { dirs, created: false };
  const lock = await lockInstance(dirs);
  try {
    const mounted = mountedNow();
    if (mounted && readInfo(dirs)?.key === key) return { dirs, created: false };
    // The images or host files changed since the instance was mounted: remount
    // over the same upper (its state stays); calls in progress keep the old view.
    if (mounted) unmount(dirs.root);
    const created = !existsSync(dirs.upper);
    makeDirs(dirs.upper);
    makeDirs(dirs.work, PRIVATE_DIR_MODE);
    makeDirs(dirs.root);
    chmodSync(dirs.state, 0o700);
    chmodSync(dirname(dirs.root), 0o700);
    // nosuid,nodev: the root is mounted in the host's namespace (DESIGN.md, Trust).
    // A kill after the mount and before info.json leaves a mount without its key: the
    // next call sees a key mismatch and mounts again over the same upper.
    faultPoint(`mount ${dirs.root}`);
    const options = `nosuid,nodev,lowerdir=${lowerdirs.join(':')},upperdir=${dirs.upper},workdir=${dirs.work},index=off,metacopy=off`;
    // mount(8) hands the options to mount(2), which takes one page of them.
    if (lowerdirs.join(':').length > MAX_LOWERDIR_BYTES) {
      throw new PilotError(
        'PILOT_RUNTIME',
        `the app's ${lowerdirs.length} layers do not fit in one overlay mount of a kept instance`,
        { hint: 'squash some layers of the image', exitCode: 125 },
      );
    }
    runToolLight(['mount', '-t', 'overlay', `pilot-${id}`, '-o', options, dirs.root], {
      cwd: paths.store,
      purpose: `cannot mount instance ${id}`,
      code: 'PILOT_RUNTIME',
      hint: '"pilot doctor" checks overlayfs; "pilot stop" removes a broken instance',
      exitCode: 125,
    });
    for (const point of STANDARD_MOUNT_POINTS) {
      makeDirs(join(dirs.root, point.path));
    }
    writeJsonAtomic(dirs.info, { key, since: new Date().toISOString() } satisfies InstanceInfo);
    return { dirs, created };
  } finally {
    lock.release();
  }
}

/** Records a process of a call in the instance; the returned function removes the record. */
export function enterInstance(dirs: InstanceDirs, call: Owner): () => void {
  makeDirs(dirs.pids);
  const file = join(dirs.pids, String(call.pid));
  faultPoint(`record ${file}`);
  writeFileMode(file, `${call.start}\n`);
  return () => rmSync(file, { force: true });
}

export interface InstanceStatus {
  app: string;
  name: string;
  id: string;
  state: 'running' | 'idle' | 'stopped';
  since: string | null;
  size: number;
  pids: number[];
}

function splitId(id: string): { app: string; name: string } {
  const at = id.indexOf('@');
  return at < 0 ? { app: id, name: '' } : { app: id.slice(0, at), name: id.slice(at + 1) };
}

export function listInstances(paths: PilotPaths): InstanceStatus[] {
  const ids = new Set<string>();
  for (const dir of [storeDirs.instances(paths), join(paths.run, 'instances')]) {
    for (const entry of listDir(dir)) if (!entry.startsWith('.')) ids.add(entry);
  }
  const mounted = mountPoints();
  return [...ids].sort().map((id) => {
    const dirs = instanceDirs(paths, id);
    const pids = livePids(dirs);
    const isMounted = mounted.has(dirs.root);
    const info = readInfo(dirs);
    let since: string | null = info?.since ?? null;
    if (!since && existsSync(dirs.state)) since = statSync(dirs.state).mtime.toISOString();
    return {
      ...splitId(id),
      id,
      state: pids.length > 0 ? 'running' : isMounted ? 'idle' : 'stopped',
      since,
      size: treeSize(dirs.upper),
      pids,
    };
  });
}

/** How long calls may take to end after SIGTERM before they get SIGKILL. */
const STOP_GRACE_MS = 3000;

/**
 * Signals a recorded call, unless its pid now names another process: the record holds
 * the start time, and one without it (it could not be read) is never signalled.
 */
function signalCall(id: string, call: Owner, signal: NodeJS.Signals): void {
  if (call.start === '' || !isOwnerAlive(call)) return;
  try {
    process.kill(call.pid, signal);
  } catch (error) {
    if (errnoOf(error) === 'ESRCH') return;
    if (errnoOf(error) !== 'EPERM') throw error;
    throw new PilotError(
      'PILOT_NEEDS_PRIVILEGE',
      `cannot end process ${call.pid} of instance ${id}: it belongs to another user`,
      { hint: 'run "pilot stop" as that user or as root' },
    );
  }
}

/** Ends every call of the instance: SIGTERM, SIGKILL after a grace period; throws if one stays. */
async function endCalls(dirs: InstanceDirs): Promise<void> {
  const running = () => liveCalls(dirs).filter((call) => call.start !== '');
  const waitForEnd = async (ms: number) => {
    const deadline = Date.now() + ms;
    while (running().length > 0 && Date.now() < deadline) await sleep(50);
  };
  for (const call of running()) signalCall(dirs.id, call, 'SIGTERM');
  await waitForEnd(STOP_GRACE_MS);
  for (const call of running()) signalCall(dirs.id, call, 'SIGKILL');
  await waitForEnd(2000);
  const left = running().map((call) => call.pid);
  if (left.length > 0) {
    throw new PilotError(
      'PILOT_BUSY',
      `instance ${dirs.id}: process(es) ${left.join(', ')} did not end`,
      { hint: 'nothing was deleted; run "pilot stop" again' },
    );
  }
}

/** Ends the instance's calls, then unmounts it and deletes its state. */
export async function stopInstance(paths: PilotPaths, id: string): Promise<void> {
  const dirs = instanceDirs(paths, id);
  if (!existsSync(dirs.state) && !existsSync(dirs.runtime)) {
    throw new PilotError('PILOT_FLAKE_UNKNOWN', `no instance ${id}`, {
      hint: '"pilot ps" lists instances',
    });
  }
  const lock = await lockInstance(dirs);
  try {
    await endCalls(dirs);
    // Every mount there goes (a mount stacked by an earlier fault included).
    for (let i = 0; i < 8 && mountPoints().has(dirs.root); i++) unmount(dirs.root);
    // An app may have written a tree deeper than PATH_MAX there.
    removeTree(dirs.state);
  } finally {
    lock.release();
  }
  rmSync(dirs.runtime, { recursive: true, force: true });
}
