/**
 * What a store promises after a kill or a storm of concurrent commands, as the
 * integration suites that break things check it (fault-points, everything-at-once):
 * readers see whole entries only, whatever else is there is a temp entry or claim of a
 * dead process, and every image record names layers that are there, each with its
 * record. test/cli/fault-points.test.ts uses them too; on real roots with mounts
 * (a mount point is not walked: it is the kernel's, not the store's).
 */
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { dirIdentity } from '../src/core/file-identity.js';
import { parseOwner } from '../src/core/owner.js';
import { tempEntryOwner } from '../src/core/temp-entries.js';
import { mountDevOf, readPlanRecords, stampOf } from '../src/runtime/fast-plan.js';
import { cli } from './harness.js';

/** pilot CLI in `root`, with extra environment. */
export function pilotIn(
  root: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [cli, ...args], {
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, PILOT_ROOT: root, NO_COLOR: '1', ...env },
  });
}

export function okIn(root: string, args: string[], env: NodeJS.ProcessEnv = {}): string {
  const r = pilotIn(root, args, env);
  if (r.status !== 0) throw new Error(`pilot ${args.join(' ')}: ${r.status}\n${r.stderr}`);
  return r.stdout;
}

/** Every path under root with its kind (and link target); mounts are not entered. */
export function snapshot(root: string): string[] {
  const out: string[] = [];
  if (!existsSync(root)) return out;
  const device = lstatSync(root).dev;
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const stat = lstatSync(path);
      const rel = relative(root, path);
      if (stat.isDirectory()) {
        out.push(`${rel}/`);
        if (stat.dev === device) walk(path);
      } else if (stat.isSymbolicLink()) out.push(`${rel} -> ${readlinkText(path)}`);
      else out.push(rel);
    }
  };
  walk(root);
  return out;
}

function readlinkText(path: string): string {
  return spawnSync('readlink', [path], { encoding: 'utf8' }).stdout.trim();
}

function entryPath(entry: string): string {
  return entry.replace(/( -> .*|\/)$/, '');
}

/** Temp entries and claims: what a killed process may leave, and nothing may outlive gc. */
export function leftovers(root: string): string[] {
  return snapshot(root).filter((entry) => {
    const name = entryPath(entry).split('/').pop()!;
    return tempEntryOwner(name, 'tmp') !== undefined || /(^\..+\.lock|^gc\.lock|^lock)$/.test(name);
  });
}

/**
 * The snapshot with each regular file's content digest, the root's own path (`tag`, as
 * it appears in paths, links and file contents) written as ROOT: two roots that hold the
 * same state give the same list, and a command killed before its last commit (a rename
 * into place, a rewrite, a claim's release) leaves a list other than its finished run's.
 */
export function stateWithContents(root: string, tag: string): string[] {
  return snapshot(root).map((entry) => {
    const path = join(root, entry);
    const named = entry.replaceAll(tag, 'ROOT');
    if (entry.endsWith('/') || entry.includes(' -> ') || !lstatSync(path).isFile()) return named;
    const text = readFileSync(path, 'latin1').replaceAll(tag, 'ROOT');
    return `${named} ${createHash('sha256').update(text, 'latin1').digest('hex').slice(0, 16)}`;
  });
}

/**
 * What prepare leaves in the store for a warm first call (src/commands/prepare.ts): each
 * plan of `plans/` as a reader takes it, one line per record, and each host layer of
 * `host/` with its files' contents (as stateWithContents), the root's path (`tag`) written
 * as ROOT. A stamp's value is a file's identity (its inode among it), which differs
 * between two roots holding the same state: it reads `fresh` when the stamped path still
 * has it (the stub would take the plan), else `stale VALUE`. A plan a reader declines
 * (cut short, unknown records) is one line saying why. Temp entries are not listed.
 */
export function preparedState(root: string, tag: string): string[] {
  const store = join(root, 'var/lib/pilot');
  const plans = join(store, 'plans');
  const out: string[] = [];
  const list = (dir: string) =>
    existsSync(dir) ? readdirSync(dir).filter((name) => tempEntryOwner(name) === undefined) : [];
  for (const name of list(plans).sort()) {
    const entry = `var/lib/pilot/plans/${name}`;
    const read = readPlanRecords(readFileSync(join(plans, name)));
    if ('invalid' in read) {
      out.push(`${entry}: declined: ${read.invalid}`);
      continue;
    }
    for (const [keyword, ...words] of read.records) {
      const now =
        keyword === 'stamp'
          ? stampOf(words[0]!)
          : keyword === 'dirstamp'
            ? dirIdentity(words[0]!)
            : keyword === 'mountdev'
              ? mountDevOf(words[0]!)
              : undefined;
      if (now !== undefined && words[1] !== now) words[1] = `stale ${words[1]}`;
      else if (now !== undefined) words[1] = 'fresh';
      out.push(`${entry}: ${[keyword, ...words].join(' ')}`.replaceAll(tag, 'ROOT'));
    }
  }
  const layer = /^var\/lib\/pilot\/host\/[a-f0-9]{64}(\/| |$)/;
  out.push(...stateWithContents(root, tag).filter((e) => layer.test(e)));
  return out;
}

/**
 * What a reader could take wrongly from the store's plans and host layers right after a
 * kill (`state`, and the states before and after the command, all preparedState()): a
 * plan the stub would take (every stamp fresh) that is neither the one before the
 * command nor the finished run's, a plan it declines for being cut or malformed rather
 * than stale, and a host layer other than those of that key (half built, or unknown).
 */
export function preparedDamage(state: string[], whole: string[][]): string[] {
  const byEntry = (lines: string[]) => {
    const entries = new Map<string, string>();
    for (const line of lines) {
      const entry = /^var\/lib\/pilot\/(plans\/[^:]+|host\/[a-f0-9]{64})/.exec(line)![1]!;
      entries.set(entry, `${entries.get(entry) ?? ''}${line}\n`);
    }
    return entries;
  };
  const known = whole.map(byEntry);
  const damage: string[] = [];
  for (const [entry, lines] of byEntry(state)) {
    const isKnown = known.some((entries) => entries.get(entry) === lines);
    if (entry.startsWith('host/')) {
      if (!isKnown) damage.push(`${entry}: not a whole layer of that key`);
    } else if (lines.includes(' declined: ')) {
      damage.push(lines.trim());
    } else if (!lines.includes(' stale ') && !isKnown) {
      damage.push(`${entry}: a plan the stub takes, neither the one before nor the finished run's`);
    }
  }
  return damage;
}

/** Leftovers whose writer is not `pid` (a kill of `pid` may leave only its own). */
export function leftoversNotOf(root: string, pid: number): string[] {
  return leftovers(root).filter((entry) => {
    const path = join(root, entryPath(entry));
    const name = path.split('/').pop()!;
    let owner = tempEntryOwner(name);
    if (owner === undefined) {
      try {
        owner = parseOwner(readFileSync(path, 'utf8'));
      } catch {
        owner = undefined;
      }
    }
    return owner?.pid !== pid;
  });
}

/**
 * Damage a reader would meet: an image record naming a layer that is not there (or has
 * no layer record), a ref naming no record, an app whose flake does not read. Empty when
 * the store is whole. Layer contents are `pilot verify`'s business.
 */
export function storeDamage(root: string): string[] {
  const store = join(root, 'var/lib/pilot');
  const damage: string[] = [];
  const list = (dir: string) => (existsSync(dir) ? readdirSync(dir) : []);
  const records = new Set<string>();
  for (const entry of list(join(store, 'images'))) {
    if (!/^[a-f0-9]{64}\.json$/.test(entry)) continue;
    records.add(`sha256:${entry.slice(0, 64)}`);
    let record: { layers?: unknown };
    try {
      record = JSON.parse(readFileSync(join(store, 'images', entry), 'utf8'));
    } catch (error) {
      damage.push(`images/${entry}: unreadable (${(error as Error).message})`);
      continue;
    }
    const layers = Array.isArray(record.layers) ? (record.layers as string[]) : [];
    if (layers.length === 0) damage.push(`images/${entry}: no layers`);
    for (const diffId of layers) {
      const hex = diffId.slice(7);
      if (!existsSync(join(store, 'layers', hex)))
        damage.push(`images/${entry}: ${diffId} missing`);
      else if (!existsSync(join(store, 'layers', `${hex}.json`)))
        damage.push(`images/${entry}: ${diffId} has no layer record`);
    }
  }
  for (const entry of list(join(store, 'refs'))) {
    if (entry.startsWith('.')) continue;
    const id = readFileSync(join(store, 'refs', entry), 'utf8').trim();
    if (!records.has(id)) damage.push(`refs/${entry}: ${id} has no image record`);
  }
  const images = JSON.parse(okIn(root, ['images', '--json'])) as { id: string; layers: number }[];
  for (const image of images) if (image.layers <= 0) damage.push(`${image.id}: no layers listed`);
  const apps = JSON.parse(okIn(root, ['list', '--json'])) as { app?: string; error?: string }[];
  for (const app of apps) if (app.error) damage.push(`app ${app.app}: ${app.error}`);
  return damage;
}
