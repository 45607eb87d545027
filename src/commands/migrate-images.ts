/**
 * The images of a flake-pilot host, brought into pilot's store for `pilot migrate`.
 * flake-pilot 3.x keeps them in a podman storage of its own (CONTAINERS_STORAGE_CONF =
 * `generic.podman_storage_conf` of /etc/flakes.yml, default /etc/flakes/storage.conf,
 * graphroot /usr/share/flakes/storage); 2.x in podman's default storage. Both are
 * looked at, flake-pilot's first (it is what podman-pilot runs), through the pull path
 * (store/pull.ts), podman only: migrate never fetches from a registry.
 */
import { existsSync, readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { isPilotError, PilotError } from '../core/errors.js';
import { readRef, resolveImage } from '../core/image-record.js';
import { hostPath, type PilotPaths } from '../core/paths.js';
import { runTool } from '../core/tool.js';
import { ToolError } from '../core/tool-error.js';
import { pullImage } from '../store/pull.js';

export interface ImportedImage {
  ref: string;
  id: string;
  /** Where it came from, for the line migrate prints. */
  source: string;
  /** False when the store already had this very image under REF. */
  imported: boolean;
}

/** flake-pilot's own podman storage configuration, when this host has one (under the root). */
export function flakePilotStorageConf(paths: PilotPaths): string | undefined {
  const config = hostPath(paths, '/etc/flakes.yml');
  let configured: unknown;
  try {
    const doc = parse(readFileSync(config, 'utf8')) as {
      generic?: { podman_storage_conf?: unknown };
    };
    configured = doc?.generic?.podman_storage_conf;
  } catch {
    // No (readable, valid) /etc/flakes.yml: flake-pilot uses its default then too.
  }
  const conf =
    typeof configured === 'string' && configured.startsWith('/')
      ? hostPath(paths, configured)
      : hostPath(paths, '/etc/flakes/storage.conf');
  return existsSync(conf) ? conf : undefined;
}

interface Storage {
  name: string;
  env: Record<string, string>;
}

function storages(storageConf: string | undefined): Storage[] {
  const podmanDefault = { name: "podman's storage", env: {} };
  if (storageConf === undefined) return [podmanDefault];
  return [
    {
      name: `flake-pilot's storage (${storageConf})`,
      env: { CONTAINERS_STORAGE_CONF: storageConf },
    },
    podmanDefault,
  ];
}

/** The image id podman has under `ref` in one storage (config digest), or undefined. */
async function podmanImageId(ref: string, storage: Storage): Promise<string | undefined> {
  // Any exit status but a run that did not happen: a podman without the image exits 125.
  const r = await runTool(
    ['podman', '--runtime', 'runc', 'image', 'inspect', '--format', '{{.Id}}', ref],
    {
      purpose: `cannot look up ${ref} in ${storage.name}`,
      env: storage.env,
      okExitCodes: 'any',
      code: 'PILOT_PULL_FAILED',
    },
  ).catch((error: unknown) => {
    if (!(error instanceof ToolError) || !error.missing) throw error;
    throw new PilotError('PILOT_TOOL_MISSING', error.message, {
      hint: 'pilot migrate reads flake-pilot\'s images from podman: install podman, or "pilot load" each image and run "pilot migrate" again',
    });
  });
  const id = r.exitCode === 0 ? r.stdout.trim() : '';
  return /^[a-f0-9]{64}$/.test(id) ? `sha256:${id}` : undefined;
}

/**
 * Brings `ref` into the store from the first storage that has it (only what the store
 * lacks is copied: the same image already there is just pinned). When no podman storage
 * has it but the store does (loaded by hand), the store's is used. Otherwise a
 * PILOT_IMAGE_UNKNOWN error names the places looked at. `dryRun` copies nothing.
 */
export async function importImage(
  paths: PilotPaths,
  ref: string,
  options: { storageConf: string | undefined; dryRun: boolean },
): Promise<ImportedImage> {
  const looked: string[] = [];
  for (const storage of storages(options.storageConf)) {
    const id = await podmanImageId(ref, storage);
    looked.push(storage.name);
    if (id === undefined) continue;
    if (readRef(paths, ref) === id) return { ref, id, source: storage.name, imported: false };
    if (options.dryRun) return { ref, id, source: storage.name, imported: true };
    try {
      const [result] = await pullImage(paths, ref, { podmanEnv: storage.env });
      return { ref, id: result!.image.id, source: storage.name, imported: true };
    } catch (error) {
      if (!isPilotError(error)) throw error;
      throw new PilotError('PILOT_PULL_FAILED', `image ${ref}: ${error.message}`, {
        hint: error.hint,
      });
    }
  }
  try {
    const record = resolveImage(paths, ref);
    return {
      ref,
      id: record.id,
      source: "pilot's store (no podman storage has it)",
      imported: false,
    };
  } catch (error) {
    if (!isPilotError(error) || error.code !== 'PILOT_IMAGE_UNKNOWN') throw error;
  }
  throw new PilotError(
    'PILOT_IMAGE_UNKNOWN',
    `image ${ref} is in neither ${looked.join(' nor ')} nor pilot's store`,
    {
      hint: `"pilot load ARCHIVE --name ${ref}" (or "pilot pull ${ref}"), then "pilot migrate" again`,
    },
  );
}
