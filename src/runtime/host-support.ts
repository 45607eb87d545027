/**
 * Which flake settings this host can honour, probed the way the launch does them: a
 * network and a UTS namespace of the app's own, capability sets, no_new_privs, for root
 * callers and (through a user namespace) for unprivileged ones. Read-only: each probe is
 * a throwaway process. `pilot doctor` and `pilot show` report it.
 */
import { readFileSync } from 'node:fs';
import { runToolSync } from '../core/tool.js';
import { ToolError } from '../core/tool-error.js';

export interface Support {
  setting: string;
  ok: boolean;
  detail: string;
}

export type Runner = (command: string, args: string[]) => { code: number | null; stderr: string };

export function systemRunner(
  command: string,
  args: string[],
): { code: number | null; stderr: string } {
  // A probe: any exit status is its answer; one that did not run or end answers null.
  try {
    const r = runToolSync([command, ...args], { timeout: 10_000, okExitCodes: 'any' });
    return { code: r.exitCode, stderr: r.stderr };
  } catch (error) {
    if (error instanceof ToolError) return { code: null, stderr: error.stderr };
    throw error;
  }
}

function probe(run: Runner, args: string[]): string | undefined {
  const r = run('unshare', args);
  if (r.code === 0) return undefined;
  return r.code === null ? 'unshare(1) is not installed' : r.stderr.trim() || `exit ${r.code}`;
}

function readSystemText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * What each supported setting needs, probed for a caller with `uid`; `run` and
 * `readText` are the host's (tests present another one).
 */
export function hostSupport(
  uid: number,
  run: Runner = systemRunner,
  readText: (path: string) => string | undefined = readSystemText,
): Support[] {
  // An unprivileged caller's app gets its namespaces inside a user namespace of its own.
  const asCaller = uid === 0 ? [] : ['--user', '--map-root-user'];
  const result: Support[] = [];
  const add = (setting: string, failure: string | undefined, ok: string) =>
    result.push({ setting, ok: failure === undefined, detail: failure ?? ok });
  add(
    '--network none',
    probe(run, [...asCaller, '--net', 'true']),
    'a network namespace with only loopback',
  );
  add('--hostname', probe(run, [...asCaller, '--uts', 'true']), 'a UTS namespace of its own');
  const lastCap = readText('/proc/sys/kernel/cap_last_cap')?.trim();
  add(
    '--cap-drop/--cap-add',
    lastCap === undefined ? 'no /proc/sys/kernel/cap_last_cap' : undefined,
    `capabilities 0-${lastCap}; never more than the caller holds${uid === 0 ? '' : ' (an unprivileged caller holds none)'}`,
  );
  const nnp = run('setpriv', ['--no-new-privs', 'true']);
  add(
    '--security-opt no-new-privileges',
    nnp.code === 0 ? undefined : nnp.stderr.trim() || 'setpriv(1) could not set it',
    'no_new_privs',
  );
  add(
    '--read-only, --tmpfs, --storage-opt size',
    probe(run, [...asCaller, '--mount', 'true']),
    'mount namespace, tmpfs and read-only mounts',
  );
  return result;
}
