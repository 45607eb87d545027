/**
 * flake + images + caller → launch plan: which lower dirs, which binds, which
 * program with which arguments and environment. Pure (no I/O), so that every rule
 * of the runtime contract is table-tested; src/runtime/run.ts performs the plan.
 */
import { posix } from 'node:path';
import { PilotError } from '../core/errors.js';
import type { Flake } from '../core/flake-file.js';
import type { ImageConfig, ImageRecord } from '../core/image-record.js';
import { layerAlias } from '../core/image-record.js';

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

/** Layer dirs of all images, top first, each layer once (a full delta may repeat base layers). */
export function stackLayers(images: PlanImages): string[] {
  const bottomFirst: string[] = [];
  if (images.base) bottomFirst.push(...images.base.layers);
  for (const image of images.layers) bottomFirst.push(...image.layers);
  bottomFirst.push(...images.top.layers);
  const seen = new Set<string>();
  const topFirst: string[] = [];
  for (const layer of bottomFirst.reverse()) {
    if (seen.has(layer)) continue;
    seen.add(layer);
    topFirst.push(layer);
  }
  return topFirst;
}

/** The image config that applies: top image first, then layers (top first), then base. */
function configsTopFirst(images: PlanImages): ImageConfig[] {
  const configs = [images.top.config];
  for (const image of [...images.layers].reverse()) configs.push(image.config);
  if (images.base) configs.push(images.base.config);
  return configs;
}

/** An image config's `User` or `WorkingDir` that applies (top image first), or undefined. */
export function imageSetting(images: PlanImages, key: 'User' | 'WorkingDir'): string | undefined {
  for (const config of configsTopFirst(images)) {
    const value = config[key];
    if (value !== undefined && value !== '') return value;
  }
  return undefined;
}

export function mergedImageEnv(images: PlanImages): Map<string, string> {
  const env = new Map<string, string>();
  for (const config of configsTopFirst(images).reverse()) {
    for (const entry of config.Env ?? []) {
      const eq = entry.indexOf('=');
      if (eq > 0) env.set(entry.slice(0, eq), entry.slice(eq + 1));
    }
  }
  return env;
}

/**
 * The program the app runs: target_app_path, or without one the app's own name (the
 * name it is called by), looked up in the image's PATH as podman-pilot's
 * `--entrypoint NAME` does (DESIGN, Flake files).
 */
export function targetOf(flake: Flake, app: string): string {
  return flake.container.target_app_path ?? app;
}

/**
 * The program and its arguments. An absolute target_app_path runs that file with
 * the caller's arguments; `/` runs the image's Entrypoint (caller arguments replace
 * Cmd, as in Docker) or, without Entrypoint, the first word of Cmd (caller
 * arguments replace the rest); a bare name is looked up in the app's PATH.
 */
export interface CommandParts {
  program: string;
  /** Always passed (the Entrypoint's own arguments). */
  fixed: string[];
  /** Passed when the caller gives no arguments (Cmd). */
  defaults: string[];
}

/**
 * The program and its arguments. An absolute target_app_path runs that file with
 * the caller's arguments; `/` runs the image's Entrypoint (caller arguments replace
 * Cmd, as in Docker) or, without Entrypoint, the first word of Cmd (caller
 * arguments replace the rest).
 */
export function commandParts(
  target: string,
  images: PlanImages,
  entrypointOverride?: readonly string[],
): CommandParts {
  if (target !== '/') return { program: target, fixed: [], defaults: [] };
  const configs = configsTopFirst(images);
  const withCommand = configs.find(
    (c) => (c.Entrypoint?.length ?? 0) > 0 || (c.Cmd?.length ?? 0) > 0,
  );
  const entrypoint = entrypointOverride ?? withCommand?.Entrypoint ?? [];
  const cmd = entrypointOverride ? [] : (withCommand?.Cmd ?? []);
  if (entrypoint.length > 0) {
    return { program: entrypoint[0]!, fixed: entrypoint.slice(1), defaults: [...cmd] };
  }
  if (cmd.length > 0) return { program: cmd[0]!, fixed: [], defaults: cmd.slice(1) };
  throw new PilotError(
    'PILOT_FLAKE_INVALID',
    `target_app_path is "/" but image ${images.top.id} has neither Entrypoint nor Cmd`,
    { hint: 'set container.target_app_path to the program inside the image', exitCode: 125 },
  );
}

export function resolveCommand(
  target: string,
  images: PlanImages,
  callerArgs: readonly string[],
  entrypointOverride?: readonly string[],
): { program: string; args: string[] } {
  const parts = commandParts(target, images, entrypointOverride);
  return {
    program: parts.program,
    args: [...parts.fixed, ...(callerArgs.length > 0 ? callerArgs : parts.defaults)],
  };
}

/** The helper's environment words (docs/plan.md, "Environment"). */
export function envOptions(
  images: PlanImages,
  flakeEnv: readonly PlanEnv[],
  identity?: PlanIdentity,
): string[] {
  const words: string[] = [];
  for (const [key, value] of mergedImageEnv(images)) words.push('--image-env', `${key}=${value}`);
  for (const [key, value] of Object.entries(identity?.env ?? {})) {
    words.push('--setenv', `${key}=${value}`);
  }
  for (const entry of flakeEnv) {
    if ('pass' in entry) words.push('--pass-env', entry.pass);
    else words.push('--setenv', `${entry.set}=${entry.value}`);
  }
  return words;
}

/** Isolation and identity words, in the order docs/plan.md lists them. */
export function isolationOptions(isolation: PlanIsolation = {}, identity?: PlanIdentity): string[] {
  const words: string[] = [];
  if (isolation.upperSize !== undefined) words.push('--upper-size', String(isolation.upperSize));
  if (isolation.readOnly) words.push('--read-only');
  if (isolation.networkNone) words.push('--net-none');
  if (isolation.hostname !== undefined) words.push('--hostname', isolation.hostname);
  if (isolation.capDrop?.length) words.push('--cap-drop', isolation.capDrop.join(','));
  if (isolation.capAdd?.length) words.push('--cap-add', isolation.capAdd.join(','));
  if (isolation.noNewPrivileges) words.push('--no-new-privs');
  if (identity) {
    words.push('--uid', String(identity.uid), '--gid', String(identity.gid));
    words.push(
      '--groups',
      (identity.groups.length > 0 ? identity.groups : [identity.gid]).join(','),
    );
  }
  return words;
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
  for (const file of overrides.sessionFiles ?? []) {
    binds.push({ kind: 'bind-ro', source: file.source, target: file.target });
  }
  const runtimeDir = `/run/user/${identity?.uid ?? caller.uid}`;
  binds.push({ kind: 'try-rbind', source: runtimeDir, target: runtimeDir });

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

/** One bind as helper words. */
function bindWords(bind: PlanBind): string[] {
  if (bind.kind === 'volume') return ['--volume', bind.source, bind.target, bind.extra ?? 'rw'];
  if (bind.kind === 'tmpfs') return ['--tmpfs', bind.target, bind.extra ?? ''];
  return [`--${bind.kind}`, bind.source, bind.target];
}

/**
 * The exec helper options that hold for every call of this plan, in two parts:
 * `head` goes before the per-call binds (HOME, cwd), `tail` after them, so that
 * a volume or host file inside HOME is mounted over HOME, not hidden by it.
 */
export function staticHelperOptions(plan: LaunchPlan): { head: string[]; tail: string[] } {
  const head = ['--mnt', plan.mnt];
  const c = plan.composition;
  if (c.kind === 'kept-root') head.push('--root', c.root, '--root-mutable');
  else head.push('--lowerdir-base', plan.lowerdirBase, '--lowerdir', plan.lowerdirs.join(':'));
  if (c.kind === 'persistent-upper') head.push('--upper', c.upper, '--work', c.work);
  if (plan.userns) head.push('--userns');
  head.push(...plan.isolation, ...plan.envOptions);
  const tail: string[] = [];
  for (const bind of plan.binds) {
    if (!bind.perCall) (bind.late ? tail : head).push(...bindWords(bind));
  }
  return { head, tail };
}

/** The exec helper's command line for this call (everything, including `-- program args`). */
export function helperArgv(plan: LaunchPlan, debug = false): string[] {
  const { head, tail } = staticHelperOptions(plan);
  const argv = [...head];
  let cwdBound = false;
  for (const bind of plan.binds) {
    if (!bind.perCall) continue;
    if (bind.kind === 'rbind-cwd') {
      argv.push('--rbind-cwd', bind.target);
      cwdBound = true;
    } else {
      argv.push(...bindWords(bind));
    }
  }
  argv.push(...tail);
  // --rbind-cwd works in the directory it binds.
  if (!cwdBound) argv.push('--cwd', plan.cwd);
  if (debug) argv.push('--debug');
  argv.push('--', plan.program, ...plan.args);
  return argv;
}
