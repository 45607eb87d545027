/**
 * Canonical permissions (DESIGN.md, Trust), as flatpak's system repository keeps
 * them: what an image says about owners and modes is data, not a grant on this host.
 * After extraction every entry is owned by the extracting user (root for the system
 * store), directories are 0755, files 0644 or 0755 (executable when the image had any
 * execute bit), and no setuid, setgid or sticky bit, group/other write, file
 * capability or device node survives, overlay whiteouts (character devices 0/0)
 * apart. Extraction runs in a staging dir only its owner can enter, so nothing
 * uncanonical is ever reachable by another user.
 *
 * What an app inside loses: setuid programs of the image do not raise privileges (the
 * app runs as its caller, as a host command does, and must not gain root from an image
 * nobody here wrote), and files keep no owner but root. The image's own owners and
 * modes are kept in the layer record (`original`) for `show` and `verify`.
 */
import { chmodSync, lchownSync, type Stats, unlinkSync } from 'node:fs';
import { type TreeEntry, walkTree } from '../../core/tree-walk.js';

/** An entry whose owner or mode the store changed: [path, uid, gid, st_mode] as the image had them. */
export type OriginalEntry = [path: string, uid: number, gid: number, mode: number];

/** The mode the store keeps for an entry, or undefined for one it removes (devices). */
export function canonicalMode(stat: Stats): number | undefined {
  if (stat.isSymbolicLink()) return stat.mode & 0o777;
  if (stat.isDirectory()) return 0o755;
  if (stat.isCharacterDevice() && stat.rdev === 0) return stat.mode & 0o777 & ~0o022;
  if (stat.isCharacterDevice() || stat.isBlockDevice()) return undefined;
  if (stat.isFile()) return stat.mode & 0o111 ? 0o755 : 0o644;
  return 0o644; // FIFOs and sockets: no one may write them but their owner
}

/**
 * Canonicalises the tree at `root` in place and returns what the image had where it
 * differs (paths relative to `root`). `owner` is the uid/gid
 * every entry gets; undefined leaves owners as they are (an unprivileged extraction
 * cannot give files away, and they are its own already). `visit` sees every entry that
 * stays, in the walk's order, its stat already showing the owner and mode it ends with:
 * the layer manifest is read in the same walk rather than in a second one.
 */
export function canonicaliseTree(
  root: string,
  owner: { uid: number; gid: number } | undefined,
  visit?: (entry: TreeEntry) => void,
): OriginalEntry[] {
  const original: OriginalEntry[] = [];
  /** Hard links: an inode changed through one name is recorded under each. */
  const changed = new Map<number, OriginalEntry>();
  // tree-walk.ts: however deep the image's paths go below the store's own directory.
  walkTree(root, {
    enter: (entry) => {
      const { path, rel, stat } = entry;
      const before = stat.nlink > 1 ? changed.get(stat.ino) : undefined;
      if (before) {
        original.push([rel, before[1], before[2], before[3]]);
        visit?.(entry); // read after the inode was changed through its first name
        return false;
      }
      const mode = canonicalMode(stat);
      const ownerDiffers =
        owner !== undefined && (stat.uid !== owner.uid || stat.gid !== owner.gid);
      if (mode === undefined) {
        original.push([rel, stat.uid, stat.gid, stat.mode]);
        unlinkSync(path);
        return false;
      }
      const modeDiffers = !stat.isSymbolicLink() && (stat.mode & 0o7777) !== mode;
      // The root is the staging dir, whose mode is ours, not the image's.
      if ((ownerDiffers || modeDiffers) && rel !== '.') {
        const entry: OriginalEntry = [rel, stat.uid, stat.gid, stat.mode];
        original.push(entry);
        if (stat.nlink > 1 && !stat.isDirectory()) changed.set(stat.ino, entry);
      }
      // Owner first: chown clears setuid/setgid bits itself, chmod then sets the final mode.
      if (ownerDiffers) lchownSync(path, owner.uid, owner.gid);
      // The root stays closed (the staging dir's 0700) until everything below is done.
      // A directory is made readable before the walk reads it.
      if (modeDiffers && rel !== '.') chmodSync(path, mode);
      if (visit) {
        if (ownerDiffers) {
          stat.uid = owner.uid;
          stat.gid = owner.gid;
        }
        const final = rel === '.' ? 0o755 : modeDiffers ? mode : stat.mode & 0o7777;
        stat.mode = (stat.mode & ~0o7777) | final;
        visit(entry);
      }
      return true;
    },
  });
  chmodSync(root, 0o755);
  return original;
}
