/**
 * Test roots for the integration suite: each test file gets its own PILOT_ROOT
 * in a temp dir, loads the example images and runs real apps through their links.
 */
import { type ChildProcess, type SpawnSyncOptions, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inject } from 'vitest';

export const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
export const examples = process.env.PILOT_EXAMPLES_OUT ?? join(repo, 'build/examples');
export const cli = join(repo, 'dist/pilot.mjs');

/** Non-empty when the suite must skip (never in CI: global setup fails there instead). */
export function skipReason(): string {
  const reason = inject('skipReason');
  // Without the global setup nothing was checked or built: never skip silently.
  if (reason === undefined) {
    throw new Error(
      'integration tests must run with --config integration/vitest.config.ts (make integration)',
    );
  }
  return reason;
}

export interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function result(r: ReturnType<typeof spawnSync>): Result {
  return {
    code: r.status,
    signal: r.signal,
    stdout: r.stdout?.toString() ?? '',
    stderr: r.stderr?.toString() ?? '',
  };
}

/**
 * Which launch path `run` and `start` take: `auto` as a user would get it; `node` always
 * the Node launcher (PILOT_FASTPATH=off); `fast` the stub, required (docs/plan.md): the
 * call is planned first by a dry run, then the stub must take the plan, unless the call
 * is one the stub always leaves to Node (`@…`/`%…` arguments, PILOT_DEBUG) or the
 * planning itself fails (the stub would hand it to Node as well).
 */
export type LaunchPath = 'auto' | 'fast' | 'node';

/** The suites that run twice, once per path, and must give the same results. */
export const BOTH_PATHS: LaunchPath[] = ['fast', 'node'];

interface RunOptions {
  input?: string;
  cwd?: string;
  /** The call starts in `cwd`, made and removed just before it (sh: mkdir, cd, rmdir, exec). */
  deleteCwd?: boolean;
  env?: NodeJS.ProcessEnv;
  uid?: number;
  gid?: number;
}

export class TestRoot {
  readonly dir: string;

  constructor(
    tag = 'it',
    readonly path: LaunchPath = 'auto',
  ) {
    this.dir = mkdtempSync(join(tmpdir(), `pilot-${tag}-`));
  }

  /** The environment of one app call on this root's launch path (see LaunchPath). */
  private callEnv(appPath: string, args: string[], options: RunOptions): NodeJS.ProcessEnv {
    const env = this.env(options.env);
    // An unprivileged caller keeps its plans in its own run dir: not in this process's
    // $XDG_RUNTIME_DIR (root's), but in ~/.cache/pilot/run unless the test gives one.
    if (options.uid && options.env?.XDG_RUNTIME_DIR === undefined) delete env.XDG_RUNTIME_DIR;
    if (this.path === 'node') return { ...env, PILOT_FASTPATH: 'off' };
    if (this.path === 'auto' || options.env?.PILOT_FASTPATH !== undefined) return env;
    if (env.PILOT_DEBUG || args.some((a) => a.startsWith('@') || a.startsWith('%'))) return env;
    const { env: _env, input: _input, deleteCwd, ...rest } = options;
    // A plan does not depend on the cwd: a deleted one is primed from where we are.
    if (deleteCwd) delete rest.cwd;
    const prime = spawnSync(this.link(appPath), args, {
      ...rest,
      env: { ...env, PILOT_FASTPATH: 'dry-run' },
      timeout: 60_000,
    });
    return prime.status === 0 ? { ...env, PILOT_FASTPATH: 'require' } : env;
  }

  env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    return { ...process.env, PILOT_ROOT: this.dir, ...extra };
  }

  pilot(args: string[], options: SpawnSyncOptions = {}): Result {
    return result(
      spawnSync(process.execPath, [cli, ...args], {
        env: this.env(),
        timeout: 120_000,
        ...options,
      }),
    );
  }

  /** Runs pilot and fails the test with its output unless it exits 0. */
  ok(args: string[]): Result {
    const r = this.pilot(args);
    if (r.code !== 0)
      throw new Error(`pilot ${args.join(' ')} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
    return r;
  }

  load(...names: string[]): void {
    for (const name of names) this.ok(['load', join(examples, `${name}.tar`), '--quiet']);
  }

  /** Builds WORK/NAME.tar from layer dirs (localhost/test/NAME:latest) and loads it. */
  loadLayers(work: string, name: string, layerDirs: string[]): void {
    buildArchive(join(work, `${name}.tar`), `localhost/test/${name}:latest`, {}, layerDirs);
    this.ok(['load', join(work, `${name}.tar`), '--quiet']);
  }

  /** The host path of a registered app's link under this root. */
  link(appPath: string): string {
    return join(this.dir, appPath);
  }

  run(appPath: string, args: string[] = [], options: RunOptions = {}): Result {
    const { env: _env, deleteCwd, ...rest } = options;
    const env = this.callEnv(appPath, args, options);
    if (deleteCwd) {
      // Node cannot start a child in a deleted directory: a shell removes it, then execs.
      const { cwd, ...others } = rest;
      if (!cwd) throw new Error('deleteCwd needs a cwd');
      const script = 'mkdir "$1" && cd "$1" && rmdir "$1" && shift && exec "$@"';
      return result(
        spawnSync('sh', ['-c', script, 'sh', cwd, this.link(appPath), ...args], {
          env,
          timeout: 60_000,
          ...others,
        }),
      );
    }
    return result(spawnSync(this.link(appPath), args, { env, timeout: 60_000, ...rest }));
  }

  start(
    appPath: string,
    args: string[] = [],
    options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
  ) {
    return spawn(this.link(appPath), args, {
      env: this.callEnv(appPath, args, options),
      cwd: options.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Mount points in the host's namespace whose path mentions `needle`. */
export function mountsMatching(needle: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((line) => line.includes(needle));
}

/** PARENT/NAME holding FILES (path → text, each mode 0755): a layer dir for buildArchive. */
export function layerDir(parent: string, name: string, files: Record<string, string>): string {
  const dir = join(parent, name);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text, { mode: 0o755 });
  }
  return dir;
}

/** Builds an oci-archive with examples/lib/oci.sh: layers are directories, first = lowest. */
export function buildArchive(out: string, ref: string, config: object, layerDirs: string[]): void {
  const r = spawnSync(
    'bash',
    [
      '-c',
      '. "$0"; oci_archive "$@"',
      join(repo, 'examples/lib/oci.sh'),
      out,
      ref,
      JSON.stringify(config),
      ...layerDirs,
    ],
    { env: { ...process.env, OCI_QUIET: '1' }, encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`oci_archive failed: ${r.stderr}`);
}

/** Collects a running app's stdout; `until(text)` resolves once `text` has appeared. */
export function watchOutput(child: ChildProcess): {
  readonly text: string;
  until: (needle: string) => Promise<void>;
} {
  let text = '';
  child.stdout?.on('data', (d) => {
    text += d;
  });
  return {
    get text() {
      return text;
    },
    until: (needle) =>
      new Promise<void>((resolve) => {
        const check = () => (text.includes(needle) ? resolve() : setTimeout(check, 10));
        check();
      }),
  };
}

/**
 * A host account without privileges for tests that need a name (whoami, runas): the
 * same `pilottest` the exec helper's tests use, created when missing.
 */
export function testAccount(): { name: string; uid: number; gid: number } {
  const name = 'pilottest';
  if (spawnSync('id', ['-u', name]).status !== 0) {
    const add = spawnSync('useradd', ['--create-home', name], { encoding: 'utf8' });
    if (add.status !== 0) throw new Error(`useradd ${name} failed: ${add.stderr}`);
  }
  const id = (flag: string) => Number(spawnSync('id', [flag, name], { encoding: 'utf8' }).stdout);
  return { name, uid: id('-u'), gid: id('-g') };
}
