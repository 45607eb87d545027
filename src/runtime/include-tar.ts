/**
 * `include.tar`: each tar is extracted once, by the store's safe extraction (an entry
 * that could write outside its directory is refused, naming it), into a directory named
 * by the tar's content digest, and stacked as an overlay lower dir above the images and
 * below the host layer: "extracted over the composed root" without copying the root.
 *
 * Hashing a large tar on every launch would cost more than the launch, so a small index
 * per tar path maps the file's identity (core/file-identity.ts, the same the plan stamps)
 * to its digest: a warm launch pays a stat and a read. A changed tar gets a new digest and a new directory.
 *
 * Where the store is not writable (an unprivileged caller of a system app whose tar root
 * has not extracted yet), the caller's own run dir holds the extraction instead.
 */
import { type BigIntStats, createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { writeJsonAtomic } from '../core/atomic-fs.js';
import { debugStep } from '../core/debug.js';
import { errnoOf, PilotError } from '../core/errors.js';
import { identityOfStats } from '../core/file-identity.js';
import type { Flake } from '../core/flake-file.js';
import { makeDirs } from '../core/modes.js';
import { nodeCrypto } from '../core/node-crypto.js';
import { type PilotPaths, storeDirs } from '../core/paths.js';
import { sha256Hex } from '../core/sha256.js';

interface Place {
  dir: string;
  tmp: string;
  /** The lower dir as the launch plan names it (relative to the store, or absolute). */
  lower: (hex: string) => string;
}

interface TarIndex {
  tar: string;
  identity: string;
  digest: string;
}

function places(paths: PilotPaths): Place[] {
  const runDir = join(paths.run, 'includes');
  return [
    {
      dir: join(paths.store, 'includes'),
      tmp: storeDirs.tmp(paths),
      lower: (hex) => `includes/${hex}`,
    },
    { dir: runDir, tmp: join(runDir, '.tmp'), lower: (hex) => join(runDir, hex) },
  ];
}

function indexFile(place: Place, tar: string): string {
  return join(place.dir, 'by-path', `${sha256Hex(tar)}.json`);
}

function readIndex(place: Place, tar: string): TarIndex | undefined {
  try {
    const index = JSON.parse(readFileSync(indexFile(place, tar), 'utf8')) as TarIndex;
    return index.tar === tar && /^sha256:[a-f0-9]{64}$/.test(index.digest) ? index : undefined;
  } catch {
    return undefined;
  }
}

function writeIndexQuietly(place: Place, index: TarIndex): void {
  try {
    writeJsonAtomic(indexFile(place, index.tar), index);
  } catch {
    // Only a cache: the next launch hashes the tar again.
  }
}

async function hashFile(path: string): Promise<string> {
  const hash = nodeCrypto().createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return `sha256:${hash.digest('hex')}`;
}

function notWritable(error: unknown): boolean {
  const code = errnoOf(error);
  return code === 'EACCES' || code === 'EPERM' || code === 'EROFS';
}

/** Makes sure one include tar is extracted; returns its lower dir. */
export async function ensureIncludeTar(paths: PilotPaths, tar: string): Promise<string> {
  let stat: BigIntStats;
  try {
    stat = statSync(tar, { bigint: true });
  } catch (error) {
    throw new PilotError(
      'PILOT_HOST_FILES_MISSING',
      `include.tar ${tar} cannot be read: ${(error as Error).message}`,
      { hint: 'restore the file, or register the app again without it', exitCode: 127 },
    );
  }
  const identity = identityOfStats(stat);
  const candidates = places(paths);
  for (const place of candidates) {
    const index = readIndex(place, tar);
    const hex = index?.digest.slice(7);
    if (index?.identity === identity && existsSync(join(place.dir, hex!))) return place.lower(hex!);
  }

  const digest = await hashFile(tar);
  const hex = digest.slice(7);
  const index: TarIndex = { tar, identity, digest };
  for (const place of candidates) {
    if (existsSync(join(place.dir, hex))) {
      writeIndexQuietly(place, index);
      return place.lower(hex);
    }
  }

  // Cold path only: the extractor (and node-tar) load when a tar is new.
  const { extractTarSafely } = await import('../store/extract.js');
  for (const [i, place] of candidates.entries()) {
    try {
      makeDirs(place.dir);
      await extractTarSafely(tar, join(place.dir, hex), {
        tmpDir: place.tmp,
        label: `include.tar ${tar}`,
        expectedDigest: digest,
        // Extracted over the root as plain tar would: `.wh.` names are ordinary files.
        whiteouts: 'keep',
      });
      debugStep(`include.tar ${tar} extracted`);
      writeIndexQuietly(place, index);
      return place.lower(hex);
    } catch (error) {
      if (i < candidates.length - 1 && notWritable(error)) continue;
      throw error;
    }
  }
  throw new Error('unreachable');
}

/**
 * The lower dirs of the flake's include tars, top first: a later tar is extracted over
 * an earlier one, so it wins.
 */
export async function includeTarLowers(paths: PilotPaths, flake: Flake): Promise<string[]> {
  const lowers: string[] = [];
  for (const tar of flake.include.tar) lowers.push(await ensureIncludeTar(paths, tar));
  return lowers.reverse();
}
