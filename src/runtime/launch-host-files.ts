/**
 * The launch's host-files step: what the app needs from the host (host-files.ts) is
 * checked (a missing requirement fails the launch, unless the caller says
 * %ignore_sync_error), then provided as a cached host layer below the images, or, for
 * an unprivileged caller the store is not prepared for, as one read-only bind per file.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { debugStep } from '../core/debug.js';
import { PilotError } from '../core/errors.js';
import { escapeExcerpt } from '../core/excerpt.js';
import type { Flake } from '../core/flake-file.js';
import { type HostSettings, onHost } from '../core/host-root.js';
import { type PilotPaths, storeDirs } from '../core/paths.js';
import { scanAppHostFiles } from './host-files.js';
import { ensureHostLayer, hostLayerKey } from './host-layer.js';
import { type HostStamps, hostStamps } from './host-stamps.js';
import type { LayeredTree } from './image-tree.js';
import type { PlanImages } from './launch-plan.js';

/** Names from an image's lists, for a message: the first few, each cut short and escaped. */
function shownList(items: readonly string[], max = 20): string {
  const shown = items.slice(0, max).map((item) => `    ${escapeExcerpt(item)}`);
  if (items.length > max) shown.push(`    … and ${items.length - max} more`);
  return shown.join('\n');
}

/** Files in the images that are pilot's business, not the app's. */
export const HIDDEN_IMAGE_FILES = ['/removed', '/systemfiles'];

export interface HostFilesInput {
  paths: PilotPaths;
  app: string;
  flake: Flake;
  images: PlanImages;
  /** The app's layer dirs, top first (stackLayers), and the tree they make. */
  layers: string[];
  tree: LayeredTree;
  host: HostSettings;
  /** The exec helper, which builds a host layer. */
  helper: string | undefined;
  /** The caller said %ignore_sync_error: missing host files do not fail the launch. */
  ignoreSyncError: boolean;
  /** %progress: a line for the caller (on stderr). */
  progress: (message: string) => void;
}

export interface ProvidedHostFiles {
  /** The host layer (`host/KEY`, below the images), when there is one. */
  lowers: string[];
  /** Without a host layer: each host file bound read-only. */
  hostBinds: { source: string; target: string }[];
  /** What a fast plan stamps of the host files (host-stamps.ts). */
  stamps: HostStamps;
  /** The package database's files (stamped one by one). */
  databases: string[];
  /** What is provided serves every caller: no binds, no host file only some may read. */
  shared: boolean;
}

export async function provideHostFiles(input: HostFilesInput): Promise<ProvidedHostFiles> {
  const { paths, flake, images, tree, layers, host, progress } = input;
  // Host files (host-files.ts): include.path, /removed, host packages and /systemfiles.
  // A /removed path missing on the host is skipped (KIWI lists expected false positives:
  // logs, docs, package-database churn) unless the flake says host_files: strict.
  const scanStart = Date.now();
  const { files, missing, absent, watched, databases } = scanAppHostFiles(
    paths,
    flake,
    images,
    tree,
    {
      hostRoot: host.root,
      packages: host.packages,
    },
  );
  const strict = flake.container.host_files === 'strict';
  const fatal = strict ? [...missing, ...absent] : missing;
  if (fatal.length > 0 && !input.ignoreSyncError) {
    throw new PilotError(
      'PILOT_HOST_FILES_MISSING',
      `${fatal.length} host file(s) that ${input.app} needs are missing${strict && absent.length > 0 ? ' (container.host_files: strict)' : ''}:\n${shownList(fatal)}`,
      {
        hint: `install what provides them on the host ("pilot check ${input.app}" lists them), or run with %ignore_sync_error${strict && absent.length > 0 ? '; without host_files: strict, a missing /removed path is skipped' : ''}`,
        exitCode: 127,
      },
    );
  }
  const skipped = fatal.length > 0 ? fatal.concat(strict ? [] : absent) : absent;
  if (skipped.length > 0) {
    const what = `${skipped.length} host file(s) missing on the host, skipped ("pilot check ${input.app}" says who lists each):\n${shownList(skipped)}`;
    progress(what);
    debugStep(what);
  }
  debugStep(
    `host files checked: ${files.length} listed, ${skipped.length} missing and skipped${strict ? ' (strict)' : ''}`,
  );

  const hide = HIDDEN_IMAGE_FILES.filter((p) => tree.lookup(p));
  const extraLowers: string[] = [];
  const hostBinds: { source: string; target: string }[] = [];
  const present = files.filter((f) => f.kind !== 'missing');
  let layerPath: string | undefined;
  let shared = true;
  if (present.length > 0 || hide.length > 0) {
    // A layer of host files that everyone may read serves every caller; one with a
    // file that not everyone may read is its builder's alone (host-layer-build.ts).
    const publicOnly = present.every((f) => f.public === true);
    shared = publicOnly;
    const key = hostLayerKey(layers, files, hide, publicOnly);
    const hostDir = storeDirs.hostLayers(paths);
    // A first composition on a terminal says what it does (erased when done);
    // nothing is printed when stderr is a pipe or a file.
    const announce = !existsSync(join(hostDir, key)) && process.stderr.isTTY === true;
    if (announce) process.stderr.write(`${input.app}: providing ${present.length} host file(s)…`);
    try {
      const built = await ensureHostLayer(hostDir, key, files, {
        hide,
        tree,
        helper: input.helper ?? 'pilot-exec',
        public: publicOnly,
        hostRoot: host.root,
      });
      layerPath = built.path;
      if (announce) process.stderr.write('\r\x1b[K');
      if (built.built) {
        progress(`provided ${present.length} host file(s) in a new host layer`);
        // Cold path only (a host file changed): older host layers nothing uses go now.
        const { pruneAfterHostLayerBuild } = await import('./caches.js');
        const pruned = await pruneAfterHostLayerBuild(paths, [`host/${key}`]);
        if (pruned.length > 0) debugStep(`pruned ${pruned.length} unused host layer(s)`);
      }
      for (const skip of built.skipped) {
        progress(`host file ${skip.path} not provided: ${skip.reason}`);
        debugStep(`host file ${skip.path} not provided: ${skip.reason}`);
      }
    } catch (error) {
      if (announce) process.stderr.write('\r\x1b[K');
      // An unprivileged caller of a system app whose host layer root has not
      // prepared yet: it cannot write the store, so it binds each host file.
      if (!(error instanceof PilotError) || error.code !== 'PILOT_NEEDS_PRIVILEGE') throw error;
    }
    if (layerPath) {
      extraLowers.push(`host/${key}`);
    } else {
      shared = false;
      for (const file of present) {
        if (file.kind === 'file')
          hostBinds.push({ source: onHost(host.root, file.path), target: file.target });
      }
    }
    debugStep(`host layer ${layerPath ? `host/${key.slice(0, 12)}` : `${hostBinds.length} binds`}`);
  }
  const stamps = hostStamps({
    files,
    watched,
    hostRoot: host.root,
    layer: layerPath,
    scanStart,
  });
  debugStep(
    `host files stamped by ${stamps.dirs.size} dir(s) and ${stamps.files.size} file(s) of their own`,
  );
  return { lowers: extraLowers, hostBinds, stamps, databases, shared };
}
