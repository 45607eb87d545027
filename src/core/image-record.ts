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
import { errnoOf, PilotError, type PilotErrorCode } from './errors.js';
import { escapeExcerpt, quoteExcerpt } from './excerpt.js';
import { readTextIfPresent } from './fs-query.js';
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
  /** Where a registry pull fetched it from (absent for archives and podman storage). */
  pulled?: PulledFrom;
  /** What the trust policy said when it was pulled (absent: no policy was consulted). */
  trust?: TrustVerdict;
}

/** What the trust policy (src/store/trust/) said of a pulled image. */
export interface TrustVerdict {
  /** "insecureAcceptAnything", "signedBy", … as policy.json names it ("a+b" for several). */
  requirement: string;
  /** Where it came from, e.g. `transports.docker["127.0.0.1:5000/team"]` of FILE. */
  rule: string;
  /** Fingerprints of the keys that verified a signature. */
  keys?: string[];
  /** The signed docker-reference. */
  identity?: string;
}

export interface PulledFrom {
  /** The reference as pulled, e.g. `registry.example.com/team/app:1.0`. */
  ref: string;
  /** Digest of the top-level manifest fetched (an index's, when the tag names one). */
  digest: string;
  /** ISO time of the pull. */
  at: string;
}

export interface LayerRecord {
  diffId: string;
  alias: string;
  size: number;
  /**
   * Directories the layer marks opaque (absolute in-image paths): the merged view shows
   * nothing of lower layers below them. Absent in records of an earlier pilot's.
   */
  opaqueDirs?: string[];
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

/**
 * Each name is kept as one file, `refs/<refFileName>` (NAME_MAX, 255 bytes; "/", ":" and
 * "@" take 3 bytes there), so that is the longest name pilot can keep. The reference
 * grammar allows longer ones (255 for the repository, 128 for the tag): those are
 * refused, with this message, before anything is written.
 */
export const MAX_REF_FILE_NAME = 255;

/** Why pilot cannot keep `ref` as a name, or undefined when it can. */
export function refTooLong(ref: string): string | undefined {
  const bytes = Buffer.byteLength(refFileName(ref));
  if (bytes <= MAX_REF_FILE_NAME) return undefined;
  return `image name "${escapeExcerpt(ref, 60)}" is too long: pilot keeps each name as a file name of at most ${MAX_REF_FILE_NAME} bytes ("/", ":" and "@" take 3 there), and this one needs ${bytes}`;
}

/** Refuses a name pilot cannot keep (a usage error unless `code` says otherwise). */
export function checkRefLength(ref: string, code: PilotErrorCode = 'PILOT_USAGE'): void {
  const why = refTooLong(ref);
  if (why !== undefined) {
    throw new PilotError(code, why, {
      hint: 'use a shorter name (pilot load ARCHIVE --name NAME gives an image one of your choice)',
    });
  }
}

/**
 * Whether `ref` names its registry: its first part (before a "/") has a "." or ":" or
 * is `localhost` (DESIGN.md). Only such a ref is ever fetched from a registry.
 */
export function isFullyQualified(ref: string): boolean {
  const slash = ref.indexOf('/');
  if (slash < 0) return false;
  const firstPart = ref.slice(0, slash);
  return /[.:]/.test(firstPart) || firstPart === 'localhost';
}

/** Candidate names tried for a short ref, in order, the way podman resolves short names. */
export function refCandidates(ref: string): string[] {
  const normalized = normalizeRef(ref);
  const out = [normalized];
  if (!isFullyQualified(normalized)) {
    out.push(`localhost/${normalized}`);
    out.push(
      normalized.includes('/') ? `docker.io/${normalized}` : `docker.io/library/${normalized}`,
    );
  }
  return out;
}

export function readImageById(paths: PilotPaths, id: string): ImageRecord | undefined {
  const file = join(storeDirs.images(paths), `${digestHex(id)}.json`);
  const text = readTextIfPresent(file);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as ImageRecord;
  } catch (error) {
    // Records are written whole (atomic rename): this one was damaged after that.
    throw new PilotError('PILOT_IMAGE_INVALID', `image record ${file} is not valid JSON`, {
      hint: 'run "pilot verify" (it names what is damaged), then load or pull the image again',
      cause: error,
    });
  }
}

/** The image id a name points at, or undefined. Does not look at id prefixes. */
export function readRef(paths: PilotPaths, ref: string): string | undefined {
  for (const candidate of refCandidates(ref)) {
    // A name longer than a file name can be is not in the store (and the lookup would fail).
    if (refTooLong(candidate) !== undefined) continue;
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

/** The image id `ref` names now, when its record is there too (a dangling name names nothing). */
export function taggedImageId(paths: PilotPaths, ref: string): string | undefined {
  const id = readRef(paths, ref);
  return id !== undefined && readImageById(paths, id) !== undefined ? id : undefined;
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
  checkRefLength(ref);
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
