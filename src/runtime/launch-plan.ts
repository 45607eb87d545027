/**
 * flake + images + caller → launch plan: which lower dirs, which binds, which
 * program with which arguments and environment. Pure (no I/O), so that every rule
 * of the runtime contract is table-tested; src/runtime/run.ts performs the plan.
 * What the images decide is image-settings.ts; the plan as the exec helper's command
 * line is helper-argv.ts.
 */
import { posix } from 'node:path';
import { PilotError } from '../core/errors.js';
import type { Flake } from '../core/flake-file.js';
import type { ImageRecord } from '../core/image-record.js';
import { layerAlias } from '../core/image-record.js';
import { envOptions, isolationOptions } from './helper-argv.js';
import {
  type CommandParts,
  commandParts,
  resolveCommand,
  stackLayers,
  targetOf,
} from './image-settings.js';

// The planner's parts, re-exported: callers and tests import the plan's API from here.
export {
  callerHelperOptions,
  envOptions,
  helperArgv,
  isolationOptions,
  staticHelperOptions,
} from './helper-argv.js';
export {
  type CommandParts,
  commandParts,
  imageSetting,
  mergedImageEnv,
  resolveCommand,
  stackLayers,
  targetOf,
} from './image-settings.js';

export interface CallerContext {
  args: readonly string[];
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
  /** The cwd was removed: no path leads to it, so it is always bound by descriptor. */
  cwdDeleted?: boolean;
  uid: number;
  gid: number;
}

export interface PlanImages {
  /** The image `container.name` names (the delta, or a full image without base). */
  top: ImageRecord;
  /** `container.layers`, in flake order (bottom first). */
  layers: readonly ImageRecord[];
  base?: ImageRecord | undefined;
}

export interface PlanVolume {
  source: string;
  target: string;
  readOnly: boolean;
  /** nosuid, nodev, noexec as podman's volume options ask. */
  flags?: readonly string[];
}

/** One step of the flake's environment, in order: a value, or the caller's value of NAME / PREFIX*. */
export type PlanEnv = { set: string; value: string } | { pass: string };

/** What the flake restricts (podman's --read-only, --network none, --cap-drop, ...). */
export interface PlanIsolation {
  readOnly?: boolean;
  networkNone?: boolean;
  hostname?: string | undefined;
  capDrop?: readonly string[];
  capAdd?: readonly string[];
  noNewPrivileges?: boolean;
  /** Bytes of the per-call writable layer. */
  upperSize?: number | undefined;
}

/** The app's ids when they are not the caller's (a root caller's runas or --user). */
export interface PlanIdentity {
  uid: number;
  gid: number;
  groups: readonly number[];
  /** Values for HOME, USER and LOGNAME (the caller's would be wrong). */
  env: Readonly<Record<string, string>>;
  /** A host home to show at its own path instead of the caller's HOME. */
  home?: string | undefined;
}

export interface PlanOverrides {
  /** The flake's environment in order (env files first, then -e), later winning. */
  env: readonly PlanEnv[];
  volumes: readonly PlanVolume[];
  tmpfs?: readonly { target: string; options: string }[];
  workdir?: string | undefined;
  entrypoint?: readonly string[] | undefined;
  isolation?: PlanIsolation;
  identity?: PlanIdentity | undefined;
  /** Files bound read-only over image files (/etc/passwd, /etc/group with the caller's entries). */
  sessionFiles?: readonly { source: string; target: string }[];
  /** %ignore_missing_volume_path: a volume whose source is missing is skipped. */
  ignoreMissingVolumes?: boolean;
}

export interface PlanInput {
  flake: Flake;
  /** The app's name: what runs when the flake has no target_app_path (targetOf). */
  app: string;
  images: PlanImages;
  caller: CallerContext;
  /** `--lowerdir-base`: lower dirs are given relative to it. */
  storeDir: string;
  /** Extra lower dirs above the images, relative to storeDir, top first (host layer, includes). */
  extraLowers: readonly string[];
  /** Host files bound one by one (callers that cannot use a prepared host layer). */
  hostBinds: readonly { source: string; target: string }[];
  /** Directory the exec helper mounts its per-run tmpfs on. */
  mnt: string;
  /** Unprivileged caller: user namespace, userxattr overlay, ids mapped back. */
  userns: boolean;
  overrides: PlanOverrides;
  /** How the root is composed: a fresh per-run upper (default), a kept instance's mounted root, or a persistent upper. */
  composition?: Composition;
}

export type Composition =
  | { kind: 'per-run' }
  | { kind: 'kept-root'; root: string }
  | { kind: 'persistent-upper'; upper: string; work: string };

/**
 * `rbind-cwd`: the caller's working directory, bound by the helper's own descriptor;
 * `volume`: a flake volume (`extra` = its flags); `tmpfs`: a fresh tmpfs (`extra` = its
 * options, no source).
 */
export type BindKind =
  | 'rbind'
  | 'bind'
  | 'bind-ro'
  | 'try-bind'
  | 'try-rbind'
  | 'rbind-cwd'
  | 'volume'
  | 'tmpfs';

export interface PlanBind {
  kind: BindKind;
  source: string;
  target: string;
  extra?: string;
  /** Depends on the call (HOME, cwd): not part of a cached plan. */
  perCall?: boolean;
  /** Depends on the caller (its account files, /run/user/UID): the stub adds it. */
  perCaller?: boolean;
  /** Mounted after the per-call binds (volumes, host files: they may lie inside HOME). */
  late?: boolean;
}

export interface LaunchPlan {
  lowerdirBase: string;
  lowerdirs: string[];
  mnt: string;
  userns: boolean;
  composition: Composition;
  binds: PlanBind[];
  cwd: string;
  /** The helper's environment options: image Env, then the flake's (docs/plan.md). */
  envOptions: string[];
  /** Isolation and identity options (--read-only, --net-none, --uid, ...). */
  isolation: string[];
  /** The stub binds the caller's HOME (false: the app runs as another identity). */
  homeBind: boolean;
  /** Prefixes under which HOME and the cwd need no bind of their own. */
  covered: string[];
  workdir: string | undefined;
  command: CommandParts;
  program: string;
  args: string[];
}

/** overlayfs' mount data is one page (mount(2)); leave room for upperdir/workdir and options. */
export const MAX_LOWERDIR_BYTES = 3500;
/** overlayfs' OVL_MAX_STACK: lower dirs of one mount, by any API. */
export const MAX_OVERLAY_LAYERS = 500;

/** The caller's cwd is shown by a bind unless the image owns that part of the tree. */
const IMAGE_OWNED_PREFIXES = [
  '/usr',
  '/bin',
  '/sbin',
  '/lib',
  '/lib32',
  '/lib64',
  '/libx32',
  '/etc',
  '/boot',
  '/var/lib',
  '/var/cache',
  '/run',
];
const ALWAYS_BOUND = ['/proc', '/dev', '/sys', '/tmp'];

export function isUnder(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(`${prefix}/`);
}

export function planLaunch(input: PlanInput): LaunchPlan {
  const { flake, images, caller, overrides } = input;
  const lowerdirs = [
    ...input.extraLowers,
    ...stackLayers(images).map((layer) => `l/${layerAlias(layer)}`),
  ];
  // A list longer than mount(2)'s one page is pilot-exec's to mount (lowerdir+ where the
  // kernel has it, docs/design.md "Kernel features"); the stack depth is overlayfs' own.
  if (lowerdirs.length > MAX_OVERLAY_LAYERS) {
    throw new PilotError(
      'PILOT_RUNTIME',
      `the app's ${lowerdirs.length} layers do not fit in one overlay mount (overlayfs stacks at most ${MAX_OVERLAY_LAYERS})`,
      { hint: 'squash some layers of the image', exitCode: 125 },
    );
  }
  const identity = overrides.identity;
  const covered = (path: string) =>
    path === '/' ||
    ALWAYS_BOUND.some((p) => isUnder(path, p)) ||
    IMAGE_OWNED_PREFIXES.some((p) => isUnder(path, p));

  const binds: PlanBind[] = ALWAYS_BOUND.map((p) => ({ kind: 'rbind', source: p, target: p }));
  binds.push({ kind: 'try-bind', source: '/etc/resolv.conf', target: '/etc/resolv.conf' });
  binds.push({ kind: 'try-bind', source: '/etc/hosts', target: '/etc/hosts' });
  binds.push({ kind: 'try-bind', source: '/etc/localtime', target: '/etc/localtime' });
  // The app runs as its caller: its account files and runtime dir are the caller's,
  // which the stub works out for each caller (docs/plan.md); as another identity they
  // are fixed. They are the last binds before HOME either way.
  const perCaller = !identity;
  for (const file of overrides.sessionFiles ?? []) {
    binds.push({ kind: 'bind-ro', source: file.source, target: file.target, perCaller });
  }
  const runtimeDir = `/run/user/${identity?.uid ?? caller.uid}`;
  binds.push({ kind: 'try-rbind', source: runtimeDir, target: runtimeDir, perCaller });

  // The caller's HOME, unless the app runs as another identity (then that one's host home).
  const home = identity ? identity.home : caller.env.HOME;
  if (home && posix.isAbsolute(home) && !covered(home)) {
    binds.push({ kind: 'try-rbind', source: home, target: home, perCall: !identity });
  }
  const cwd = overrides.workdir ?? caller.cwd;
  // Only the caller's own HOME (bound per call) spares the cwd a bind: the stub knows no other.
  const callerHome = identity ? undefined : home;
  if (
    !overrides.workdir &&
    (caller.cwdDeleted ||
      (!covered(caller.cwd) && !(callerHome && isUnder(caller.cwd, callerHome))))
  ) {
    // Bound by descriptor (the directory the helper starts in), not by a path looked up
    // again: a user who controls the cwd's parent cannot swap in another directory.
    binds.push({ kind: 'rbind-cwd', source: caller.cwd, target: caller.cwd, perCall: true });
  }
  for (const volume of overrides.volumes) {
    const flags = [volume.readOnly ? 'ro' : 'rw', ...(volume.flags ?? [])].join(',');
    binds.push({
      kind: 'volume',
      source: volume.source,
      target: volume.target,
      extra: flags,
      late: true,
    });
  }
  for (const tmpfs of overrides.tmpfs ?? []) {
    binds.push({
      kind: 'tmpfs',
      source: '',
      target: tmpfs.target,
      extra: tmpfs.options,
      late: true,
    });
  }
  for (const hostFile of input.hostBinds) {
    binds.push({ kind: 'bind-ro', source: hostFile.source, target: hostFile.target, late: true });
  }

  const isolation = isolationOptions(overrides.isolation, identity);
  if (overrides.ignoreMissingVolumes) isolation.push('--ignore-missing-volumes');
  const target = targetOf(flake, input.app);
  const command = commandParts(target, images, overrides.entrypoint);
  const resolved = resolveCommand(target, images, caller.args, overrides.entrypoint);
  return {
    lowerdirBase: input.storeDir,
    lowerdirs,
    mnt: input.mnt,
    userns: input.userns,
    composition: input.composition ?? { kind: 'per-run' },
    binds,
    cwd,
    envOptions: envOptions(images, overrides.env, identity),
    isolation,
    homeBind: !identity,
    covered: ['/', ...ALWAYS_BOUND, ...IMAGE_OWNED_PREFIXES],
    workdir: overrides.workdir,
    command,
    program: resolved.program,
    args: resolved.args,
  };
}
