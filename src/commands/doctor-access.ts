/**
 * `pilot doctor`'s check that other users can run the registered apps: a system store
 * (root's, or a PILOT_ROOT) serves every local user, so its flakes, store and the
 * launcher must be readable and searchable by them. Since pilot sets its own modes
 * (core/modes.ts), a path that fails here was made private by hand or by an earlier pilot
 * under a strict umask (027, 077). Read-only: it stats, lists directories and parses
 * regular flake files, and never opens anything else.
 */
import { readdirSync, type Stats, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { errnoOf } from '../core/errors.js';
import { escapeName } from '../core/excerpt.js';
import { loadFlake } from '../core/flake-file.js';
import { hostPath, type PilotPaths, storeDirs } from '../core/paths.js';
import type { DoctorCheck } from './doctor-check.js';

/** What others need: `r` read a file, `x` search a dir or run a file, `rx` list a dir. */
type Need = 'r' | 'x' | 'rx';

export interface AccessProblem {
  path: string;
  need: Need;
  /** Why others need it, for the detail: "flake file", "store", … */
  what: string;
}

const BITS: Record<Need, number> = { r: 0o004, x: 0o001, rx: 0o005 };

function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch (error) {
    // Missing: not made yet. Not searchable for us: its parent is reported already.
    const code = errnoOf(error);
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EACCES') return undefined;
    throw error;
  }
}

function namesIn(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

class AccessAudit {
  /** Per path, the access others lack and why they need it (a dir listed and searched once). */
  private readonly missing = new Map<string, { bits: number; what: string }>();
  private readonly searched = new Set<string>();

  /** `path` needs `need` for others; so does every directory above it need search. */
  need(path: string, need: Need, what: string): Stats | undefined {
    const dirs: string[] = [];
    for (let dir = dirname(path); !this.searched.has(dir); dir = dirname(dir)) {
      dirs.unshift(dir);
      this.searched.add(dir);
      if (dirname(dir) === dir) break;
    }
    for (const dir of dirs) this.check(dir, 'x', `directory above ${path}`);
    return this.check(path, need, what);
  }

  private check(path: string, need: Need, what: string): Stats | undefined {
    const stat = statOrUndefined(path);
    const lacking = stat === undefined ? 0 : BITS[need] & ~stat.mode;
    if (lacking !== 0) {
      const known = this.missing.get(path);
      this.missing.set(path, { bits: (known?.bits ?? 0) | lacking, what: known?.what ?? what });
    }
    return stat;
  }

  get problems(): AccessProblem[] {
    return [...this.missing].map(([path, { bits, what }]) => ({
      path,
      need: bits === 0o005 ? 'rx' : bits === 0o004 ? 'r' : 'x',
      what,
    }));
  }
}

/** The flakes dir, every flake and drop-in, and each app link's directory. */
function auditFlakes(audit: AccessAudit, paths: PilotPaths): void {
  if (!audit.need(paths.flakes, 'rx', 'flakes directory')) return;
  for (const name of namesIn(paths.flakes)) {
    if (name.startsWith('.')) continue;
    const path = join(paths.flakes, name);
    if (name.endsWith('.yaml')) {
      const stat = audit.need(path, 'r', 'flake file');
      if (stat?.isFile()) auditAppLink(audit, paths, name.slice(0, -'.yaml'.length));
    } else if (name.endsWith('.d') && audit.need(path, 'rx', 'drop-in directory')?.isDirectory()) {
      for (const dropIn of namesIn(path)) {
        if (!dropIn.startsWith('.')) audit.need(join(path, dropIn), 'r', 'drop-in file');
      }
    }
  }
}

function auditAppLink(audit: AccessAudit, paths: PilotPaths, app: string): void {
  // Only regular files are read: doctor must not hang on a FIFO put there.
  const dropIns = join(paths.flakes, `${app}.d`);
  if (namesIn(dropIns).some((name) => !statOrUndefined(join(dropIns, name))?.isFile())) return;
  let appPath: string | undefined;
  try {
    appPath = loadFlake(paths.flakes, app).flake.container.host_app_path;
  } catch {
    return; // a broken flake is "pilot list"'s to report
  }
  if (appPath !== undefined)
    audit.need(dirname(hostPath(paths, appPath)), 'x', 'app link directory');
}

/** What a launch of another user reads in the store (private tmp/ and host layers aside). */
function auditStore(audit: AccessAudit, paths: PilotPaths): void {
  if (!audit.need(paths.store, 'x', 'store')) return;
  audit.need(join(paths.store, 'format'), 'r', 'store format file');
  for (const dir of [storeDirs.images(paths), storeDirs.refs(paths)]) {
    if (!audit.need(dir, 'rx', 'store directory')) continue;
    for (const name of namesIn(dir)) {
      if (!name.startsWith('.')) audit.need(join(dir, name), 'r', 'image record or name');
    }
  }
  if (audit.need(storeDirs.layers(paths), 'rx', 'store directory')) {
    for (const name of namesIn(storeDirs.layers(paths))) {
      // A launch reads a layer's tree and its record; its manifest is for pilot verify.
      const path = join(storeDirs.layers(paths), name);
      if (/^[a-f0-9]{64}$/.test(name)) audit.need(path, 'rx', 'layer');
      else if (/^[a-f0-9]{64}\.json$/.test(name)) audit.need(path, 'r', 'layer');
    }
  }
  audit.need(storeDirs.aliases(paths), 'rx', 'store directory');
  // host/<key> are private (0700) by design when they hold a file not everyone may read.
  audit.need(storeDirs.hostLayers(paths), 'x', 'store directory');
  const includes = join(paths.store, 'includes');
  if (audit.need(includes, 'rx', 'store directory')) {
    for (const name of namesIn(includes)) {
      if (/^[a-f0-9]{64}$/.test(name))
        audit.need(join(includes, name), 'rx', 'include.tar extraction');
    }
  }
}

/** Paths that keep other users from running this store's apps; empty for a user's own store. */
export function accessProblems(
  paths: PilotPaths,
  launcher: string,
  helper: string,
): AccessProblem[] {
  if (!paths.system) return [];
  const audit = new AccessAudit();
  // An app link points at the exec helper, which runs the Node launcher when it has no plan.
  audit.need(helper, 'x', 'exec helper');
  audit.need(launcher, 'r', 'launcher');
  auditFlakes(audit, paths);
  auditStore(audit, paths);
  return audit.problems;
}

/** Paths named in a detail or a fix; the rest are counted. */
const SHOWN = 10;

/** `chmod o+r FILE…; chmod o+x DIR…`: one command per kind of access missing. */
export function accessFix(problems: readonly AccessProblem[]): string {
  const byNeed = new Map<Need, string[]>();
  for (const p of problems) byNeed.set(p.need, [...(byNeed.get(p.need) ?? []), p.path]);
  return [...byNeed]
    .map(([need, list]) => {
      const more = list.length > SHOWN ? ` (and ${list.length - SHOWN} more)` : '';
      return `chmod o+${need} ${list.slice(0, SHOWN).map(shellWord).join(' ')}${more}`;
    })
    .join('; ');
}

function shellWord(path: string): string {
  const shown = escapeName(path);
  return /^[\w@%+=:,./-]+$/.test(shown) ? shown : `'${shown.replace(/'/g, `'\\''`)}'`;
}

/** The doctor check: warns, naming each path and the chmod that opens it. */
export function checkAccessForOthers(
  paths: PilotPaths,
  launcher: string,
  helper: string,
): DoctorCheck {
  const problems = accessProblems(paths, launcher, helper);
  const name = 'apps for other users';
  if (problems.length === 0) {
    return {
      check: name,
      status: 'ok',
      required: false,
      detail: paths.system
        ? 'other users can run the launcher and read the flakes and the store'
        : `${paths.store} is this user's own store: its apps are this user's`,
      fix: null,
    };
  }
  const listed = problems
    .slice(0, SHOWN)
    .map((p) => `${escapeName(p.path)} (${p.what}: needs o+${p.need})`)
    .join(', ');
  const more = problems.length > SHOWN ? `, and ${problems.length - SHOWN} more` : '';
  return {
    check: name,
    status: 'warn',
    required: false,
    detail: `other users cannot run the registered apps: ${listed}${more}`,
    fix: `${accessFix(problems)} (pilot makes these modes itself whatever the umask; these were made private by hand or by an earlier pilot under a strict umask)`,
  };
}
