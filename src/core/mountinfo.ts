/**
 * The one reader of the kernel's mount table, /proc/PID/mountinfo (proc(5)):
 *
 *   36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
 *   id parent dev root mountpoint options [optional fields…] - fstype source superoptions
 *
 * The optional fields vary in number, so what follows them is found by the ` - `
 * separator. The kernel writes a space, tab, newline, backslash (and, in overlay
 * options, `,` and `:`) inside a field as an octal escape (`\040`, `\054`, …): fields
 * are split first and each path decoded after. Node built-ins only: the launcher and
 * every error message read it.
 */
import { readFileSync } from 'node:fs';

export interface MountEntry {
  /** Where it is mounted, decoded. */
  mountPoint: string;
  fstype: string;
  /** The mount source, decoded (`overlay`, `/dev/sda1`, …). */
  source: string;
  /** The superblock options, still escaped (split them before decoding a path). */
  superOptions: string;
}

/** mountinfo's octal escapes (`\040` for a space, `\054` for a comma, …) decoded. */
export function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) =>
    String.fromCharCode(Number.parseInt(oct, 8)),
  );
}

/** One line of mountinfo, or undefined for a line that is not one (the trailing ""). */
export function parseMountLine(line: string): MountEntry | undefined {
  const fields = line.split(' ');
  const point = fields[4];
  const dash = fields.indexOf('-', 6);
  if (point === undefined || dash < 0) return undefined;
  return {
    mountPoint: unescapeMountField(point),
    fstype: fields[dash + 1] ?? '',
    source: unescapeMountField(fields[dash + 2] ?? ''),
    superOptions: fields[dash + 3] ?? '',
  };
}

/** Every entry of a mountinfo text. */
export function parseMountinfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const entry = parseMountLine(line);
    if (entry) entries.push(entry);
  }
  return entries;
}

/** The mount table of this process's mount namespace (or `file`'s: /proc/PID/mountinfo). */
export function readMountinfo(file = '/proc/self/mountinfo'): MountEntry[] {
  return parseMountinfo(readFileSync(file, 'utf8'));
}

/** Mount points of this process's namespace. */
export function mountPoints(): Set<string> {
  return new Set(readMountinfo().map((entry) => entry.mountPoint));
}
