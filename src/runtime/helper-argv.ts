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
