/**
 * `register --target PATH`: the program must be there when the app runs. It is looked
 * up in the composed image (every symlink followed inside the image, as the app's
 * exec would) and in what a launch adds over it: host files (`/removed`, host packages,
 * `include.path`), `include.tar` members and volumes. A target found nowhere is refused
 * at register (DESIGN: "--target" names a path inside the container; an explicit one
 * the image lacks would only fail at every launch); `--force` registers it anyway with a
 * warning, for a program that something pilot cannot see provides.
 */
import { posix } from 'node:path';
import { PilotError } from '../core/errors.js';
import { quoteExcerpt } from '../core/excerpt.js';
import type { HostFileRequest } from '../runtime/host-requirements.js';
import type { LayeredTree } from '../runtime/image-tree.js';

export interface TargetSources {
  tree: LayeredTree;
  hostFiles: readonly HostFileRequest[];
  /** Member names of the include tars (`etc/x`), read only when the image lacks the target. */
  includeNames: () => Iterable<string>;
  /** Container paths of the flake's volumes. */
  volumes: readonly string[];
}

function within(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir === '/' ? '/' : `${dir}/`);
}

/** Why the target will not run, or undefined when a launch finds it. */
export function targetProblem(target: string, sources: TargetSources): string | undefined {
  const asked = posix.normalize(target);
  const resolved = sources.tree.resolve(asked);
  const where = resolved === asked ? '' : ` (it resolves to ${quoteExcerpt(resolved)})`;
  const entry = sources.tree.lookup(resolved);
  if (entry) {
    if (entry.stat.isDirectory()) return `is a directory in the image${where}`;
    if (!entry.stat.isFile()) return `is not a regular file in the image${where}`;
    if ((entry.stat.mode & 0o111) === 0) {
      return `is not executable in the image${where} (mode ${(entry.stat.mode & 0o777).toString(8)})`;
    }
    return undefined;
  }
  const candidates = [asked, resolved];
  // A host file lands at its path as the image resolves it (a listed directory with all
  // below it): /bin/jq is /usr/bin/jq inside an image whose /bin links to usr/bin.
  const provided = sources.hostFiles.flatMap((f) => [f.path, sources.tree.canonicalParent(f.path)]);
  if (provided.some((path) => candidates.some((c) => within(c, path)))) return undefined;
  if (sources.volumes.some((v) => candidates.some((c) => within(c, posix.normalize(v))))) {
    return undefined;
  }
  const members = new Set(sources.includeNames());
  if (candidates.some((c) => members.has(c.slice(1)))) return undefined;
  return `is not in the image${where}, nor among its host files, include tars or volumes`;
}

/** Refuses a target a launch would not find; with `force`, returns the warning instead. */
export function checkTarget(
  target: string,
  sources: TargetSources,
  force: boolean,
): string | undefined {
  if (target === '/') return undefined; // the image's entrypoint
  const problem = targetProblem(target, sources);
  if (problem === undefined) return undefined;
  const what = `--target ${quoteExcerpt(target)} ${problem}`;
  if (force)
    return `${what}: registered anyway (--force); the app fails until something provides it`;
  throw new PilotError('PILOT_TARGET_MISSING', `${what}: the app could never run`, {
    hint: 'name the program\'s path inside the image (links are followed there), "/" for the image\'s entrypoint, or add --force when something pilot cannot see provides it at launch',
  });
}
