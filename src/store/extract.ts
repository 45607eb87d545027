/**
 * Safe, faithful extraction of a tar (plain, gzip or zstd) into a directory.
 *
 * Pass 1 streams the input through sha256 (as given), the decompressor, sha256 (the
 * uncompressed tar, i.e. the OCI diff_id) and node-tar's parser, and refuses the archive
 * before anything is written if one entry could escape the directory. Pass 2 extracts
 * with GNU tar, because only it keeps ownership, modes, hard links, xattrs and file
 * capabilities (node-tar cannot write xattrs), into a staging dir that is renamed into
 * place at the end. GNU tar lists what it extracted; that list must equal the one pass 1
 * validated, so a header the two readers parse differently cannot smuggle an entry in.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import {
  chmodSync,
  createReadStream,
  createWriteStream,
  lstatSync,
  lutimesSync,
  mkdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join, posix } from 'node:path';
import { Duplex, PassThrough, Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { Parser, type ReadEntry } from 'tar';
import { commitRename } from '../core/atomic-fs.js';
import { debugStep } from '../core/debug.js';
import { errnoOf, PilotError } from '../core/errors.js';
import { removeTree, sweepBeforeWrite, tempName } from '../core/temp-entries.js';
import { encodeTar } from './tar-write.js';

/** A tar file path, a stream (read once, spooled), or something that opens a fresh stream. */
export type TarInput = string | Readable | { open(): Readable };

export type Compression = 'gzip' | 'zstd' | 'none';

export interface ExtractOptions {
  /** Where the staging dir goes; must be on the same file system as `dest`. */
  tmpDir: string;
  /** Names the archive in messages, e.g. `layer sha256:ab… of image.tar`. */
  label?: string;
  /** `sha256:…` of the input bytes as given (compressed blob digest). */
  expectedDigest?: string;
  /** `sha256:…` of the uncompressed tar (diff_id). */
  expectedDiffId?: string;
  /** `overlay` (default) turns OCI whiteouts into overlayfs ones; `keep` leaves the files. */
  whiteouts?: 'overlay' | 'keep';
  /** Root may extract device nodes and keep owners; default: the effective uid is 0. */
  privileged?: boolean;
  /** Called with byte counts as the input is read (twice: once per pass). */
  onBytes?: (bytes: number) => void;
  /** Runs after extraction, before the rename into place (write records here). */
  beforeCommit?: (result: ExtractResult) => void;
}

export interface ExtractResult {
  dest: string;
  /** False when `dest` already existed (another process extracted the same content). */
  created: boolean;
  digest: string;
  diffId: string;
  compression: Compression;
  /** Apparent bytes: file sizes plus symlink target lengths. */
  size: number;
  /** Bytes of the uncompressed tar. */
  tarSize: number;
  entries: number;
}

/** Bigger reads than Node's 64 KiB default: fewer trips through the stream machinery. */
export const READ_CHUNK = 1024 * 1024;

const WHITEOUT_PREFIX = '.wh.';
const OPAQUE_MARKER = '.wh..wh..opq';

function unsafe(label: string, path: string, reason: string): PilotError {
  return new PilotError('PILOT_LAYER_UNSAFE', `${label}: entry "${path}" ${reason}; refused`, {
    hint: 'the archive could write outside its directory; rebuild the image without that entry',
  });
}

function invalid(label: string, reason: string, cause?: unknown): PilotError {
  return new PilotError('PILOT_IMAGE_INVALID', `${label}: ${reason}`, {
    hint: 'the archive is corrupt or truncated; save or copy it again',
    cause,
  });
}

/** `a//b/./c/` → `a/b/c`; the archive root is `.`. Assumes `..` was refused already. */
function splitEntryPath(path: string): string[] {
  return path.split('/').filter((part) => part !== '' && part !== '.');
}

interface EntryInfo {
  path: string;
  type: string;
  linkpath?: string | undefined;
  size: number;
  devmajor: number;
  devminor: number;
}

/** Pass 1's rules, one entry at a time, in archive order. */
export class EntryValidator {
  readonly names: string[] = [];
  readonly whiteouts: string[] = [];
  readonly opaqueDirs: string[] = [];
  readonly otherWhiteoutFiles: string[] = [];
  size = 0;
  private readonly symlinks = new Set<string>();
  private readonly nonDirectories = new Set<string>();

  constructor(
    private readonly label: string,
    private readonly privileged: boolean,
  ) {}

  private checkParents(shown: string, parts: string[], what: string): void {
    if (this.symlinks.size === 0) return;
    let prefix = '';
    for (let i = 0; i < parts.length - 1; i++) {
      prefix = i === 0 ? parts[0]! : `${prefix}/${parts[i]}`;
      if (this.symlinks.has(prefix)) {
        throw unsafe(
          this.label,
          shown,
          `${what} "${prefix}", a symlink earlier in the same archive`,
        );
      }
    }
  }

  check(entry: EntryInfo): void {
    const { path, type } = entry;
    if (path.includes('\0')) throw unsafe(this.label, path, 'has a NUL byte in its name');
    if (path.startsWith('/')) throw unsafe(this.label, path, 'is an absolute path');
    const parts = splitEntryPath(path);
    if (parts.includes('..')) throw unsafe(this.label, path, 'has a ".." component');
    const normal = parts.join('/');
    if (normal === '' && type !== 'Directory') {
      throw unsafe(this.label, path, 'would replace the archive root');
    }
    this.checkParents(path, parts, 'lies under');
    switch (type) {
      case 'File':
      case 'OldFile':
      case 'ContiguousFile':
        this.size += entry.size;
        break;
      case 'Directory':
        break;
      case 'SymbolicLink':
        // The target is data: it only ever resolves inside the container's root.
        this.symlinks.add(normal);
        this.size += Buffer.byteLength(entry.linkpath ?? '');
        break;
      case 'Link': {
        const target = entry.linkpath ?? '';
        if (target.startsWith('/')) {
          throw unsafe(this.label, path, `is a hard link to the absolute path "${target}"`);
        }
        const targetParts = splitEntryPath(target);
        if (targetParts.includes('..') || target.includes('\0')) {
          throw unsafe(
            this.label,
            path,
            `is a hard link to "${target}", which has a ".." component`,
          );
        }
        const targetNormal = targetParts.join('/');
        if (!this.nonDirectories.has(targetNormal)) {
          throw unsafe(
            this.label,
            path,
            `is a hard link to "${target}", which is not an earlier file of the archive`,
          );
        }
        this.checkParents(path, targetParts, 'is a hard link through');
        break;
      }
      case 'CharacterDevice':
      case 'BlockDevice': {
        const whiteoutDevice =
          type === 'CharacterDevice' && entry.devmajor === 0 && entry.devminor === 0;
        if (!this.privileged && !whiteoutDevice) {
          throw unsafe(this.label, path, 'is a device node, which only root may extract');
        }
        break;
      }
      case 'FIFO':
        break;
      default:
        throw unsafe(this.label, path, `has the unsupported tar entry type "${type}"`);
    }
    if (type !== 'Directory') this.nonDirectories.add(normal);
    this.names.push(normal === '' ? '.' : normal);
    const base = parts[parts.length - 1] ?? '';
    if (base.startsWith(WHITEOUT_PREFIX)) {
      if (base === OPAQUE_MARKER) this.opaqueDirs.push(parts.slice(0, -1).join('/') || '.');
      else if (
        base.startsWith(`${WHITEOUT_PREFIX}${WHITEOUT_PREFIX}`) ||
        base === WHITEOUT_PREFIX
      ) {
        // aufs bookkeeping (.wh..wh.plnk, .wh..wh.aufs): meaningless to overlayfs.
        this.otherWhiteoutFiles.push(normal);
      } else this.whiteouts.push(normal);
    }
  }
}

function isPrivileged(): boolean {
  return process.geteuid?.() === 0;
}

async function sniffCompression(open: () => Readable): Promise<Compression> {
  const stream = open();
  let head = Buffer.alloc(0);
  try {
    for await (const chunk of stream) {
      head = Buffer.concat([head, chunk as Buffer]);
      if (head.length >= 4) break;
    }
  } finally {
    stream.destroy();
  }
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  return 'none';
}

function decompressor(compression: Compression): Duplex {
  if (compression === 'gzip') return createGunzip();
  if (compression === 'none') return new PassThrough();
  const child = spawn('zstd', ['-d', '-c', '-q'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const duplex = Duplex.from({ writable: child.stdin, readable: child.stdout });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.on('error', (error) => duplex.destroy(error));
  child.on('close', (code) => {
    if (code !== 0) duplex.destroy(new Error(`zstd -d failed (exit ${code}): ${stderr.trim()}`));
  });
  return duplex;
}

function tap(onChunk: (chunk: Buffer) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      onChunk(chunk);
      callback(null, chunk);
    },
  });
}

interface Pass1Result {
  validator: EntryValidator;
  rawSize: number;
  digest: string;
  diffId: string;
  tarSize: number;
}

async function validatePass(
  open: () => Readable,
  compression: Compression,
  label: string,
  options: ExtractOptions,
  spoolFile?: string,
): Promise<Pass1Result> {
  const spool = spoolFile === undefined ? undefined : createWriteStream(spoolFile, { mode: 0o600 });
  const validator = new EntryValidator(label, options.privileged ?? isPrivileged());
  const rawHash = createHash('sha256');
  const tarHash = createHash('sha256');
  let tarSize = 0;
  let rawSize = 0;
  let failure: unknown;
  const warnings: string[] = [];
  // Every entry is ignored (node-tar then skips its body without copying it into an
  // entry stream, several times faster) and checked as it goes by. Entries node-tar
  // ignores by itself (unknown types, oversized pax headers) come by here too.
  const parser = new Parser({
    strict: false,
    maxMetaEntrySize: 16 * 1024 * 1024,
    onwarn: (code: string, message: string | Error) => {
      const text = typeof message === 'string' ? message : message.message;
      warnings.push(`${code}: ${text}`);
    },
    filter: () => false,
  });
  parser.on('ignoredEntry', (entry: ReadEntry) => {
    if (failure !== undefined) return;
    try {
      if (entry.meta) {
        throw unsafe(label, entry.path, `has an extended header larger than 16 MiB`);
      }
      validator.check({
        path: entry.path,
        type: entry.type,
        linkpath: entry.linkpath,
        size: entry.size,
        devmajor: entry.header.devmaj,
        devminor: entry.header.devmin,
      });
    } catch (error) {
      failure = error;
    }
  });
  const parsed = new Promise<void>((resolve) => parser.on('end', () => resolve()));
  try {
    await pipeline(
      open(),
      tap((chunk) => {
        rawHash.update(chunk);
        rawSize += chunk.length;
        options.onBytes?.(chunk.length);
      }),
      decompressor(compression),
      async (source: AsyncIterable<Buffer>) => {
        for await (const chunk of source) {
          // uncompressed: the tar is the blob, hashed once above
          if (compression !== 'none') tarHash.update(chunk);
          tarSize += chunk.length;
          if (!parser.write(chunk)) await new Promise((resolve) => parser.once('drain', resolve));
          if (failure !== undefined) throw failure;
          if (spool && !spool.write(chunk)) await once(spool, 'drain');
        }
        if (spool)
          await new Promise<void>((resolve, reject) =>
            spool.end((error?: Error | null) => (error ? reject(error) : resolve())),
          );
      },
    );
  } catch (error) {
    spool?.destroy();
    if (failure !== undefined) throw failure;
    throw invalid(label, `cannot read the archive: ${(error as Error).message}`, error);
  }
  parser.end();
  await parsed;
  if (failure !== undefined) throw failure;
  const digest = `sha256:${rawHash.digest('hex')}`;
  const diffId = compression === 'none' ? digest : `sha256:${tarHash.digest('hex')}`;
  if (options.expectedDigest && options.expectedDigest !== digest) {
    throw new PilotError(
      'PILOT_DIGEST_MISMATCH',
      `${label}: the blob's digest is ${digest}, but ${options.expectedDigest} was expected`,
      { hint: 'the archive is corrupt or was modified; save or download it again' },
    );
  }
  if (options.expectedDiffId && options.expectedDiffId !== diffId) {
    throw new PilotError(
      'PILOT_DIGEST_MISMATCH',
      `${label}: the uncompressed layer's digest is ${diffId}, but the image config says ${options.expectedDiffId}`,
      { hint: 'the archive is corrupt or was modified; save or download it again' },
    );
  }
  // A wrong blob is reported as such, before whatever its bytes look like as a tar.
  const fatal = warnings.filter(
    (warning) => !(validator.names.length === 0 && warning.includes('Unrecognized archive format')),
  );
  if (fatal.length > 0) throw invalid(label, `not a valid tar archive (${fatal[0]})`);
  return { validator, digest, diffId, tarSize, rawSize };
}

/** Reverses GNU tar's `escape` quoting (LC_ALL=C): backslash escapes and octal bytes. */
export function decodeTarEscapes(text: string): string {
  if (!text.includes('\\')) return text;
  const bytes: number[] = [];
  const simple: Record<string, number> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, '\\': 92 };
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!;
    if (char !== '\\') {
      for (const byte of Buffer.from(char, 'latin1')) bytes.push(byte);
      continue;
    }
    const next = text[i + 1] ?? '';
    if (/[0-7]/.test(next)) {
      const octal = /^[0-7]{1,3}/.exec(text.slice(i + 1))![0];
      bytes.push(Number.parseInt(octal, 8) & 0xff);
      i += octal.length;
    } else if (next in simple) {
      bytes.push(simple[next]!);
      i += 1;
    } else {
      bytes.push(92);
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

function gnuTarArgs(staging: string, privileged: boolean): string[] {
  const args = ['-x', '-v', '-f', '-', '-C', staging, '--numeric-owner', '-p'];
  args.push('--quoting-style=escape', '--warning=no-unknown-keyword', '--warning=no-timestamp');
  if (privileged) args.push('--same-owner', '--xattrs', '--xattrs-include=*', '--acls');
  else args.push('--no-same-owner', '--xattrs', '--xattrs-include=user.*');
  return args;
}

function waitForExit(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve(code ?? 128 + (signal ? 15 : 0)));
  });
}

async function extractPass(
  open: () => Readable,
  compression: Compression,
  staging: string,
  label: string,
  options: ExtractOptions,
): Promise<string[]> {
  const privileged = options.privileged ?? isPrivileged();
  const child = spawn('tar', gnuTarArgs(staging, privileged), {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, LC_ALL: 'C' },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('latin1');
  child.stdout.on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = waitForExit(child);
  // GNU tar may exit as soon as it reads the end-of-archive blocks, before the padding
  // after them: a closed stdin then is not an error (its exit status says how it went).
  let stdinClosed = false;
  child.stdin.on('error', () => {
    stdinClosed = true;
  });
  child.stdin.on('close', () => {
    stdinClosed = true;
  });
  let feedError: unknown;
  try {
    await pipeline(
      open(),
      tap((chunk) => options.onBytes?.(chunk.length)),
      decompressor(compression),
      async (source: AsyncIterable<Buffer>) => {
        for await (const chunk of source) {
          if (stdinClosed) break;
          if (!child.stdin.write(chunk)) {
            await new Promise<void>((resolve) => {
              const done = () => {
                child.stdin.off('drain', done);
                child.stdin.off('close', done);
                resolve();
              };
              child.stdin.on('drain', done);
              child.stdin.on('close', done);
            });
          }
        }
        child.stdin.end();
      },
    );
  } catch (error) {
    feedError = error;
    child.stdin.destroy();
  }
  let code: number;
  try {
    code = await exited;
  } catch (error) {
    throw new PilotError(
      'PILOT_RUNTIME',
      `cannot run GNU tar to extract ${label}: ${(error as Error).message}`,
      {
        hint: 'install GNU tar (Debian: apt-get install tar)',
        cause: error,
      },
    );
  }
  if (code !== 0) {
    throw new PilotError(
      'PILOT_RUNTIME',
      `GNU tar failed (exit ${code}) extracting ${label}: ${stderr.trim() || 'no message'}`,
      { hint: 'command: tar ' + gnuTarArgs(staging, privileged).join(' ') },
    );
  }
  if (feedError !== undefined) {
    throw invalid(label, `cannot read the archive: ${(feedError as Error).message}`, feedError);
  }
  return stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const normal = splitEntryPath(decodeTarEscapes(line)).join('/');
      return normal === '' ? '.' : normal;
    });
}

function compareNames(label: string, validated: string[], extracted: string[]): void {
  const length = Math.max(validated.length, extracted.length);
  for (let i = 0; i < length; i++) {
    if (validated[i] !== extracted[i]) {
      throw new PilotError(
        'PILOT_LAYER_UNSAFE',
        `${label}: entry ${i + 1} reads as "${validated[i] ?? '(none)'}" to the validator but as "${extracted[i] ?? '(none)'}" to GNU tar; refused`,
        { hint: 'the archive has headers that tar readers interpret differently; rebuild it' },
      );
    }
  }
}

/** The `getfattr --dump` escaping that `setfattr --restore` reads back. */
function escapeDumpName(name: string): string {
  let out = '';
  for (const byte of Buffer.from(name)) {
    out +=
      byte <= 0x20 || byte === 0x5c || byte >= 0x7f
        ? `\\${byte.toString(8).padStart(3, '0')}`
        : String.fromCharCode(byte);
  }
  return out;
}

async function runTool(
  command: string,
  args: string[],
  input: Buffer | undefined,
  cwd: string,
): Promise<void> {
  const child = spawn(command, args, { cwd, stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = waitForExit(child);
  child.stdin?.on('error', () => {
    // exit status reports the failure
  });
  child.stdin?.end(input);
  let code: number;
  try {
    code = await exited;
  } catch (error) {
    throw new PilotError('PILOT_RUNTIME', `cannot run ${command}: ${(error as Error).message}`, {
      hint: command === 'setfattr' ? 'install attr (Debian: apt-get install attr)' : undefined,
      cause: error,
    });
  }
  if (code !== 0) {
    throw new PilotError(
      'PILOT_RUNTIME',
      `${command} ${args.join(' ')} failed (exit ${code}): ${stderr.trim()}`,
    );
  }
}

/**
 * OCI whiteouts → overlayfs: `.wh.NAME` becomes a 0/0 character device NAME, and
 * `.wh..wh..opq` marks its directory opaque. Both opaque xattrs are written: the kernel
 * reads `trusted.overlay.*` only for an overlay mounted by real root, and `user.overlay.*`
 * for one mounted in a user namespace (`userxattr`). Parent mtimes are put back so the
 * conversion does not show up as a change to the directory.
 */
async function convertWhiteouts(
  staging: string,
  validator: EntryValidator,
  tmpDir: string,
  privileged: boolean,
): Promise<void> {
  const { whiteouts, opaqueDirs, otherWhiteoutFiles } = validator;
  if (whiteouts.length + opaqueDirs.length + otherWhiteoutFiles.length === 0) return;
  const all = [
    ...whiteouts,
    ...otherWhiteoutFiles,
    ...opaqueDirs.map((d) => posix.join(d, OPAQUE_MARKER)),
  ];
  const parentTimes = new Map<string, { atime: Date; mtime: Date }>();
  for (const path of all) {
    const parent = posix.dirname(path);
    if (parentTimes.has(parent)) continue;
    try {
      const stat = lstatSync(join(staging, parent));
      if (stat.isDirectory()) parentTimes.set(parent, { atime: stat.atime, mtime: stat.mtime });
    } catch (error) {
      if (errnoOf(error) !== 'ENOENT') throw error;
    }
  }
  for (const path of all) rmSync(join(staging, path), { recursive: true, force: true });
  const devices = [];
  for (const path of whiteouts) {
    const target = posix.join(
      posix.dirname(path),
      posix.basename(path).slice(WHITEOUT_PREFIX.length),
    );
    // A file of the same layer with that name wins: a whiteout only hides lower layers.
    try {
      lstatSync(join(staging, target));
      continue;
    } catch (error) {
      if (errnoOf(error) !== 'ENOENT') throw error;
    }
    devices.push({ path: target, type: 'char' as const, mode: 0, devmajor: 0, devminor: 0 });
  }
  if (devices.length > 0) {
    const owner = privileged ? ['--same-owner'] : ['--no-same-owner'];
    await runTool(
      'tar',
      ['-x', '-f', '-', '-C', staging, '--numeric-owner', ...owner],
      encodeTar(devices),
      staging,
    );
  }
  if (opaqueDirs.length > 0) {
    const names = privileged
      ? ['trusted.overlay.opaque', 'user.overlay.opaque']
      : ['user.overlay.opaque'];
    const dump = opaqueDirs
      .map((dir) => `# file: ${escapeDumpName(dir)}\n${names.map((n) => `${n}="y"\n`).join('')}\n`)
      .join('');
    const dumpFile = join(tmpDir, tempName('opaque'));
    writeFileSync(dumpFile, dump);
    try {
      await runTool('setfattr', ['-h', `--restore=${dumpFile}`], undefined, staging);
    } finally {
      rmSync(dumpFile, { force: true });
    }
  }
  for (const [parent, times] of parentTimes)
    lutimesSync(join(staging, parent), times.atime, times.mtime);
}

async function spool(stream: Readable, file: string): Promise<void> {
  await pipeline(stream, createWriteStream(file, { mode: 0o600 }));
}

/**
 * Extracts `input` into `dest` (which must not exist yet; if it appears meanwhile, the
 * other writer's copy is kept and ours discarded). Nothing outside a staging dir in
 * `options.tmpDir` is written before the final rename, and the staging dir is removed on
 * every failure.
 */
export async function extractTarSafely(
  input: TarInput,
  dest: string,
  options: ExtractOptions,
): Promise<ExtractResult> {
  const label = options.label ?? (typeof input === 'string' ? input : 'tar archive');
  const privileged = options.privileged ?? isPrivileged();
  mkdirSync(options.tmpDir, { recursive: true });
  sweepBeforeWrite(options.tmpDir);
  const staging = join(options.tmpDir, tempName('extract'));
  const spoolFile = join(options.tmpDir, tempName('spool'));
  const plainFile = join(options.tmpDir, tempName('plain'));
  try {
    let open: () => Readable;
    if (typeof input === 'string') {
      try {
        lstatSync(input);
      } catch (error) {
        throw invalid(label, `cannot read ${input}: ${(error as Error).message}`, error);
      }
      open = () => createReadStream(input, { highWaterMark: READ_CHUNK });
    } else if (input instanceof Readable) {
      await spool(input, spoolFile);
      open = () => createReadStream(spoolFile, { highWaterMark: READ_CHUNK });
    } else {
      open = () => input.open();
    }
    const compression = await sniffCompression(open);
    // Decompressing costs more than writing the tar once more: pass 1 keeps the plain
    // tar for pass 2 instead of decompressing twice.
    const plainTar = compression === 'none' ? undefined : plainFile;
    const checked = await validatePass(
      open,
      compression,
      label,
      { ...options, privileged },
      plainTar,
    );
    debugStep(`validated ${label}`);
    mkdirSync(staging, { mode: 0o755 });
    chmodSync(staging, 0o755);
    const extracted =
      plainTar === undefined
        ? await extractPass(open, compression, staging, label, { ...options, privileged })
        : await extractPass(
            () => createReadStream(plainTar, { highWaterMark: READ_CHUNK }),
            'none',
            staging,
            label,
            {
              ...options,
              privileged,
              // progress counts input bytes; the plain tar is larger than the input
              onBytes: (bytes) =>
                options.onBytes?.((bytes * checked.rawSize) / Math.max(1, checked.tarSize)),
            },
          );
    debugStep(`extracted ${label}`);
    compareNames(label, checked.validator.names, extracted);
    if ((options.whiteouts ?? 'overlay') === 'overlay') {
      await convertWhiteouts(staging, checked.validator, options.tmpDir, privileged);
    }
    const result: ExtractResult = {
      dest,
      created: true,
      digest: checked.digest,
      diffId: checked.diffId,
      compression,
      size: checked.validator.size,
      tarSize: checked.tarSize,
      entries: checked.validator.names.length,
    };
    options.beforeCommit?.(result);
    try {
      commitRename(staging, dest);
    } catch (error) {
      const code = errnoOf(error);
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
      result.created = false;
    }
    return result;
  } finally {
    rmSync(spoolFile, { force: true });
    rmSync(plainFile, { force: true });
    removeTree(staging);
  }
}
