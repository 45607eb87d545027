/**
 * The last stage before the rename: OCI whiteout files become what overlayfs reads
 * (see convertWhiteouts), and makeWhiteoutDevices is pilot's one way to make a whiteout.
 * Paths inside the layer may reach past PATH_MAX below the staging dir: they go to the
 * kernel through withShortPath, or relative to the staging dir (tar, setfattr).
 */
import { lstatSync, lutimesSync, rmSync, writeFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { errnoOf, PilotError } from '../../core/errors.js';
import { withShortPath } from '../../core/long-path.js';
import { removeTree, tempName } from '../../core/temp-entries.js';
import { startToolLight } from '../../core/tool-light.js';
import { encodeTar } from '../tar-write.js';
import { type EntryValidator, OPAQUE_MARKER, WHITEOUT_PREFIX } from './entry-rules.js';

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

/** Runs `argv` in `cwd` with `input` on its stdin; fails as every tool does (tool-error.ts). */
async function feedTool(argv: string[], input: Buffer | undefined, cwd: string): Promise<void> {
  const { child, exit } = startToolLight(argv, {
    cwd,
    stdout: 'ignore',
    purpose: 'cannot finish the layer',
    code: 'PILOT_RUNTIME',
  });
  child.stdin?.on('error', () => {
    // its exit status reports the failure
  });
  child.stdin?.end(input);
  await exit;
}

/**
 * Makes a whiteout, a 0/0 character device, at each of `paths` (relative to `root`, whose
 * parents exist). This is pilot's one way to make them, for converted layers and the host
 * layer alike: GNU tar extracts a generated archive of device entries. Its mknod(2) is the
 * one mknod(1) would make, allowed to root, to root in a user namespace and, for 0/0
 * only, to any user (Linux 5.8 and later; the unprivileged extraction relies on that),
 * but tar is already required (it extracts every layer, 0/0 devices a layer carries
 * included), makes all of a layer's whiteouts in one process where mknod(1) takes one
 * per path, and applies the owner rule of pass 2: root keeps the entries' owner 0:0,
 * anyone else owns what it makes; the mode is 0 either way, as containerd writes them.
 */
export async function makeWhiteoutDevices(
  root: string,
  paths: readonly string[],
  privileged: boolean,
): Promise<void> {
  if (paths.length === 0) return;
  const devices = paths.map((path) => ({
    path,
    type: 'char' as const,
    mode: 0,
    devmajor: 0,
    devminor: 0,
  }));
  const owner = privileged ? ['--same-owner'] : ['--no-same-owner'];
  await feedTool(
    ['tar', '-x', '-f', '-', '-C', root, '--numeric-owner', ...owner],
    encodeTar(devices),
    root,
  );
}

/**
 * An opaque marker at a layer's root means "hide every lower layer" (OCI image spec).
 * overlayfs cannot say that: it ignores the opaque xattr of a lower layer's root, so the
 * app would see every file of the layers below while pilot believed them hidden. Rather
 * than compose a root the image does not mean, the layer is refused, naming the entry.
 * (Cutting the stack below the layer would be the faithful form, but a layer is shared
 * by every image that has it, whatever lies below it in each.)
 */
export function refuseOpaqueRoot(
  label: string,
  validator: { opaqueDirs: readonly string[] },
): void {
  if (!validator.opaqueDirs.includes('.')) return;
  throw new PilotError(
    'PILOT_IMAGE_INVALID',
    `${label}: entry "${OPAQUE_MARKER}" at the layer's root would hide every lower layer, which overlayfs cannot do (it ignores an opaque layer root, so their files would show); refused`,
    {
      hint: 'rebuild the image so that the layer deletes what it replaces by name (a .wh.NAME entry each), or flatten the image into one layer ("podman build --squash-all")',
    },
  );
}

/**
 * OCI whiteouts → overlayfs: `.wh.NAME` becomes a 0/0 character device NAME, and
 * `.wh..wh..opq` marks its directory opaque. Both opaque xattrs are written: the kernel
 * reads `trusted.overlay.*` only for an overlay mounted by real root, and `user.overlay.*`
 * for one mounted in a user namespace (`userxattr`). Parent mtimes are put back so the
 * conversion does not show up as a change to the directory.
 */
export async function convertWhiteouts(
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
      const stat = withShortPath(join(staging, parent), (at) => lstatSync(at));
      if (stat.isDirectory()) parentTimes.set(parent, { atime: stat.atime, mtime: stat.mtime });
    } catch (error) {
      if (errnoOf(error) !== 'ENOENT') throw error;
    }
  }
  for (const path of all) removeTree(join(staging, path));
  const devices: string[] = [];
  for (const path of whiteouts) {
    const target = posix.join(
      posix.dirname(path),
      posix.basename(path).slice(WHITEOUT_PREFIX.length),
    );
    // A file of the same layer with that name wins: a whiteout only hides lower layers.
    try {
      withShortPath(join(staging, target), (at) => lstatSync(at));
      continue;
    } catch (error) {
      if (errnoOf(error) !== 'ENOENT') throw error;
    }
    devices.push(target);
  }
  await makeWhiteoutDevices(staging, devices, privileged);
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
      await feedTool(['setfattr', '-h', `--restore=${dumpFile}`], undefined, staging);
    } finally {
      rmSync(dumpFile, { force: true });
    }
  }
  for (const [parent, times] of parentTimes) {
    withShortPath(join(staging, parent), (at) => lutimesSync(at, times.atime, times.mtime));
  }
}
