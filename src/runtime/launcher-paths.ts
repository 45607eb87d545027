/**
 * Which store and run dir serve a launch: the launcher's answer depends on who calls
 * and whose flake it is (core/paths.ts has the layout itself).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathOwner, pathPresent } from '../core/fs-query.js';
import { callerRunDir, type PilotPaths, resolvePaths } from '../core/paths.js';

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

/**
 * Whether the caller owns the system store these paths name (root, or the owner of a
 * `PILOT_ROOT`): its plans then go into the store (`<store>/plans`), which a reboot
 * keeps and which every caller's stub reads (docs/plan.md, "Where the plan is").
 */
export function ownsStore(paths: PilotPaths): boolean {
  return paths.system && paths.run === join(paths.root === '' ? '/' : paths.root, 'run/pilot');
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
