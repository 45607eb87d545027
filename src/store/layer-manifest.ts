/**
 * A layer's manifest, `layers/<hex>.manifest`: what the store recorded about every entry
 * of the tree when it extracted it, so that `pilot verify` can tell later whether the
 * tree is still what was extracted (as `ostree fsck` checks objects against their
 * checksums). This file holds the format and the comparison, both pure; reading a tree
 * into entries is layer-manifest-scan.ts.
 *
 * Per-file content digests, not one digest of the tree: verify must name which file was
 * corrupted, removed or added, and a tree digest can only say "something differs".
 *
 * Format: text, one JSON array per line, sorted by path (byte order):
 *
 *   pilot-layer-manifest 1
 *   ["PATH","TYPE",MODE,UID,GID,SIZE,"DETAIL","XATTRS"]
 *   …
 *   end ENTRIES sha256:HEX
 *
 * TYPE: f file, d directory, l symlink, c character device (only whiteouts 0/0 stay),
 * p fifo, s socket. MODE: the permission bits (st_mode & 07777). SIZE: bytes of a file,
 * 0 otherwise. DETAIL: sha256 hex of a file's content, a symlink's target, `MAJOR:MINOR`
 * of a device, "" otherwise. XATTRS: the overlay xattrs of the entry (`name=value`
 * sorted, joined by `;`; opaque directories and whiteouts are in them), "" for none.
 * The last line's digest covers every line before it, so a truncated or edited manifest
 * is detected rather than trusted.
 */
import { createHash } from 'node:crypto';

export const MANIFEST_HEADER = 'pilot-layer-manifest 1';

export type EntryType = 'f' | 'd' | 'l' | 'c' | 'p' | 's';

export interface ManifestEntry {
  path: string;
  type: EntryType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  detail: string;
  xattrs: string;
}

const TYPES = new Set<string>(['f', 'd', 'l', 'c', 'p', 's']);

function byPath(a: ManifestEntry, b: ManifestEntry): number {
  return Buffer.compare(Buffer.from(a.path), Buffer.from(b.path));
}

/** The manifest's text for `entries` (sorted here). */
export function serializeManifest(entries: readonly ManifestEntry[]): string {
  const lines = [MANIFEST_HEADER];
  for (const e of [...entries].sort(byPath)) {
    lines.push(JSON.stringify([e.path, e.type, e.mode, e.uid, e.gid, e.size, e.detail, e.xattrs]));
  }
  const body = `${lines.join('\n')}\n`;
  const digest = createHash('sha256').update(body).digest('hex');
  return `${body}end ${entries.length} sha256:${digest}\n`;
}

/** Why a manifest cannot be trusted (thrown by parseManifest). */
export class ManifestDamaged extends Error {}

/** Reads a manifest; throws ManifestDamaged naming the line when it is not whole. */
export function parseManifest(text: string): ManifestEntry[] {
  const end = text.lastIndexOf('\nend ');
  if (!text.startsWith(`${MANIFEST_HEADER}\n`) || end < 0 || !text.endsWith('\n')) {
    throw new ManifestDamaged('it is truncated (no header or no end line)');
  }
  const body = text.slice(0, end + 1);
  const trailer = /^end (\d+) sha256:([a-f0-9]{64})$/.exec(text.slice(end + 1, -1));
  if (!trailer) throw new ManifestDamaged('its end line is damaged');
  if (createHash('sha256').update(body).digest('hex') !== trailer[2]) {
    throw new ManifestDamaged('its content does not match its checksum (edited or damaged)');
  }
  const lines = body.split('\n').slice(1, -1);
  if (lines.length !== Number(trailer[1])) {
    throw new ManifestDamaged(`it lists ${lines.length} entries, its end line says ${trailer[1]}`);
  }
  return lines.map((line, i) => {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new ManifestDamaged(`line ${i + 2} is not JSON`);
    }
    const [path, type, mode, uid, gid, size, detail, xattrs] = value as unknown[];
    if (
      !Array.isArray(value) ||
      typeof path !== 'string' ||
      typeof type !== 'string' ||
      !TYPES.has(type) ||
      ![mode, uid, gid, size].every(Number.isInteger) ||
      typeof detail !== 'string' ||
      typeof xattrs !== 'string'
    ) {
      throw new ManifestDamaged(`line ${i + 2} is not an entry`);
    }
    return {
      path,
      type: type as EntryType,
      mode: mode as number,
      uid: uid as number,
      gid: gid as number,
      size: size as number,
      detail,
      xattrs,
    };
  });
}

/** One entry that differs from its record, with what differs (`content`, `mode`, …). */
export interface ChangedEntry {
  path: string;
  changes: string[];
}

export interface ManifestDifference {
  corrupted: ChangedEntry[];
  missing: string[];
  extra: string[];
}

const TYPE_NAMES: Record<EntryType, string> = {
  f: 'file',
  d: 'directory',
  l: 'symlink',
  c: 'device',
  p: 'fifo',
  s: 'socket',
};

function describeChanges(recorded: ManifestEntry, actual: ManifestEntry): string[] {
  if (recorded.type !== actual.type) {
    return [`type (${TYPE_NAMES[recorded.type]} is now a ${TYPE_NAMES[actual.type]})`];
  }
  const changes: string[] = [];
  if (
    recorded.type === 'f' &&
    (recorded.size !== actual.size || recorded.detail !== actual.detail)
  ) {
    changes.push(
      recorded.size === actual.size
        ? 'content'
        : `content (size ${recorded.size} is now ${actual.size})`,
    );
  } else if (recorded.detail !== actual.detail) {
    changes.push(recorded.type === 'l' ? 'link target' : 'device number');
  }
  if (recorded.mode !== actual.mode) {
    changes.push(`mode (${recorded.mode.toString(8)} is now ${actual.mode.toString(8)})`);
  }
  if (recorded.uid !== actual.uid || recorded.gid !== actual.gid) {
    changes.push(`owner (${recorded.uid}:${recorded.gid} is now ${actual.uid}:${actual.gid})`);
  }
  if (recorded.xattrs !== actual.xattrs) changes.push('overlay xattrs');
  return changes;
}

/** What differs between the recorded entries and the tree's entries now. */
export function compareManifests(
  recorded: readonly ManifestEntry[],
  actual: readonly ManifestEntry[],
): ManifestDifference {
  const now = new Map(actual.map((entry) => [entry.path, entry]));
  const difference: ManifestDifference = { corrupted: [], missing: [], extra: [] };
  const known = new Set<string>();
  for (const entry of recorded) {
    known.add(entry.path);
    const current = now.get(entry.path);
    if (!current) {
      difference.missing.push(entry.path);
      continue;
    }
    const changes = describeChanges(entry, current);
    if (changes.length > 0) difference.corrupted.push({ path: entry.path, changes });
  }
  for (const entry of actual) if (!known.has(entry.path)) difference.extra.push(entry.path);
  return difference;
}

export function isClean(difference: ManifestDifference): boolean {
  return (
    difference.corrupted.length === 0 &&
    difference.missing.length === 0 &&
    difference.extra.length === 0
  );
}
