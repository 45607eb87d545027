/**
 * Reading the image store's records: light enough for the launcher (node built-ins only).
 * Writing them belongs to src/store/.
 *
 * Layout under the store root:
 *   images/<hex>.json        ImageRecord, <hex> = sha256 of the image config (the image id)
 *   refs/<encoded name>      text "sha256:<config hex>\n"; name is a normalized ref "repo:tag"
 *   layers/<hex>/            one extracted layer (overlayfs-ready), <hex> = uncompressed diff_id
 *   layers/<hex>.json        LayerRecord
 *   l/<alias>                symlink "../layers/<hex>"; alias = first 10 hex of the diff_id
 *   blobs/sha256/<hex>       manifests and configs as loaded
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { errnoOf, PilotError } from './errors.js';
import { escapeExcerpt, quoteExcerpt } from './excerpt.js';
import { listDir } from './list-dir.js';
import { digestHex, type PilotPaths, storeDirs } from './paths.js';

export interface ImageConfig {
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  WorkingDir?: string;
  User?: string;
  StopSignal?: string;
  Labels?: Record<string, string> | null;
}

export interface ImageRecord {
  /** sha256:<hex> of the image config blob: the image id. */
  id: string;
  /** Manifest digest as loaded (informational; docker-archives get a synthesized one). */
  manifestDigest: string;
  /** Uncompressed layer digests, bottom first. */
  layers: string[];
  config: ImageConfig;
  /** Sum of the extracted layer sizes in bytes. */
  size: number;
  /** ISO time of the (first) load. */
  loaded: string;
}

export interface LayerRecord {
  diffId: string;
  alias: string;
  size: number;
}

export const ALIAS_LENGTH = 10;

export function layerAlias(diffId: string): string {
  return digestHex(diffId).slice(0, ALIAS_LENGTH);
}

/** `busybox` → `busybox:latest`; refs with a tag or digest stay as they are. */
export function normalizeRef(ref: string): string {
  if (ref.includes('@')) return ref;
  const lastSlash = ref.lastIndexOf('/');
  const lastColon = ref.lastIndexOf(':');
  return lastColon > lastSlash ? ref : `${ref}:latest`;
}

export function refFileName(ref: string): string {
  return encodeURIComponent(normalizeRef(ref));
}

/** Candidate names tried for a short ref, in order, the way podman resolves short names. */
export function refCandidates(ref: string): string[] {
  const normalized = normalizeRef(ref);
  const out = [normalized];
  const firstPart = normalized.split('/')[0] ?? '';
  const hasRegistry = normalized.includes('/') && /[.:]|^localhost$/.test(firstPart);
  if (!hasRegistry) {
    out.push(`localhost/${normalized}`);
    out.push(
      normalized.includes('/') ? `docker.io/${normalized}` : `docker.io/library/${normalized}`,
    );
  }
  return out;
}

export function readImageById(paths: PilotPaths, id: string): ImageRecord | undefined {
  try {
    return JSON.parse(
      readFileSync(join(storeDirs.images(paths), `${digestHex(id)}.json`), 'utf8'),
    ) as ImageRecord;
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return undefined;
    throw error;
  }
}

/** The image id a name points at, or undefined. Does not look at id prefixes. */
export function readRef(paths: PilotPaths, ref: string): string | undefined {
  for (const candidate of refCandidates(ref)) {
    try {
      return readFileSync(
        join(storeDirs.refs(paths), encodeURIComponent(candidate)),
        'utf8',
      ).trim();
    } catch (error) {
      if (errnoOf(error) !== 'ENOENT') throw error;
    }
  }
  return undefined;
}

/** All names (refs) with the image id each points at. */
export function listRefs(paths: PilotPaths): Map<string, string> {
  const refs = new Map<string, string>();
  for (const entry of listDir(storeDirs.refs(paths))) {
    if (entry.startsWith('.')) continue;
    try {
      refs.set(
        decodeURIComponent(entry),
        readFileSync(join(storeDirs.refs(paths), entry), 'utf8').trim(),
      );
    } catch (error) {
      if (errnoOf(error) !== 'ENOENT') throw error;
    }
  }
  return refs;
}

/**
 * Resolves a user's ref: a name (short names as podman resolves them), `sha256:<hex>`,
 * or an unambiguous id prefix of at least 12 hex digits.
 */
export function resolveImage(paths: PilotPaths, ref: string): ImageRecord {
  const byName = readRef(paths, ref);
  if (byName) {
    const record = readImageById(paths, byName);
    if (record) return record;
  }
  const hex = ref.startsWith('sha256:') ? ref.slice(7) : ref;
  if (/^[a-f0-9]{12,64}$/.test(hex)) {
    const entries = listDir(storeDirs.images(paths)).filter(
      (e) => e.endsWith('.json') && e.startsWith(hex),
    );
    if (entries.length === 1) {
      const record = readImageById(paths, `sha256:${entries[0]!.slice(0, 64)}`);
      if (record) return record;
    }
  }
  throw new PilotError(
    'PILOT_IMAGE_UNKNOWN',
    `image ${quoteExcerpt(ref)} is not in the store (${paths.store})`,
    {
      hint: `load it with "pilot load ARCHIVE --name ${escapeExcerpt(ref)}" or fetch it with "pilot pull ${escapeExcerpt(ref)}"; "pilot images" lists what is there`,
    },
  );
}
