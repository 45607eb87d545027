/**
 * A launch plan as the exec helper's command line (docs/plan.md): the environment and
 * isolation words, the binds in the order they must be mounted, and `-- program args`.
 * The fast path caches the words that hold for every call (staticHelperOptions). Pure.
 */
import { mergedImageEnv } from './image-settings.js';
import type {
  LaunchPlan,
  PlanBind,
  PlanEnv,
  PlanIdentity,
  PlanImages,
  PlanIsolation,
} from './launch-plan.js';

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

/** One bind as helper words. */
function bindWords(bind: PlanBind): string[] {
  if (bind.kind === 'volume') return ['--volume', bind.source, bind.target, bind.extra ?? 'rw'];
  if (bind.kind === 'tmpfs') return ['--tmpfs', bind.target, bind.extra ?? ''];
  return [`--${bind.kind}`, bind.source, bind.target];
}

/**
 * The exec helper options that hold for every caller and call of this plan, in two
 * parts: `head` goes before the caller's and the call's binds (account files, HOME, cwd),
 * `tail` after them, so that a volume or host file inside HOME is mounted over HOME, not
 * hidden by it. What differs per caller (`callerHelperOptions`) is not in it: the stub
 * works that out itself (docs/plan.md, "The command line the stub builds").
 */
export function staticHelperOptions(plan: LaunchPlan): { head: string[]; tail: string[] } {
  const head: string[] = [];
  const c = plan.composition;
  if (c.kind === 'kept-root') head.push('--root', c.root, '--root-mutable');
  else head.push('--lowerdir-base', plan.lowerdirBase, '--lowerdir', plan.lowerdirs.join(':'));
  if (c.kind === 'persistent-upper') head.push('--upper', c.upper, '--work', c.work);
  head.push(...plan.isolation, ...plan.envOptions);
  const tail: string[] = [];
  for (const bind of plan.binds) {
    if (!bind.perCall && !bind.perCaller) (bind.late ? tail : head).push(...bindWords(bind));
  }
  return { head, tail };
}

/**
 * The words that depend on the caller alone: its run dir's mount point, its user
 * namespace, and (when the app runs as the caller) its account files and runtime dir.
 */
export function callerHelperOptions(plan: LaunchPlan): { first: string[]; binds: string[] } {
  const first = ['--mnt', plan.mnt];
  if (plan.userns) first.push('--userns');
  const binds = plan.binds.filter((b) => b.perCaller).flatMap(bindWords);
  return { first, binds };
}

/** The exec helper's command line for this call (everything, including `-- program args`). */
export function helperArgv(plan: LaunchPlan, debug = false): string[] {
  const { head, tail } = staticHelperOptions(plan);
  const caller = callerHelperOptions(plan);
  const argv = [...caller.first, ...head, ...caller.binds];
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
