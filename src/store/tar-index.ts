/**
 * Random access into an uncompressed tar file: one walk over the headers (the data is
 * skipped, never read) gives each member's offset, so a blob can later be streamed
 * straight from the archive without unpacking the archive to disk.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { posix } from 'node:path';
import { Header, Pax } from 'tar';
import { PilotError } from '../core/errors.js';

export interface TarMember {
  /** Normalized: no leading `./`, no trailing `/`. */
  name: string;
  type: string;
  /** Offset of the member's data in the file. */
  offset: number;
  size: number;
  linkpath: string | undefined;
}

const BLOCK = 512;
const MAX_META = 16 * 1024 * 1024;

export function normalizeMemberName(name: string): string {
  return posix.normalize(`/${name}`).slice(1).replace(/\/+$/, '');
}

/** True when the first block is a valid tar header (checksum), i.e. this is a tar file. */
export function looksLikeTar(head: Buffer): boolean {
  if (head.length < BLOCK) return false;
  try {
    const header = new Header(head.subarray(0, BLOCK));
    return !header.nullBlock && header.cksumValid;
  } catch {
    return false;
  }
}

export function indexTarFile(file: string): Map<string, TarMember> {
  const fd = openSync(file, 'r');
  try {
    return indexTarFd(fd, file);
  } finally {
    closeSync(fd);
  }
}

function readExactly(fd: number, length: number, position: number): Buffer {
  const buffer = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buffer, done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return done === length ? buffer : buffer.subarray(0, done);
}

function indexTarFd(fd: number, file: string): Map<string, TarMember> {
  const fileSize = fstatSync(fd).size;
  const members = new Map<string, TarMember>();
  const truncated = (what: string) =>
    new PilotError('PILOT_IMAGE_INVALID', `archive ${file} is truncated or corrupt: ${what}`, {
      hint: 'copy or save the archive again',
    });
  let position = 0;
  let extended: Pax | undefined;
  let globalExtended: Pax | undefined;
  let longPath: string | undefined;
  let longLink: string | undefined;
  for (;;) {
    const block = readExactly(fd, BLOCK, position);
    if (block.length < BLOCK) {
      if (position === 0) throw truncated('shorter than one tar block');
      // Archives cut right after the last member (no end blocks) are accepted; a cut
      // inside a member is caught below by the size check.
      break;
    }
    if (block.every((byte) => byte === 0)) break;
    const header = new Header(block, 0, extended, globalExtended);
    if (!header.cksumValid) throw truncated(`bad tar header at offset ${position}`);
    const size = header.size ?? 0;
    const dataOffset = position + BLOCK;
    if (dataOffset + size > fileSize) {
      throw truncated(`member "${header.path}" needs ${dataOffset + size - fileSize} more bytes`);
    }
    position = dataOffset + Math.ceil(size / BLOCK) * BLOCK;
    const type = header.type;
    if (
      type === 'ExtendedHeader' ||
      type === 'GlobalExtendedHeader' ||
      type === 'NextFileHasLongPath' ||
      type === 'NextFileHasLongLinkpath'
    ) {
      if (size > MAX_META) throw truncated(`oversized ${type} at offset ${dataOffset - BLOCK}`);
      const text = readExactly(fd, size, dataOffset).toString('utf8');
      if (type === 'ExtendedHeader') extended = Pax.parse(text, extended, false);
      else if (type === 'GlobalExtendedHeader')
        globalExtended = Pax.parse(text, globalExtended, true);
      else if (type === 'NextFileHasLongPath') longPath = text.replace(/\0.*$/s, '');
      else longLink = text.replace(/\0.*$/s, '');
      continue;
    }
    const rawName = longPath ?? header.path ?? '';
    const member: TarMember = {
      name: normalizeMemberName(rawName),
      type,
      offset: dataOffset,
      size,
      linkpath: longLink ?? header.linkpath,
    };
    extended = undefined;
    longPath = undefined;
    longLink = undefined;
    if (member.name !== '') members.set(member.name, member);
  }
  return members;
}

/**
 * The regular-file member a name leads to, following the archive's own symlinks and
 * hard links (`docker save` links identical layer tarballs to each other).
 */
export function resolveMember(
  members: Map<string, TarMember>,
  name: string,
): TarMember | undefined {
  let current = normalizeMemberName(name);
  for (let hops = 0; hops < 32; hops++) {
    const member = members.get(current);
    if (!member) return undefined;
    if (member.type === 'SymbolicLink' && member.linkpath !== undefined) {
      if (member.linkpath.startsWith('/')) return undefined;
      current = normalizeMemberName(posix.join(posix.dirname(current), member.linkpath));
      continue;
    }
    if (member.type === 'Link' && member.linkpath !== undefined) {
      current = normalizeMemberName(member.linkpath);
      continue;
    }
    return member.type === 'File' || member.type === 'OldFile' || member.type === 'ContiguousFile'
      ? member
      : undefined;
  }
  return undefined;
}
