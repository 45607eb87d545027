/**
 * What `pilot doctor` learns from the host, behind one interface so that tests can
 * present another host: files under /proc, programs in PATH and what they answer, file
 * systems and their free space.
 */
import { accessSync, constants, lstatSync, readFileSync, statfsSync, statSync } from 'node:fs';
import { release } from 'node:os';
import { delimiter, join } from 'node:path';
import { runToolSync } from '../core/tool.js';
import { ToolError } from '../core/tool-error.js';

export interface CommandResult {
  /** null when the command could not be started (not installed). */
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Everything doctor learns from the host, so tests can present another host. */
export interface DoctorHost {
  uid: number;
  kernelRelease: string;
  readText(path: string): string | undefined;
  exists(path: string): boolean;
  run(command: string, args: string[]): CommandResult;
  /** Absolute path of an executable in PATH, or undefined. */
  which(command: string): string | undefined;
  /** The device of the file system holding `path`, or undefined when it cannot be told. */
  deviceOf(path: string): number | undefined;
  /** Bytes free for this user on the file system holding `path` (throws as statfs does). */
  freeBytes(path: string): number;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

export function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

export function systemHost(env: NodeJS.ProcessEnv = process.env): DoctorHost {
  return {
    uid: process.getuid?.() ?? 0,
    kernelRelease: release(),
    readText,
    exists: (path) => {
      try {
        lstatSync(path);
        return true;
      } catch {
        return false;
      }
    },
    run: (command, args) => {
      // A probe: any exit status is its answer; one that did not run or end answers null.
      try {
        const r = runToolSync([command, ...args], { timeout: 10_000, okExitCodes: 'any' });
        return { code: r.exitCode, stdout: r.stdout, stderr: r.stderr };
      } catch (error) {
        if (error instanceof ToolError) return { code: null, stdout: '', stderr: error.stderr };
        throw error;
      }
    },
    deviceOf: (path) => {
      try {
        return statSync(path).dev;
      } catch {
        return undefined;
      }
    },
    freeBytes: (path) => {
      const stats = statfsSync(path);
      return stats.bavail * stats.bsize;
    },
    which: (command) =>
      (env.PATH ?? '')
        .split(delimiter)
        .filter((dir) => dir !== '')
        .map((dir) => join(dir, command))
        .find(isExecutable),
  };
}

/** A numeric sysctl (`user.max_user_namespaces`), or undefined when the host has none. */
export function sysctl(host: DoctorHost, name: string): number | undefined {
  const text = host.readText(`/proc/sys/${name.replace(/\./g, '/')}`);
  if (text === undefined) return undefined;
  const value = Number.parseInt(text.trim(), 10);
  return Number.isNaN(value) ? undefined : value;
}
