/**
 * Reads an `strace -f -y` log and checks the order docs/design.md ("Durable commits")
 * promises for every commit point: a name pilot publishes by renaming a staged temp
 * entry (`.pilot-…`) has its data on disk first (an fsync of that temp file, or a syncfs
 * of the staged tree after the last change to it; a symlink carries no data), and the
 * directory that holds the new name is fsynced after the rename, before the same
 * process publishes anything else.
 */
import { dirname } from 'node:path';

/** The system calls the checker reads; pass them to strace's `-e trace=`. */
export const TRACED = [
  'fsync',
  'fdatasync',
  'syncfs',
  'sync',
  'rename',
  'renameat',
  'renameat2',
  'symlink',
  'symlinkat',
  'link',
  'linkat',
  'mkdir',
  'mkdirat',
  'mknodat',
  'openat',
  'chmod',
  'fchmodat',
  'lchown',
  'fchownat',
  'utimensat',
  'lsetxattr',
  'unlink',
  'unlinkat',
].join(',');

export interface Call {
  pid: number;
  name: string;
  /** The quoted path arguments and the paths strace -y shows for descriptors, in order. */
  paths: string[];
  line: string;
}

export interface Commit {
  pid: number;
  from: string;
  to: string;
  /** How its data reached the disk first: 'fsync', 'syncfs' or 'symlink' (none needed). */
  data: string;
}

const LINE = /^(\d+) +(\w+)\((.*)\) += (-?\d+)/;

/** strace's escapes in a quoted string (-y output and paths are mostly plain). */
function unquote(text: string): string {
  return text.replace(/\\(x[0-9a-f]{2}|[0-7]{1,3}|.)/g, (_, code: string) => {
    if (code[0] === 'x') return String.fromCharCode(Number.parseInt(code.slice(1), 16));
    if (/^[0-7]/.test(code)) return String.fromCharCode(Number.parseInt(code, 8));
    return code === 'n' ? '\n' : code === 't' ? '\t' : code;
  });
}

/** The successful calls of a log, in order. */
export function parseTrace(text: string): Call[] {
  const calls: Call[] = [];
  for (const line of text.split('\n')) {
    const match = LINE.exec(line);
    // Failed calls changed nothing; openat returns a descriptor.
    if (!match || match[4]!.startsWith('-')) continue;
    const paths: string[] = [];
    for (const arg of match[3]!.matchAll(/"((?:[^"\\]|\\.)*)"|\d+<([^>]*)>/g)) {
      paths.push(arg[1] !== undefined ? unquote(arg[1]) : unquote(arg[2]!));
    }
    calls.push({ pid: Number(match[1]), name: match[2]!, paths, line });
  }
  return calls;
}

const SYNCS = new Set(['fsync', 'fdatasync', 'syncfs', 'sync']);
const RENAMES = new Set(['rename', 'renameat', 'renameat2']);

/** Calls that change what lies below a path (an openat only when it may write). */
function changes(call: Call): boolean {
  if (SYNCS.has(call.name)) return false;
  if (call.name === 'openat') return /O_WRONLY|O_RDWR|O_CREAT/.test(call.line);
  return true;
}

function lastIndex(calls: readonly Call[], test: (call: Call) => boolean): number {
  for (let i = calls.length - 1; i >= 0; i--) if (test(calls[i]!)) return i;
  return -1;
}

function inside(path: string, tree: string): boolean {
  return path === tree || path.startsWith(`${tree}/`);
}

/** A rename that publishes a staged temp entry of pilot's under a visible name. */
function publication(call: Call): { from: string; to: string } | undefined {
  if (!RENAMES.has(call.name)) return undefined;
  // rename(old, new); renameat*(fd<dir>, "old", fd<dir>, "new") with absolute names here.
  const names = call.paths.filter((path) => path.startsWith('/'));
  const [from, to] = names.length >= 2 ? names.slice(-2) : [undefined, undefined];
  if (!from || !to) return undefined;
  const base = (path: string) => path.slice(path.lastIndexOf('/') + 1);
  if (!base(from).startsWith('.pilot-') || base(to).startsWith('.')) return undefined;
  return { from, to };
}

/**
 * The commits found in `calls` under `root`, and every broken promise, as sentences
 * naming the call.
 */
export function checkDurableOrder(
  calls: readonly Call[],
  root: string,
): { commits: Commit[]; problems: string[] } {
  const commits: Commit[] = [];
  const problems: string[] = [];
  calls.forEach((call, i) => {
    const published = publication(call);
    if (!published || !inside(published.to, root)) return;
    const { from, to } = published;
    const before = calls.slice(0, i);
    let data: string | undefined;
    if (before.some((c) => /^symlink/.test(c.name) && c.paths.at(-1) === from)) data = 'symlink';
    else if (
      before.some((c) => (c.name === 'fsync' || c.name === 'fdatasync') && c.paths[0] === from)
    )
      data = 'fsync';
    else {
      const synced = lastIndex(
        before,
        (c) => c.name === 'syncfs' && c.paths[0] !== undefined && inside(c.paths[0], from),
      );
      const changed = lastIndex(
        before,
        (c) => changes(c) && c.paths.some((path) => inside(path, from)),
      );
      if (synced >= 0 && synced > changed) data = 'syncfs';
      else if (synced >= 0) {
        problems.push(`${to}: its tree changed after the syncfs: ${calls[changed]!.line}`);
        return;
      }
    }
    if (!data) {
      problems.push(`${to}: published before its data reached the disk: ${call.line}`);
      return;
    }
    const parent = dirname(to);
    const next = calls.findIndex(
      (c, j) => j > i && c.pid === call.pid && publication(c) !== undefined,
    );
    const after = calls.slice(i + 1, next < 0 ? undefined : next);
    if (!after.some((c) => c.pid === call.pid && c.name === 'fsync' && c.paths[0] === parent)) {
      problems.push(
        `${to}: no fsync of ${parent} after the rename, before the next commit: ${call.line}`,
      );
    }
    commits.push({ pid: call.pid, from, to, data });
  });
  return { commits, problems };
}
