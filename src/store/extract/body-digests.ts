/**
 * The sha256 of every regular file's content as the tar stream carries it, taken in
 * pass 1 as the bytes go by, so that the layer's manifest (layer-manifest.ts) need not
 * read and hash the extracted tree again. GNU tar writes a file's body as it is; where it
 * would not (a sparse file, whose body is shorter than the file), the sizes differ and
 * the manifest scan hashes the file itself (layer-manifest-scan.ts): a digest here is
 * only ever used for a file of exactly the size its entry had.
 */
import { createHash, type Hash } from 'node:crypto';
import type { ReadEntry } from 'tar';
import { splitEntryPath } from './entry-rules.js';

const NOT_UTF8 = '\uFFFD';
const FILE_TYPES = new Set(['File', 'OldFile', 'ContiguousFile']);

export interface BodyDigest {
  size: number;
  digest: string;
}

export class BodyDigests {
  private readonly byPath = new Map<string, BodyDigest>();

  /** Call for each entry pass 1 accepts, before its body is parsed. */
  watch(entry: ReadEntry): void {
    const path = splitEntryPath(entry.path).join('/');
    // A later entry of the same name replaces the earlier one, as on disk.
    this.byPath.delete(path);
    // A name that is no UTF-8 reads the same as others that differ from it in bytes.
    if (path.includes(NOT_UTF8)) return;
    if (entry.type === 'Link') {
      const target = this.byPath.get(splitEntryPath(entry.linkpath ?? '').join('/'));
      if (target) this.byPath.set(path, target);
      return;
    }
    if (!FILE_TYPES.has(entry.type)) return;
    const size = entry.size ?? 0;
    const hash = createHash('sha256');
    if (size === 0) {
      this.byPath.set(path, { size, digest: hash.digest('hex') });
      return;
    }
    // node-tar hands an ignored entry its body through write() and drops it there: the
    // bytes are seen here first (without the block padding: at most `remain` of them).
    const write = entry.write.bind(entry);
    entry.write = (data: Buffer) => {
      this.take(hash, entry.remain, data, path, size);
      return write(data);
    };
  }

  private take(hash: Hash, remain: number, data: Buffer, path: string, size: number): void {
    if (remain <= 0) return;
    hash.update(remain >= data.length ? data : data.subarray(0, remain));
    if (remain <= data.length) this.byPath.set(path, { size, digest: hash.digest('hex') });
  }

  /** The digest of the file at `path` (relative, as the manifest names it) if its size is `size`. */
  get(path: string, size: number): string | undefined {
    if (path.includes(NOT_UTF8)) return undefined;
    const known = this.byPath.get(path);
    return known !== undefined && known.size === size ? known.digest : undefined;
  }
}
