/**
 * What of a store running processes use, as the kernel tells it: gc must never delete
 * a layer, host layer or include extraction under a running call. A one-shot call mounts
 * its overlay in a private mount namespace and `@`/`%` calls leave no plan, so neither
 * the host's mount table nor pilot's own records see them; and records in directories
 * other users can write could only make gc keep or drop what they like. So gc reads,
 * for every process:
 *
 * - /proc/PID/mountinfo (once per mount namespace): the overlays' `lowerdir=` (and
 *   `lowerdir+=`, `datadir+=`), `upperdir=`, `workdir=` options and the mount source;
 * - /proc/PID/cwd, root and fd/*: a process working in, or holding open, a store dir.
 *
 * The exec helper mounts with lower dirs relative to `--lowerdir-base` (the store), as
 * short layer aliases (`l/<10 hex>`), to keep 100+ layers within one page of options,
 * and the kernel shows them as given: `lowerdir=host/<key>:l/0b72e07f8f:…`. A relative
 * entry does not say which store it was relative to, so it counts for this store: names
 * are content digests, and keeping a dir another store's call uses only delays its removal.
 *
 * Another user's /proc/PID/fd cannot be read: the caller learns what those processes use
 * only as root. gc of a store that others may run apps from is therefore root's job.
 */
import { readdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { errnoOf } from '../core/errors.js';
import { parseMountLine, unescapeMountField } from '../core/mountinfo.js';

export interface StoreUsage {
  /** Store-relative dirs in use: `layers/<hex>`, `host/<key>`, `includes/<hex>`. */
  entries: Set<string>;
  /** Processes whose entries could not be read (EACCES: another user's). */
  unreadable: number;
}

const KINDS = new Set(['layers', 'host', 'includes']);

/**
 * Every path an overlay line of mountinfo names: its source and the dirs of its
 * options (`lowerdir=a:b::c`, `lowerdir+=a`, `upperdir=u`, `workdir=w`). The kernel
 * writes a `,` `:` or space inside a path as an octal escape (`\054`, `\072`, `\040`),
 * so the separators are split first and each path decoded after.
 */
export function overlayPaths(line: string): string[] {
  const entry = parseMountLine(line);
  if (entry?.fstype !== 'overlay' || entry.superOptions === '') return [];
  const found = [entry.source];
  for (const option of entry.superOptions.split(',')) {
    const match = /^(lowerdir\+?|datadir\+|upperdir|workdir)=(.*)$/.exec(option);
    if (!match) continue;
    const dirs = match[1] === 'lowerdir' ? match[2]!.split(':') : [match[2]!];
    for (const dir of dirs) if (dir !== '') found.push(unescapeMountField(dir));
  }
  return found;
}

/**
 * The store dir a path names, relative to the store (`layers/<hex>`, `host/<key>`,
 * `includes/<hex>`), or undefined. `l/<alias>` resolves through the store's alias.
 */
export function storeEntryOf(store: string, path: string): string | undefined {
  let rel: string;
  if (path.startsWith(`${store}/`)) rel = path.slice(store.length + 1);
  else if (!path.startsWith('/')) rel = path.replace(/^(\.\/)+/, '');
  else return undefined;
  const [kind, name] = rel.split('/');
  if (!name || name === '.' || name === '..') return undefined;
  if (KINDS.has(kind!)) return `${kind}/${name}`;
  if (kind !== 'l') return undefined;
  try {
    const target = readlinkSync(`${store}/l/${name}`);
    const match = /^\.\.\/layers\/([a-f0-9]{64})$/.exec(target);
    return match ? `layers/${match[1]}` : undefined;
  } catch {
    return undefined;
  }
}

/** What every process (that the caller may inspect) uses of `store`. */
export function storeUsage(store: string, proc = '/proc'): StoreUsage {
  const usage: StoreUsage = { entries: new Set(), unreadable: 0 };
  // /proc shows resolved paths: a store reached through a symlink is seen by its real path.
  const stores = new Set([store, realpathOr(store)]);
  const note = (path: string | undefined) => {
    for (const root of path === undefined ? [] : stores) {
      const entry = storeEntryOf(root, path!);
      if (entry) usage.entries.add(entry);
    }
  };
  const namespaces = new Set<string>();
  for (const pid of readdirSync(proc).filter((name) => /^\d+$/.test(name))) {
    const dir = `${proc}/${pid}`;
    let denied = false;
    // A process or fd that went away meanwhile has nothing to say; one of another user
    // (EACCES) is counted.
    const read = <T>(fn: () => T): T | undefined => {
      try {
        return fn();
      } catch (error) {
        const code = errnoOf(error);
        if (code === 'EACCES' || code === 'EPERM') denied = true;
        else if (code !== 'ENOENT' && code !== 'ESRCH' && code !== 'EINVAL') throw error;
        return undefined;
      }
    };
    // One read per mount namespace: most processes share the host's.
    const ns = read(() => readlinkSync(`${dir}/ns/mnt`));
    if (ns === undefined || !namespaces.has(ns)) {
      for (const line of read(() => readFileSync(`${dir}/mountinfo`, 'utf8'))?.split('\n') ?? [])
        for (const path of overlayPaths(line)) note(path);
      if (ns !== undefined) namespaces.add(ns);
    }
    note(read(() => readlinkSync(`${dir}/cwd`)));
    note(read(() => readlinkSync(`${dir}/root`)));
    for (const fd of read(() => readdirSync(`${dir}/fd`)) ?? [])
      note(read(() => readlinkSync(`${dir}/fd/${fd}`)));
    if (denied) usage.unreadable++;
  }
  return usage;
}

function realpathOr(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}
