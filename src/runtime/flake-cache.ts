/**
 * The launcher's copy of a merged flake (`<run>/flakes/<app>.json`), valid while the
 * stamps of its files are: a warm Node launch then never even loads the YAML parser.
 */
import { lstatSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { writeJsonAtomic } from '../core/atomic-fs.js';
import type { LoadedFlake } from '../core/flake-file.js';
import type { PilotPaths } from '../core/paths.js';
import { stampOf } from './fast-plan.js';

interface FlakeCache extends LoadedFlake {
  version: 4;
  stamps: [string, string][];
  files: string[];
  targets: string[];
}

/** Where a symbolic link leads, or nothing (not a link, or a dangling one). */
function linkTarget(path: string): string[] {
  try {
    return lstatSync(path).isSymbolicLink() ? [realpathSync(path)] : [];
  } catch {
    return [];
  }
}

/**
 * The merged flake, from a JSON copy in the run dir while the flake files' stamps
 * are unchanged: the YAML parser is then never even initialised (it is loaded
 * lazily), which is most of the Node launcher's own start-up work.
 */
export async function loadFlakeCached(
  paths: PilotPaths,
  app: string,
): Promise<LoadedFlake & { files: string[]; targets: string[] }> {
  const cacheFile = join(paths.run, 'flakes', `${app}.json`);
  try {
    const cached = JSON.parse(readFileSync(cacheFile, 'utf8')) as FlakeCache;
    if (cached.version === 4 && cached.stamps.every(([path, stamp]) => stampOf(path) === stamp)) {
      return cached;
    }
  } catch {
    // no cache, or an unreadable one: parse the YAML
  }
  // Stamped before reading, so that an edit during the read makes the cache stale. A
  // linked flake file is stamped where the link leads too (an edit there changes no link).
  const dropIns = join(paths.flakes, `${app}.d`);
  let entries: string[] = [];
  try {
    entries = readdirSync(dropIns).map((entry) => join(dropIns, entry));
  } catch {
    entries = [];
  }
  const files = [join(paths.flakes, `${app}.yaml`), ...entries];
  const watched = [...files, dropIns, ...files.flatMap(linkTarget)];
  const stamps = watched.map((path): [string, string] => [path, stampOf(path)]);
  const { loadFlake } = await import('../core/flake-file.js');
  const loaded = loadFlake(paths.flakes, app);
  if ([...loaded.files, ...loaded.targets].every((file) => watched.includes(file))) {
    try {
      writeJsonAtomic(cacheFile, { version: 4, stamps, ...loaded } satisfies FlakeCache);
    } catch {
      // A caller who cannot write the run dir parses the YAML each time.
    }
  }
  return loaded;
}
