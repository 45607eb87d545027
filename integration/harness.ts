/**
 * Test roots for the integration suite: each test file gets its own PILOT_ROOT
 * in a temp dir, loads the example images and runs real apps through their links.
 */
import { type ChildProcess, type SpawnSyncOptions, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
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

export class TestRoot {
  readonly dir: string;

  constructor(tag = 'it') {
    this.dir = mkdtempSync(join(tmpdir(), `pilot-${tag}-`));
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

  /** The host path of a registered app's link under this root. */
  link(appPath: string): string {
    return join(this.dir, appPath);
  }

  run(
    appPath: string,
    args: string[] = [],
    options: {
      input?: string;
      cwd?: string;
      env?: NodeJS.ProcessEnv;
      uid?: number;
      gid?: number;
    } = {},
  ): Result {
    const { env, ...rest } = options;
    return result(
      spawnSync(this.link(appPath), args, { env: this.env(env), timeout: 60_000, ...rest }),
    );
  }

  start(
    appPath: string,
    args: string[] = [],
    options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
  ) {
    return spawn(this.link(appPath), args, {
      env: this.env(options.env),
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
