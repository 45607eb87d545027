/**
 * The plan the warm-path stub (pilot/exec/stub.c) runs without Node: the static
 * part of the exec helper's command line plus stamps of every input, so that the
 * stub can tell the plan is still right with a few lstat calls (host files by their
 * directories where that is enough: host-stamps.ts). The format is
 * docs/plan.md's; stub.c reads it, and integration/plan-spec.test.ts checks both agree.
 */
import {
  chmodSync,
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../core/atomic-fs.js';
import { joinNul, splitNul } from '../core/bytes.js';
import { PilotError } from '../core/errors.js';
import { dirIdentity, fileIdentity } from '../core/file-identity.js';
import { listDir } from '../core/list-dir.js';
import { makeDirs } from '../core/modes.js';
import { type LaunchPlan, staticHelperOptions } from './launch-plan.js';

export const PLAN_MAGIC = ['pilot-plan', '2'];

/** How many words follow each record's keyword (docs/plan.md, "The plan file"). */
const RECORD_WORDS: Readonly<Record<string, number>> = {
  stamp: 2,
  dirstamp: 2,
  mountdev: 2,
  envdep: 2,
  pidfile: 1,
  callers: 1,
  accounts: 2,
  cover: 1,
  homebind: 1,
  opt: 1,
  late: 1,
  workdir: 1,
  program: 1,
  fixed: 1,
  default: 1,
};

/**
 * A plan's records (keyword first), read as docs/plan.md says and plan.c does: the magic
 * words, then whole records. Anything else is why the stub would decline the plan: a last
 * word without its NUL (cut short), an unknown keyword, a record the file ends inside (the
 * end of the file is never the end of a record), an unknown homebind, no `program`.
 */
export function readPlanRecords(data: Buffer): { records: string[][] } | { invalid: string } {
  if (data.length === 0 || data[data.length - 1] !== 0) return { invalid: 'truncated plan' };
  const words = splitNul(data);
  if (words[0] !== PLAN_MAGIC[0] || words[1] !== PLAN_MAGIC[1]) {
    return { invalid: 'unknown plan format' };
  }
  const records: string[][] = [];
  for (let i = 2; i < words.length; ) {
    const keyword = words[i]!;
    if (!Object.hasOwn(RECORD_WORDS, keyword)) {
      return { invalid: `unknown plan record: ${keyword}` };
    }
    const end = i + 1 + RECORD_WORDS[keyword]!;
    if (end > words.length) return { invalid: `truncated plan: ${keyword}` };
    if (keyword === 'homebind' && words[i + 1] !== 'caller' && words[i + 1] !== 'no') {
      return { invalid: `unknown homebind: ${words[i + 1]}` };
    }
    if (keyword === 'callers' && !/^(all|\d+)$/.test(words[i + 1]!)) {
      return { invalid: `unknown callers: ${words[i + 1]}` };
    }
    records.push(words.slice(i, end));
    i = end;
  }
  if (!records.some(([keyword]) => keyword === 'program')) {
    return { invalid: 'plan has no program' };
  }
  if (!records.some(([keyword]) => keyword === 'callers')) {
    return { invalid: 'plan has no callers' };
  }
  return { records };
}

/** A plan's stamp of `path`: its identity (core/file-identity.ts), as stub.c computes it. */
export function stampOf(path: string): string {
  return fileIdentity(path);
}

/**
 * The device of a mount point's root: a kept instance's root is valid while the same
 * mount is there (its mtime changes with every mount point created in it, its device
 * with every remount, and after an unmount it is the parent's).
 */
export function mountDevOf(path: string): string {
  try {
    return String(lstatSync(path, { bigint: true }).dev);
  } catch {
    return '-';
  }
}

/** `<dir>/plans/<app>.u<uid>.plan`: DIR is a run dir, or the store for its owner's plans. */
export function planFile(run: string, app: string, uid: number): string {
  return join(run, 'plans', `${app}.u${uid}.plan`);
}

export interface PlanInputs {
  /** Paths whose state the plan depends on. */
  stamped: readonly string[];
  /**
   * Host files (host-stamps.ts): directories stamped as a whole with their identity at
   * the scan, and the files that need a stamp of their own (with the scan's identity,
   * or undefined to take it now).
   */
  host?: {
    dirs: ReadonlyMap<string, string>;
    files: ReadonlyMap<string, string | undefined>;
  };
  /** Caller variables the plan used (`%NAME` placeholders), with their values then. */
  envdeps?: ReadonlyMap<string, string | undefined>;
  /** A kept instance: its pids dir (the stub records each call there). */
  pidsDir?: string | undefined;
  /** A kept instance's mounted root: valid while it is the same mount. */
  mounts?: readonly string[] | undefined;
  /** Who may take the plan: every caller, or one uid (docs/plan.md, `callers`). */
  callers: 'all' | number;
  /** The app runs as its caller: the image's account files, for the stub to add the
   * caller's entry to (undefined: the plan binds another identity's itself). */
  accounts?: { passwd: string; group: string } | undefined;
}

/** The plan's words (docs/plan.md, "The plan file"). */
export function fastPlanWords(plan: LaunchPlan, inputs: PlanInputs): string[] {
  const words = [...PLAN_MAGIC];
  const stamped = new Set(inputs.stamped);
  for (const path of stamped) words.push('stamp', path, stampOf(path));
  for (const [path, value] of inputs.host?.files ?? []) {
    if (!stamped.has(path)) words.push('stamp', path, value ?? stampOf(path));
  }
  for (const [dir, value] of inputs.host?.dirs ?? []) words.push('dirstamp', dir, value);
  for (const path of inputs.mounts ?? []) words.push('mountdev', path, mountDevOf(path));
  for (const [name, value] of inputs.envdeps ?? []) {
    words.push('envdep', name, value === undefined ? '-' : `=${value}`);
  }
  // A kept instance: the stub records the call as `<pidsDir>/<pid>` (ps, stop).
  if (inputs.pidsDir) words.push('pidfile', inputs.pidsDir);
  words.push('callers', String(inputs.callers));
  if (inputs.accounts) words.push('accounts', inputs.accounts.passwd, inputs.accounts.group);
  for (const prefix of plan.covered) words.push('cover', prefix);
  words.push('homebind', plan.homeBind ? 'caller' : 'no');
  const { head, tail } = staticHelperOptions(plan);
  // The stub puts HOME/cwd binds between head and tail; tail words are marked `late`.
  for (const word of head) words.push('opt', word);
  for (const word of tail) words.push('late', word);
  if (plan.workdir) words.push('workdir', plan.workdir);
  words.push('program', plan.command.program);
  for (const arg of plan.command.fixed) words.push('fixed', arg);
  for (const arg of plan.command.defaults) words.push('default', arg);
  return words;
}

export function writeFastPlan(
  run: string,
  app: string,
  uid: number,
  words: readonly string[],
): string {
  const file = planFile(run, app, uid);
  const dir = join(run, 'plans');
  makeDirs(dir);
  // Only its writer may write here (an earlier pilot made it world-writable, 1777):
  // a caller who does not own the store has a run dir of its own (launcher-paths.ts).
  const stat = statSync(dir);
  if (stat.uid !== process.geteuid?.()) {
    throw new PilotError(
      'PILOT_NEEDS_PRIVILEGE',
      `${dir} belongs to uid ${stat.uid}, not to this caller`,
    );
  }
  if ((stat.mode & 0o7777) !== 0o755) chmodSync(dir, 0o755);
  // Words are bytes (core/bytes.ts): a caller's value in an envdep or a flake value
  // expanded from one need not be UTF-8.
  const bytes = joinNul(words);
  // A launch that the stub handed over (an `@NAME` or `%` call, PILOT_FASTPATH=off)
  // mostly plans what the file already says: leave it, and skip a temp file, two fsyncs
  // and a rename on every such call.
  if (!holdsPlan(file, bytes)) writeFileAtomic(file, bytes, 0o644);
  return file;
}

/** `file` is this caller's plan as writeFileAtomic leaves it (0644, a regular file) with `bytes`. */
function holdsPlan(file: string, bytes: Buffer): boolean {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return false;
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile() || stat.uid !== process.geteuid?.() || (stat.mode & 0o7777) !== 0o644)
      return false;
    if (stat.size !== bytes.length) return false;
    return readFileSync(fd).equals(bytes);
  } catch {
    return false;
  } finally {
    closeSync(fd);
  }
}

export interface CachedPlan {
  app: string;
  uid: number;
  file: string;
  /** First input that changed since the plan was made, or undefined when it is fresh. */
  stale: string | undefined;
  since: string;
  /** Store-relative lower dirs the plan uses (host layers among them), for gc. */
  lowers: string[];
  /** Generated account files (`<run>/session/…`) the plan binds, for gc. */
  sessionFiles: string[];
}

/** Every plan in the run dir with whether the stub would still take it. */
export function listPlans(run: string): CachedPlan[] {
  const dir = join(run, 'plans');
  const plans: CachedPlan[] = [];
  for (const entry of listDir(dir)) {
    const match = /^(.+)\.u(\d+)\.plan$/.exec(entry);
    if (!match) continue;
    const file = join(dir, entry);
    let read: ReturnType<typeof readPlanRecords>;
    let since: string;
    try {
      read = readPlanRecords(readFileSync(file));
      since = statSync(file).mtime.toISOString();
    } catch {
      continue;
    }
    // A plan the stub would decline is stale whatever its stamps say.
    let stale = 'invalid' in read ? `the plan itself (${read.invalid})` : undefined;
    const lowers: string[] = [];
    const sessionFiles: string[] = [];
    const sessionDir = `${join(run, 'session')}/`;
    const records = 'records' in read ? read.records : [];
    for (let k = 0; k < records.length; k++) {
      const [keyword, first = '', second] = records[k]!;
      if (keyword === 'stamp' || keyword === 'dirstamp' || keyword === 'mountdev') {
        const now =
          keyword === 'stamp'
            ? stampOf(first)
            : keyword === 'dirstamp'
              ? dirIdentity(first)
              : mountDevOf(first);
        if (stale === undefined && now !== second) stale = first;
      } else if (keyword === 'opt' && first === '--lowerdir' && records[k + 1]?.[0] === 'opt') {
        lowers.push(...records[k + 1]![1]!.split(':'));
      } else if ((keyword === 'opt' || keyword === 'late') && first.startsWith(sessionDir)) {
        sessionFiles.push(first);
      }
    }
    plans.push({ app: match[1]!, uid: Number(match[2]), file, stale, since, lowers, sessionFiles });
  }
  return plans.sort((a, b) => a.app.localeCompare(b.app) || a.uid - b.uid);
}

/** Drops the plans of one app (all callers), e.g. when it is removed or registered again. */
export function dropPlans(run: string, app: string): void {
  for (const plan of listPlans(run)) if (plan.app === app) rmSync(plan.file, { force: true });
}

/** The store's plans and the run dir's: where `ps`, `doctor` and `gc` look. */
export function listAllPlans(paths: { run: string; store: string }): CachedPlan[] {
  return [...listPlans(paths.store), ...listPlans(paths.run)];
}

/** Drops an app's plans from the store and the run dir. */
export function dropAppPlans(paths: { run: string; store: string }, app: string): void {
  dropPlans(paths.store, app);
  dropPlans(paths.run, app);
}
