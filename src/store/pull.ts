/**
 * An image from podman's own storage (`podman save` as an oci-archive in the store's
 * tmp/, then loaded like any archive): what `pilot pull` does for an image podman holds
 * (src/commands/pull.ts decides when; registries are registry-pull.ts's).
 */
import { join } from 'node:path';
import { writeFileAtomic } from '../core/atomic-fs.js';
import { PilotError } from '../core/errors.js';
import { checkRefLength, normalizeRef } from '../core/image-record.js';
import { type PilotPaths, storeDirs } from '../core/paths.js';
import { diskFull, diskFullIn } from '../core/system-error.js';
import { removeTree } from '../core/temp-entries.js';
import { runTool } from '../core/tool.js';
import { stderrTail, ToolError } from '../core/tool-error.js';
import { type LoadResult, loadArchive } from './load.js';
import { validRef } from './ref-names.js';
import { makeTempDir } from './temp.js';

export interface PullOptions {
  /** A name to give the image besides REF itself. */
  name?: string | undefined;
  onProgress?: (bytesDone: number, bytesTotal: number) => void;
  onWarning?: ((message: string) => void) | undefined;
  /** The command to run (tests point it elsewhere). */
  podman?: string;
  /** Extra environment of the podman calls (migrate: flake-pilot's CONTAINERS_STORAGE_CONF). */
  podmanEnv?: Record<string, string>;
}

interface Attempt {
  command: string;
  outcome: string;
}

/** What a podman call that failed says in the list of attempts. */
function describeFailure(error: ToolError): string {
  if (error.missing) return 'not installed';
  return stderrTail(error.stderr) || error.message;
}

export async function pullImage(
  paths: PilotPaths,
  ref: string,
  options: PullOptions = {},
): Promise<LoadResult[]> {
  if (!validRef(ref)) {
    throw new PilotError('PILOT_USAGE', `"${ref}" is not a valid image reference`, {
      hint: 'use NAME[:TAG], e.g. "registry.example.com/team/app:1.0"',
    });
  }
  checkRefLength(ref);
  if (options.name !== undefined) checkRefLength(options.name);
  const podman = options.podman ?? 'podman';
  const names = [normalizeRef(ref), ...(options.name ? [normalizeRef(options.name)] : [])];
  const workDir = makeTempDir(paths, 'pull');
  const archive = join(workDir, 'image.tar');
  try {
    const env = options.podmanEnv;
    const exists = [podman, '--runtime', 'runc', 'image', 'exists', ref];
    // Why podman could not hand the image over; undefined once it has saved it.
    let failure: Attempt | undefined;
    let command = exists;
    try {
      // Exit status 1: podman does not have it (not a failure of podman).
      const check = await runTool(exists, { env, okExitCodes: [0, 1] });
      if (check.exitCode !== 0) {
        failure = {
          command: exists.join(' '),
          outcome: check.stderr.trim() || 'not in podman storage',
        };
      } else {
        const save = [
          podman,
          '--runtime',
          'runc',
          'save',
          '--format',
          'oci-archive',
          '-o',
          archive,
          ref,
        ];
        command = save;
        await runTool(save, { env });
      }
    } catch (error) {
      if (!(error instanceof ToolError)) throw error;
      failure = { command: command.join(' '), outcome: describeFailure(error) };
    }
    if (failure !== undefined) {
      // podman save ran out of space writing the archive: the disk is full, not the name
      // wrong; nothing of it reached the store but tmp/, which goes.
      const code = diskFullIn(failure.outcome);
      if (code !== undefined) {
        throw diskFull(archive, { code, doing: `cannot pull ${ref} (${failure.command})` });
      }
      throw new PilotError(
        'PILOT_PULL_FAILED',
        `cannot pull ${ref}; tried:\n  ${failure.command}: ${failure.outcome}`,
        {
          hint: 'check the name and that podman has the image ("podman images"); name a registry image in full (registry.example.com/team/app:1.0), or "pilot load" a saved archive',
        },
      );
    }
    const results = await loadArchive(paths, archive, {
      pulled: ref,
      onProgress: options.onProgress,
      onWarning: options.onWarning,
    });
    // The archive's own names come first; REF (and --name) are added as the user wrote them.
    for (const result of results) {
      for (const name of names) {
        // The archive's own name (podman save writes REF) is in place already.
        if (result.names.includes(name)) continue;
        writeFileAtomic(
          join(storeDirs.refs(paths), encodeURIComponent(name)),
          `${result.image.id}\n`,
        );
        result.names.push(name);
      }
    }
    return results;
  } finally {
    removeTree(workDir);
  }
}
