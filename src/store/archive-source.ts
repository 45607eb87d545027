/**
 * Where the files of an image archive come from: members of a tar file (read in place,
 * by offset), or files of an OCI layout directory. The kind of archive is decided by
 * content, never by file name.
 */
import {
  closeSync,
  createReadStream,
  fstatSync,
  lstatSync,
  openSync,
  readlinkSync,
  realpathSync,
  type Stats,
  statSync,
} from 'node:fs';
import { join, posix } from 'node:path';
import { Readable } from 'node:stream';
import { errnoOf, PilotError } from '../core/errors.js';
import { escapeExcerpt } from '../core/excerpt.js';
import { readHead } from '../core/fs-query.js';
import { decompressArchive } from './archive-scratch.js';
import { compressionOf } from './extract/decompress.js';
import { indexTarFile, looksLikeTar, resolveMember, type TarMember } from './tar-index.js';

/** A file that can be opened more than once (extraction reads it twice). */
export interface BlobSource {
  /** For messages: `archive.tar:blobs/sha256/ab…`. */
  describe: string;
  size: number;
  open(): Readable;
}

export interface ArchiveFiles {
  /** The archive path as the user gave it, for messages. */
  source: string;
  get(name: string): BlobSource | undefined;
  has(name: string): boolean;
}

/** Image metadata (index.json, manifest.json, manifests, indexes, configs): the most one file may have. */
export const MAX_METADATA_BYTES = 4 * 1024 * 1024;

function tooLarge(blob: BlobSource, size: number, limit: number): PilotError {
  return new PilotError(
    'PILOT_IMAGE_INVALID',
    `${escapeExcerpt(blob.describe, 200)} has ${size} bytes; pilot reads image metadata (index.json, manifest.json, manifests, configs) of at most ${limit} bytes each`,
    {
      hint: 'the metadata of a real image is a few kilobytes; check that this is an image archive, or save fewer images in it',
    },
  );
}

/** A metadata file's bytes, refused past `limit` before reading, and while reading (it may grow). */
export async function readBlobBytes(blob: BlobSource, limit = MAX_METADATA_BYTES): Promise<Buffer> {
  if (blob.size > limit) throw tooLarge(blob, blob.size, limit);
  const chunks: Buffer[] = [];
  let size = 0;
  const stream = blob.open();
  try {
    for await (const chunk of stream) {
      size += (chunk as Buffer).length;
      if (size > limit) throw tooLarge(blob, size, limit);
      chunks.push(chunk as Buffer);
    }
  } finally {
    stream.destroy();
  }
  return Buffer.concat(chunks);
}

export function unknownArchive(source: string, why: string): PilotError {
  return new PilotError(
    'PILOT_IMAGE_INVALID',
    `${source} is not an image archive (${why}); expected an oci-archive or docker-archive (plain, gzip, xz or zstd), an OCI layout directory or an unpacked docker save directory`,
    {
      hint: 'create one with "podman save --format oci-archive -o FILE IMAGE" or "docker save -o FILE IMAGE"',
    },
  );
}

export interface OpenOptions {
  /** Bytes a decompressed archive may take in the scratch dir (default: what its disk can spare). */
  scratchLimit?: number | undefined;
  /** Progress of decompressing a compressed archive, in its compressed bytes. */
  onProgress?: ((bytesRead: number, bytesTotal: number) => void) | undefined;
}

/**
 * Opens `source` for reading: a tar (plain, or gzip, xz or zstd compressed: an oci-archive
 * or a docker-archive) or a directory (an OCI layout, or an unpacked `docker save`). A
 * compressed archive cannot be read by offset, so it is decompressed once into
 * `scratchDir` (inside the store's tmp/).
 */
export async function openArchive(
  source: string,
  scratchDir: string,
  options: OpenOptions = {},
): Promise<ArchiveFiles> {
  let stat: ReturnType<typeof statSync>;
  try {
    stat = statSync(source);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') {
      throw new PilotError(
        'PILOT_IMAGE_INVALID',
        `cannot load ${source}: no such file or directory`,
        {
          hint: 'check the path; "podman save --format oci-archive -o FILE IMAGE" makes an archive',
          cause: error,
        },
      );
    }
    throw new PilotError(
      'PILOT_IMAGE_INVALID',
      `cannot read ${source}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  if (stat.isDirectory()) return openDirectory(source);
  if (!stat.isFile()) throw unknownArchive(source, 'not a regular file or directory');
  let file = source;
  const head = readHead(source, 512);
  const compression = compressionOf(head);
  if (compression === 'gzip' || compression === 'xz' || compression === 'zstd') {
    file = await decompressArchive(
      source,
      compression,
      scratchDir,
      options.scratchLimit,
      options.onProgress,
    );
    if (!looksLikeTar(readHead(file, 512)))
      throw unknownArchive(source, `${compression} data that is not a tar`);
  } else if (compression !== 'none') {
    throw unknownArchive(
      source,
      `${compression}-compressed, which pilot does not read; it reads plain, gzip, xz and zstd archives`,
    );
  } else if (!looksLikeTar(head)) {
    throw unknownArchive(source, 'not a tar file');
  }
  return openTar(source, file);
}

function openTar(source: string, file: string): ArchiveFiles {
  const members = indexTarFile(file);
  const sourceOf = (member: TarMember, name: string): BlobSource => ({
    describe: `${source}:${name}`,
    size: member.size,
    open: () =>
      member.size === 0
        ? Readable.from([])
        : createReadStream(file, {
            start: member.offset,
            end: member.offset + member.size - 1,
            highWaterMark: 1024 * 1024,
          }),
  });
  return {
    source,
    has: (name) => resolveMember(members, name) !== undefined,
    get: (name) => {
      const member = resolveMember(members, name);
      return member ? sourceOf(member, name) : undefined;
    },
  };
}

/** Linux's O_PATH (fs.constants lacks it): a handle that reads nothing and cannot block. */
const O_PATH = 0o10000000;

function kindOf(stat: Stats): string {
  if (stat.isFIFO()) return 'a FIFO';
  if (stat.isSocket()) return 'a socket';
  if (stat.isCharacterDevice() || stat.isBlockDevice()) return 'a device';
  if (stat.isDirectory()) return 'a directory';
  return 'not a file';
}

function refused(dir: string, name: string, why: string, cause?: unknown): PilotError {
  return new PilotError('PILOT_IMAGE_INVALID', `${dir}/${escapeExcerpt(name)} ${why}`, {
    hint: 'pilot reads only regular files inside an OCI layout directory; copy the image into a fresh one (skopeo copy ... oci:DIR) or load an archive',
    cause,
  });
}

/**
 * Opens `name` inside `dir` for reading, or undefined when it does not exist. Whoever
 * hands root a directory controls its links: the file is first taken as an O_PATH
 * handle (no data read, no device opened, a FIFO does not block), its real place is read
 * from /proc/self/fd, and only a regular file inside `realDir` is then opened, through
 * that same handle, so a link swapped in meanwhile changes nothing.
 */
function openInside(
  dir: string,
  realDir: string,
  name: string,
): { fd: number; size: number } | undefined {
  let handle: number;
  try {
    handle = openSync(join(dir, name), O_PATH);
  } catch (error) {
    const code = errnoOf(error);
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    if (code === 'ELOOP') throw refused(dir, name, 'is a loop of symbolic links', error);
    throw refused(dir, name, `cannot be opened (${code ?? 'error'})`, error);
  }
  try {
    const real = whereIs(handle, dir, name);
    if (!real.startsWith(realDir === '/' ? '/' : `${realDir}/`)) {
      throw refused(dir, name, `is a symbolic link that leads outside ${dir}`);
    }
    const stat = fstatSync(handle);
    if (!stat.isFile()) throw refused(dir, name, `is not a regular file (${kindOf(stat)})`);
    return { fd: openSync(`/proc/self/fd/${handle}`, 'r'), size: stat.size };
  } finally {
    closeSync(handle);
  }
}

function whereIs(handle: number, dir: string, name: string): string {
  try {
    return readlinkSync(`/proc/self/fd/${handle}`);
  } catch (error) {
    throw refused(dir, name, 'cannot be checked: /proc/self/fd is not readable', error);
  }
}

function openDirectory(dir: string): ArchiveFiles {
  const realDir = realpathSync(dir);
  const nameOf = (name: string): string | undefined => {
    // A manifest naming `../../etc/shadow` must not read host files.
    const normal = posix.normalize(name);
    if (normal.startsWith('/') || normal === '..' || normal.startsWith('../')) return undefined;
    return normal;
  };
  const exists = (name: string): boolean => {
    try {
      lstatSync(join(dir, name));
      return true;
    } catch {
      return false;
    }
  };
  return {
    source: dir,
    // Whatever is there counts: a link out of the directory is refused by get, by name.
    has: (name) => {
      const normal = nameOf(name);
      return normal !== undefined && exists(normal);
    },
    get: (name) => {
      const normal = nameOf(name);
      const found = normal === undefined ? undefined : openInside(dir, realDir, normal);
      if (normal === undefined || !found) return undefined;
      closeSync(found.fd);
      return {
        describe: `${dir}/${escapeExcerpt(normal)}`,
        size: found.size,
        open: () => {
          const again = openInside(dir, realDir, normal);
          if (!again) throw refused(dir, normal, 'disappeared while it was being read');
          return createReadStream('', { fd: again.fd, highWaterMark: 1024 * 1024 });
        },
      };
    },
  };
}

/** Reads a small file (JSON metadata) from the archive, or undefined when absent. */
export async function readArchiveFile(
  files: ArchiveFiles,
  name: string,
): Promise<Buffer | undefined> {
  const blob = files.get(name);
  return blob ? readBlobBytes(blob) : undefined;
}
