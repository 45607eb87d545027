/**
 * A minimal tar writer for the few entries pilot makes itself (overlay whiteout devices)
 * and for tests that must craft exact, even hostile, headers: node-tar's `create` only
 * packs real files and sanitizes paths, which is what a test of the refusals cannot use.
 */
import { Header } from 'tar';

export type TarEntryType = 'file' | 'dir' | 'symlink' | 'link' | 'char' | 'block' | 'fifo';

export interface TarEntrySpec {
  path: string;
  type?: TarEntryType;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: Date;
  linkpath?: string;
  devmajor?: number;
  devminor?: number;
  body?: Buffer | string;
  /** Extra pax records, e.g. `{'SCHILY.xattr.user.x': 'y'}`. */
  pax?: Record<string, string>;
}

const headerTypes: Record<TarEntryType, string> = {
  file: 'File',
  dir: 'Directory',
  symlink: 'SymbolicLink',
  link: 'Link',
  char: 'CharacterDevice',
  block: 'BlockDevice',
  fifo: 'FIFO',
};

const BLOCK = 512;

function pad(data: Buffer): Buffer {
  const rest = data.length % BLOCK;
  return rest === 0 ? data : Buffer.concat([data, Buffer.alloc(BLOCK - rest)]);
}

/** One pax record: the length prefix counts itself, so grow it until it is stable. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  const bodyLength = Buffer.byteLength(body);
  let length = bodyLength + 1;
  while (String(length).length + bodyLength !== length) length = String(length).length + bodyLength;
  return `${length}${body}`;
}

function encodeHeader(fields: ConstructorParameters<typeof Header>[0]): Buffer {
  const block = Buffer.alloc(BLOCK);
  new Header(fields).encode(block, 0);
  return block;
}

/** Header block(s) and padded body of one entry. Long paths go into a pax header. */
export function encodeTarEntry(spec: TarEntrySpec): Buffer {
  const type = spec.type ?? (spec.linkpath === undefined ? 'file' : 'symlink');
  const body = spec.body === undefined ? Buffer.alloc(0) : Buffer.from(spec.body);
  const pax: Record<string, string> = { ...spec.pax };
  if (Buffer.byteLength(spec.path) > 99) pax.path = spec.path;
  if (spec.linkpath !== undefined && Buffer.byteLength(spec.linkpath) > 99) {
    pax.linkpath = spec.linkpath;
  }
  const out: Buffer[] = [];
  if (Object.keys(pax).length > 0) {
    const paxBody = Buffer.from(
      Object.entries(pax)
        .map(([key, value]) => paxRecord(key, value))
        .join(''),
    );
    out.push(
      encodeHeader({
        path: `PaxHeaders/${spec.path.slice(-80)}`.slice(0, 99),
        type: 'ExtendedHeader',
        size: paxBody.length,
        mode: 0o644,
        mtime: spec.mtime ?? new Date(0),
      }),
      pad(paxBody),
    );
  }
  out.push(
    encodeHeader({
      path: pax.path === undefined ? spec.path : spec.path.slice(0, 99),
      type: headerTypes[type] as never,
      mode: spec.mode ?? (type === 'dir' ? 0o755 : type === 'symlink' ? 0o777 : 0o644),
      uid: spec.uid ?? 0,
      gid: spec.gid ?? 0,
      size: type === 'file' ? body.length : 0,
      mtime: spec.mtime ?? new Date(0),
      linkpath:
        spec.linkpath === undefined || pax.linkpath !== undefined
          ? spec.linkpath?.slice(0, 99)
          : spec.linkpath,
      uname: '',
      gname: '',
      devmaj: spec.devmajor ?? 0,
      devmin: spec.devminor ?? 0,
    }),
  );
  if (type === 'file') out.push(pad(body));
  return Buffer.concat(out);
}

/** A whole archive: the entries and the two zero blocks that end it. */
export function encodeTar(specs: TarEntrySpec[]): Buffer {
  return Buffer.concat([...specs.map(encodeTarEntry), Buffer.alloc(BLOCK * 2)]);
}

/** The header block of a regular file of `size` bytes (root-owned, 0644): a streamed body follows, padded to a block. */
export function tarFileHeader(path: string, size: number, mtime = new Date(0)): Buffer {
  if (Buffer.byteLength(path) > 99) throw new Error(`tar member name too long: ${path}`);
  return encodeHeader({
    path,
    type: 'File',
    mode: 0o644,
    uid: 0,
    gid: 0,
    size,
    mtime,
    uname: '',
    gname: '',
  });
}

/** Zero bytes that pad a member of `size` bytes to a whole block. */
export function tarPadding(size: number): Buffer {
  const rest = size % BLOCK;
  return Buffer.alloc(rest === 0 ? 0 : BLOCK - rest);
}

/** The two zero blocks that end an archive. */
export const TAR_END = Buffer.alloc(BLOCK * 2);
