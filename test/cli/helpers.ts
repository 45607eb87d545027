/**
 * The CLI tests run pilot the way a user gets it: `make install` into a temp DESTDIR,
 * then the installed bin/pilot. Each file installs its own copy, so a rebuild of dist/
 * by another test file (or another developer) cannot change the binary under a test.
 */
import { execFileSync, type SpawnSyncOptions, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeImage, ociFiles, simpleLayer, tarOf } from '../store/helpers.js';

export const repo = join(dirname(fileURLToPath(import.meta.url)), '../..');

export interface Installed {
  destdir: string;
  prefix: string;
  /** DESTDIR/PREFIX/bin/pilot */
  bin: string;
  cleanup(): void;
}

/** Serialises `make` across parallel test files: two builds must not write dist/ at once. */
const makeLock = join(
  tmpdir(),
  `pilot-make-${createHash('sha256').update(repo).digest('hex').slice(0, 12)}.lock`,
);

export function make(args: string[]): string {
  return execFileSync('flock', [makeLock, 'make', '--no-print-directory', ...args], {
    cwd: repo,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

export function installPilot(prefix = '/usr'): Installed {
  const destdir = mkdtempSync(join(tmpdir(), 'pilot-destdir-'));
  make(['install', `PREFIX=${prefix}`, `DESTDIR=${destdir}`]);
  return {
    destdir,
    prefix,
    bin: join(destdir, prefix, 'bin/pilot'),
    cleanup: () => rmSync(destdir, { recursive: true, force: true }),
  };
}

export interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a program outside the repo (cwd = tmp), so no package.json near it helps. */
export function run(
  command: string,
  args: string[],
  options: SpawnSyncOptions & { env?: NodeJS.ProcessEnv } = {},
): Result {
  const r = spawnSync(command, args, {
    cwd: tmpdir(),
    encoding: 'utf8',
    timeout: 60_000,
    ...options,
    env: { ...process.env, NO_COLOR: undefined, ...options.env },
  });
  if (r.error) throw r.error;
  return { code: r.status, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** A one-layer oci-archive with usr/bin/<tag>, named `ref`. */
export function writeTestArchive(dir: string, tag: string, ref: string): string {
  const image = makeImage([simpleLayer(tag)]);
  const file = join(dir, `${tag}.oci.tar`);
  writeFileSync(file, tarOf(ociFiles([{ image, refName: ref }])));
  return file;
}
