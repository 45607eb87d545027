/**
 * Reading a layer tree into manifest entries (layer-manifest.ts): one walk that hashes
 * every regular file (each inode once: hard links share a digest), and one `getfattr`
 * run for the overlay xattrs of the whole tree (Node has no xattr call). Used when a
 * layer is extracted (the record: there the walk is canonicalisation's own, through
 * manifestScanner, extract/canonical.ts) and by `pilot verify` (the comparison).
 */
import { closeSync, constants, openSync, readlinkSync, readSync, type Stats } from 'node:fs';
import { nodeCrypto } from '../core/node-crypto.js';
import { toolError } from '../core/tool-error.js';
import { runToolLight } from '../core/tool-light.js';
import { type TreeEntry, walkTree } from '../core/tree-walk.js';
import type { EntryType, ManifestEntry } from './layer-manifest.js';

const CHUNK = 1024 * 1024;

function typeOf(stat: Stats): EntryType | undefined {
  if (stat.isFile()) return 'f';
  if (stat.isDirectory()) return 'd';
  if (stat.isSymbolicLink()) return 'l';
  if (stat.isCharacterDevice()) return 'c';
  if (stat.isFIFO()) return 'p';
  if (stat.isSocket()) return 's';
  return undefined; // block devices never stay in a layer (extract/canonical.ts)
}

function hashFile(path: Buffer, buffer: Buffer): string {
  const hash = nodeCrypto().createHash('sha256');
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    for (;;) {
      const n = readSync(fd, buffer, 0, buffer.length, null);
      if (n === 0) break;
      hash.update(buffer.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

/** Undoes getfattr's escaping of a file name (`\ooo` octal for a byte it will not print). */
export function decodeGetfattrName(text: string): string {
  const bytes: number[] = [];
  const raw = Buffer.from(text, 'latin1');
  for (let i = 0; i < raw.length; i++) {
    const rest = raw.subarray(i + 1, i + 4).toString('latin1');
    if (raw[i] === 0x5c && /^[0-7]{3}$/.test(rest)) {
      bytes.push(Number.parseInt(rest, 8));
      i += 3;
    } else bytes.push(raw[i]!);
  }
  return Buffer.from(bytes).toString();
}

/** Parses `getfattr -d -e hex` output into path → `name=0xVALUE;…` (sorted). */
export function parseGetfattrDump(output: string): Map<string, string> {
  const byPath = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of output.split('\n')) {
    if (line.startsWith('# file: ')) {
      const name = decodeGetfattrName(line.slice(8));
      current = [];
      byPath.set(name === '.' ? '.' : name.replace(/^\.\//, ''), current);
    } else if (line !== '' && current) current.push(line);
  }
  const out = new Map<string, string>();
  for (const [path, attrs] of byPath) if (attrs.length > 0) out.set(path, attrs.sort().join(';'));
  return out;
}

/** The overlay xattrs (trusted.overlay.* and user.overlay.*) of every entry below `root`. */
export function readOverlayXattrs(root: string): Map<string, string> {
  // latin1 both ways: file names are bytes, and getfattr prints them as they are.
  const argv = [
    'getfattr',
    '-R',
    '-P',
    '-h',
    '-d',
    '-e',
    'hex',
    '-m',
    '^(trusted|user)\\.overlay\\.',
    '.',
  ];
  const options = {
    purpose: `cannot read the overlay attributes below ${root}`,
    cwd: root,
    encoding: 'buffer' as const,
    maxBuffer: 256 * 1024 * 1024,
    // It exits 1 when one file cannot be read and still dumps the others: a failure
    // only when it printed nothing.
    okExitCodes: 'any' as const,
  };
  // The launcher reaches this through layer-record.ts: runToolLight, not execa.
  const result = runToolLight(argv, options);
  if (result.exitCode !== 0 && result.stdout.length === 0) {
    throw toolError({
      argv,
      purpose: options.purpose,
      exitCode: result.exitCode,
      stderr: result.stderr,
    });
  }
  return parseGetfattrDump(result.stdout.toString('latin1'));
}

/** A file's content digest where the caller has it already, by relative path and size. */
export type KnownDigest = (rel: string, size: number) => string | undefined;

/**
 * Manifest entries from a walk of a tree, one `visit` per entry in walk order (the root
 * itself as `.`); `entries` adds the overlay xattrs, read once the tree is final.
 * `known` gives a file's content digest where the caller has it already (extraction
 * hashed the bytes it wrote: extract/body-digests.ts); any other file is read and hashed.
 */
export function manifestScanner(): {
  visit(entry: TreeEntry, known?: KnownDigest): boolean;
  entries(xattrs: Map<string, string>): ManifestEntry[];
} {
  const found: ManifestEntry[] = [];
  const digests = new Map<string, string>();
  let buffer: Buffer | undefined;
  return {
    visit: ({ path, rel, stat }, known) => {
      const type = typeOf(stat);
      if (type === undefined) return false;
      let detail = '';
      if (type === 'f') {
        const key = `${stat.dev}:${stat.ino}`;
        detail = digests.get(key) ?? known?.(rel, stat.size) ?? '';
        if (detail === '') {
          buffer ??= Buffer.allocUnsafe(CHUNK);
          detail = hashFile(path, buffer);
        }
        if (stat.nlink > 1) digests.set(key, detail);
      } else if (type === 'l') {
        detail = readlinkSync(path, 'buffer').toString();
      } else if (type === 'c') {
        detail = `${Math.floor(stat.rdev / 256) & 0xfff}:${(stat.rdev & 0xff) | ((stat.rdev >> 12) & 0xfff00)}`;
      }
      found.push({
        path: rel,
        type,
        mode: stat.mode & 0o7777,
        uid: stat.uid,
        gid: stat.gid,
        size: type === 'f' ? stat.size : 0,
        detail,
        xattrs: '',
      });
      return true;
    },
    entries: (xattrs) => {
      for (const entry of found) entry.xattrs = xattrs.get(entry.path) ?? '';
      return found;
    },
  };
}

/** Every entry of the tree at `root` (the root itself as `.`), for the manifest. */
export function scanTree(root: string, known?: KnownDigest): ManifestEntry[] {
  const xattrs = readOverlayXattrs(root);
  const scanner = manifestScanner();
  walkTree(root, { enter: (entry) => scanner.visit(entry, known) });
  return scanner.entries(xattrs);
}
