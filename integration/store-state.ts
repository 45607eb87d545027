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
import { parseOwner } from '../src/core/owner.js';
import { tempEntryOwner } from '../src/core/temp-entries.js';
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
