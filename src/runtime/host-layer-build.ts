/**
 * Building a host layer. Node plans the tree (which directory with which mode, which
 * host file or symlink where); the exec helper builds it (`pilot-exec --build-tree`,
 * pilot/exec/tree.c) with beneath-only, no-follow system calls that Node 20 lacks,
 * and hard-links or copies each host file from one open descriptor, with canonical
 * permissions (DESIGN.md, Trust). Nothing the list says, whatever the image's
 * `/removed` holds, can make it create, change or link anything outside the layer.
 */
import { type BigIntStats, statSync } from 'node:fs';
import { dirname, posix } from 'node:path';
import { joinNul, splitNul } from '../core/bytes.js';
import { PilotError } from '../core/errors.js';
import { pathPresent } from '../core/fs-query.js';
import { makeDir } from '../core/modes.js';
import { diskFull, diskFullIn } from '../core/system-error.js';
import { ToolError } from '../core/tool-error.js';
import { type LightToolResult, runToolLight } from '../core/tool-light.js';
import type { HostFile } from './host-layer.js';
import type { LayeredTree } from './image-tree.js';

export interface BuildOptions {
  /** In-image paths to hide from the merged root with a whiteout (e.g. `/removed`). */
  hide: readonly string[];
  tree: LayeredTree;
  hostRoot?: string;
  /** The exec helper (pilot-exec), which builds the tree. */
  helper: string;
  /**
   * Only host files that every user may read: a layer that serves every caller (0755).
   * Otherwise the layer is its builder's alone (0700).
   */
  public: boolean;
}

/** A host file the helper could not provide, and why (see tree.c). */
export interface SkippedHostFile {
  path: string;
  reason: string;
}

interface Leaf {
  path: string;
  kind: 'symlink' | 'file';
}

/** The listed symlink or file that `target` would lie below, if any. */
function blockingAncestor(target: string, leaves: ReadonlyMap<string, Leaf>): Leaf | undefined {
  for (let end = target.lastIndexOf('/'); end > 0; end = target.lastIndexOf('/', end - 1)) {
    const leaf = leaves.get(target.slice(0, end));
    if (leaf !== undefined) return leaf;
  }
  return undefined;
}

/**
 * The helper's operations for `files`. Parent directories copy the image's own
 * directory mode where the image has the directory (else the host's), so that the
 * host layer does not change the merged root; the helper canonicalises every mode.
 */
export function hostLayerOperations(files: readonly HostFile[], options: BuildOptions): string[] {
  const hostRoot = options.hostRoot ?? '/';
  const ops: string[] = [];
  const dirs = new Set<string>(['/']);
  /** In-layer paths of symlinks and files: nothing may be placed below them. */
  const leaves = new Map<string, Leaf>();
  const ensureDir = (dir: string, reference?: BigIntStats): void => {
    if (dirs.has(dir)) return;
    ensureDir(posix.dirname(dir));
    let mode = reference === undefined ? undefined : Number(reference.mode);
    if (mode === undefined) {
      const imageEntry = options.tree.lookup(dir);
      if (imageEntry?.stat.isDirectory()) mode = imageEntry.stat.mode;
    }
    if (mode === undefined) {
      try {
        mode = statSync(posix.join(hostRoot, dir)).mode;
      } catch {
        mode = 0o755;
      }
    }
    ops.push('dir', dir.slice(1), (mode & 0o7777).toString(8));
    dirs.add(dir);
  };
  for (const file of files) {
    if (file.kind === 'missing' || file.kind === 'other') continue;
    const below = blockingAncestor(file.target, leaves);
    if (below !== undefined) {
      throw new PilotError(
        'PILOT_HOST_PATH_REFUSED',
        `host path ${file.path} lies below ${below.path}, a ${below.kind} listed before it`,
        {
          hint: 'a path below a listed symlink would be looked up through it: list the symlink or the paths below its target, not both',
        },
      );
    }
    if (dirs.has(file.target) || leaves.has(file.target)) continue;
    ensureDir(posix.dirname(file.target));
    const rel = file.target.slice(1);
    if (file.kind === 'dir') {
      ensureDir(file.target, file.stat);
    } else if (file.kind === 'symlink') {
      // Kept as a link: it resolves inside the app's root, where its target is
      // provided too when the list names it (KIWI lists both).
      ops.push('symlink', rel, file.linkTarget!);
      leaves.set(file.target, { path: file.path, kind: 'symlink' });
    } else {
      ops.push('file', rel, file.path);
      leaves.set(file.target, { path: file.path, kind: 'file' });
    }
  }
  for (const path of options.hide) {
    if (options.tree.lookup(path)) ensureDir(posix.dirname(path));
  }
  return ops;
}

/**
 * Builds the host layer into `staging` (which must not exist) and returns the host
 * files the helper skipped (gone, unreadable, not regular, or private in a public layer).
 */
export async function buildHostLayer(
  staging: string,
  files: readonly HostFile[],
  options: BuildOptions,
): Promise<SkippedHostFile[]> {
  const hostRoot = options.hostRoot ?? '/';
  const isRoot = process.getuid?.() === 0;
  const ops = hostLayerOperations(files, options);
  // A layer with files that not everyone may read is root's (or its builder's) alone.
  // Its mode is set, not left to root's umask: a public layer closed by umask 077 would
  // serve nobody else (they would bind each file instead).
  makeDir(staging, options.public ? 0o755 : 0o700);
  const args = ['--build-tree', staging];
  if (options.public) args.push('--public');
  if (hostRoot !== '/') args.push('--host-root', hostRoot);
  let r: LightToolResult<Buffer>;
  try {
    r = runToolLight([options.helper, ...args], {
      purpose: 'cannot build the host layer',
      input: joinNul(ops),
      encoding: 'buffer',
      maxBuffer: 64 << 20,
    });
  } catch (error) {
    // The helper is pilot's own: its stderr is a message written for the user, said as is.
    if (!(error instanceof ToolError) || error.status === undefined) throw error;
    const said = error.stderr.trim().replace(/^pilot: /, '');
    const full = diskFullIn(said);
    if (full !== undefined) {
      throw diskFull(dirname(staging), {
        code: full,
        doing: `cannot build the host layer (${said})`,
      });
    }
    throw new PilotError(
      'PILOT_HOST_LAYER',
      `cannot build the host layer: ${said || `${options.helper} exited with ${error.status}`}`,
      {
        hint: 'the images\' /removed lists or host files named above are the cause; "pilot check APP" lists them',
        cause: error,
      },
    );
  }
  const words = splitNul(r.stdout);
  const skipped: SkippedHostFile[] = [];
  for (let i = 0; i + 2 < words.length; i += 3) {
    if (words[i] === 'skip') skipped.push({ reason: words[i + 1]!, path: words[i + 2]! });
  }

  // Whiteouts are character devices 0/0: only root may create them. A caller's
  // own store goes without (its app sees /removed, which is harmless data).
  const whiteouts = isRoot
    ? options.hide
        .filter((path) => options.tree.lookup(path) && !pathPresent(staging + path))
        .map((path) => path.slice(1))
    : [];
  if (whiteouts.length > 0) {
    // Cold path only: the whiteout maker (and node-tar) load when a host layer hides a file.
    const { makeWhiteoutDevices } = await import('../store/extract/whiteouts.js');
    await makeWhiteoutDevices(staging, whiteouts, isRoot);
  }
  return skipped;
}
