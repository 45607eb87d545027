/**
 * What a fast plan stamps of the host files (docs/plan.md, "The plan file"), so that the
 * stub's checks do not grow with their number. A host file hard-linked into the host
 * layer (or bound by path, without a layer) needs no stamp of its own: an edit in place
 * is seen through the link, and a replaced, added or removed file changes its
 * directory's mtime and ctime, so each directory is stamped once (`dirstamp`). A copied
 * file is stamped itself (`stamp`), as is a file the caller may not read (a chmod changes
 * only its own ctime).
 *
 * A directory changed shortly before the scan is "racy" (git's word): its mtime has the
 * kernel's coarse granularity, so a second change within the same tick could leave it as
 * it is. Its files are stamped one by one then, with the identities the scan saw (until
 * the next plan: a plan made in a quiet moment stamps the directory alone).
 */
import { type BigIntStats, lstatSync, statSync } from 'node:fs';
import { posix } from 'node:path';
import { dirIdentityOfStats, identityOfStats } from '../core/file-identity.js';
import type { HostFile } from './host-layer.js';

/**
 * A directory whose mtime or ctime is this close to the scan (or later) is racy: the
 * kernel stamps a change with its coarse clock, at most one tick (1-10 ms) behind the
 * real time. On a file system that keeps whole seconds (both times without nanoseconds:
 * ext4 with small inodes, some network file systems), RACY_COARSE_MS.
 */
export const RACY_MS = 100;
export const RACY_COARSE_MS = 2000;

function isRacy(stat: BigIntStats, scanStart: number): boolean {
  const coarse = stat.mtimeNs % 1_000_000_000n === 0n && stat.ctimeNs % 1_000_000_000n === 0n;
  const before = BigInt(scanStart - (coarse ? RACY_COARSE_MS : RACY_MS)) * 1_000_000n;
  return stat.mtimeNs >= before || stat.ctimeNs >= before;
}

export interface HostStamps {
  /** Directories stamped as a whole (`dirstamp`), with their identity at the scan. */
  dirs: Map<string, string>;
  /** Paths stamped one by one (`stamp`), with the value the scan saw when it saw one. */
  files: Map<string, string | undefined>;
}

export interface HostStampInput {
  /** The scanned host files (paths in the host's tree, as listed). */
  files: readonly HostFile[];
  /** Every host path looked at (on the host, i.e. below hostRoot), listed or not. */
  watched: readonly string[];
  hostRoot: string;
  /** The host layer's directory, or undefined when the files are bound by path. */
  layer: string | undefined;
  /** Date.now() before the scan. */
  scanStart: number;
  /** A directory's stat (symlinks followed), undefined when it is not there (tests swap it). */
  statDir?: (path: string) => BigIntStats | undefined;
}

function statOrUndefined(path: string): BigIntStats | undefined {
  try {
    return statSync(path, { bigint: true });
  } catch {
    return undefined;
  }
}

/** Whether the layer holds `file` as a hard link of the host file (not a copy). */
function linkedInLayer(layer: string, file: HostFile): boolean {
  if (file.stat === undefined) return false;
  try {
    const inLayer = lstatSync(layer + file.target, { bigint: true });
    return inLayer.ino === file.stat.ino && inLayer.dev === file.stat.dev;
  } catch {
    return false;
  }
}

export function hostStamps(input: HostStampInput): HostStamps {
  const { hostRoot, layer } = input;
  const onHost = hostRoot === '/' ? (path: string) => path : (path: string) => hostRoot + path;
  const dirs = new Set<string>();
  for (const path of input.watched) dirs.add(posix.dirname(path));
  const files = new Map<string, string | undefined>();
  for (const file of input.files) {
    const path = onHost(file.path);
    // A listed directory is made in the layer with the host's mode: a chmod changes its
    // ctime, which its own dirstamp sees.
    if (file.kind === 'dir') dirs.add(path);
    else if (file.kind === 'missing' && file.reason === 'unreadable') files.set(path, undefined);
    else if (file.kind === 'file' && layer !== undefined && !linkedInLayer(layer, file))
      files.set(path, identityOfStats(file.stat));
  }
  // Taken now, not when the plan is written: a change after this stat differs from the
  // stamp, one before it (after the scan began) makes the directory racy.
  const racy = new Set<string>();
  const stamped = new Map<string, string>();
  for (const dir of dirs) {
    const stat = (input.statDir ?? statOrUndefined)(dir);
    stamped.set(dir, dirIdentityOfStats(stat));
    if (stat && isRacy(stat, input.scanStart)) racy.add(dir);
  }
  if (racy.size > 0) {
    for (const file of input.files) {
      const path = onHost(file.path);
      if (!racy.has(posix.dirname(path)) || files.has(path)) continue;
      files.set(path, file.kind === 'missing' ? '-' : identityOfStats(file.stat));
    }
    for (const path of input.watched)
      if (racy.has(posix.dirname(path)) && !files.has(path)) files.set(path, undefined);
  }
  return { dirs: stamped, files };
}
