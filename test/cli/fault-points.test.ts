/**
 * Kills load, register, remove, rmi and gc at each of their commit points in turn
 * (PILOT_FAULT_AT, src/core/fault.ts), as a user's kill -9 or a crash would, and checks
 * what the store promises: right after the kill every reader sees whole entries only and
 * whatever else is there is a temp entry or claim of the dead process; the same command
 * run again and `pilot gc` leave exactly what an uninterrupted run leaves, with no stray.
 */
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseOwner } from '../../src/core/owner.js';
import { tempEntryOwner } from '../../src/core/temp-entries.js';
import { makeImage, makeLayer, ociFiles, simpleLayer, tarOf } from '../store/helpers.js';
import { installPilot } from './helpers.js';

const installed = installPilot();
const work = mkdtempSync(join(tmpdir(), 'pilot-faults-'));
afterAll(() => {
  installed.cleanup();
  rmSync(work, { recursive: true, force: true });
});

/** Three layers each (one shared), big enough that extraction is a real step. */
const shared = simpleLayer('shared');
const big = makeLayer([
  { path: 'data/', type: 'dir' },
  ...Array.from({ length: 20 }, (_, i) => ({ path: `data/f${i}`, body: 'x'.repeat(64 * 1024) })),
]);
const appImage = makeImage([shared, big, simpleLayer('app')]);
const otherImage = makeImage([shared, simpleLayer('other')]);
const appArchive = join(work, 'app.tar');
const otherArchive = join(work, 'other.tar');
writeFileSync(appArchive, tarOf(ociFiles([{ image: appImage, refName: 'app:1' }])));
writeFileSync(otherArchive, tarOf(ociFiles([{ image: otherImage, refName: 'other:1' }])));

function pilot(
  root: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): SpawnSyncReturns<string> {
  return spawnSync(installed.bin, args, {
    cwd: work,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, PILOT_ROOT: root, NO_COLOR: '1', ...env },
  });
}

function ok(root: string, args: string[]): string {
  const r = pilot(root, args);
  if (r.status !== 0) throw new Error(`pilot ${args.join(' ')}: ${r.status}\n${r.stderr}`);
  return r.stdout;
}

interface Scenario {
  name: string;
  setup(root: string): void;
  command: string[];
}

const register = ['register', '--container', 'app:1', '--app', '/usr/bin/app'];

const scenarios: Scenario[] = [
  { name: 'load', setup: () => {}, command: ['load', appArchive] },
  {
    name: 'load of an image that shares a layer',
    setup: (root) => ok(root, ['load', otherArchive]),
    command: ['load', appArchive],
  },
  { name: 'register', setup: (root) => ok(root, ['load', appArchive]), command: register },
  {
    name: 'register --force over an app',
    setup: (root) => {
      ok(root, ['load', appArchive]);
      ok(root, [
        'register',
        '--container',
        'app:1',
        '--app',
        '/usr/bin/app',
        '--target',
        '/usr/bin/shared',
      ]);
    },
    command: [...register, '--force'],
  },
  {
    name: 'remove (with a drop-in)',
    setup: (root) => {
      ok(root, ['load', appArchive]);
      ok(root, register);
      mkdirSync(join(root, 'usr/share/flakes/app.d'));
      writeFileSync(join(root, 'usr/share/flakes/app.d/10-env.yaml'), 'container: {}\n');
    },
    command: ['remove', '--app', '/usr/bin/app'],
  },
  {
    name: 'rmi of an image with two names',
    setup: (root) => {
      ok(root, ['load', appArchive]);
      ok(root, ['load', appArchive, '--name', 'app:2']);
    },
    command: ['rmi', appImage.configDigest],
  },
  {
    name: 'gc',
    setup: (root) => {
      ok(root, ['load', otherArchive]);
      ok(root, ['load', appArchive]);
      ok(root, ['rmi', 'app:1']);
    },
    command: ['gc'],
  },
];

/** Every path under root with its kind (and link target): the state to compare. */
function snapshot(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const stat = lstatSync(path);
      const rel = relative(root, path);
      if (stat.isDirectory()) {
        out.push(`${rel}/`);
        walk(path);
      } else if (stat.isSymbolicLink()) out.push(`${rel} -> ${readlinkSync(path)}`);
      else out.push(rel);
    }
  };
  if (existsSync(root)) walk(root);
  return out;
}

/** Temp entries and claims: what a killed process may leave, and nothing may outlive gc. */
function leftovers(root: string): string[] {
  return snapshot(root).filter((entry) => {
    const name = entry
      .replace(/( -> .*|\/)$/, '')
      .split('/')
      .pop()!;
    return tempEntryOwner(name, 'tmp') !== undefined || /(^\..+\.lock|^gc\.lock|^lock)$/.test(name);
  });
}

/** What readers see must be whole after any kill: records name present layers, names present records. */
function expectWholeForReaders(root: string): void {
  const store = join(root, 'var/lib/pilot');
  for (const entry of existsSync(join(store, 'images')) ? readdirSync(join(store, 'images')) : []) {
    if (!/^[a-f0-9]{64}\.json$/.test(entry)) continue;
    const record = JSON.parse(readFileSync(join(store, 'images', entry), 'utf8'));
    for (const diffId of record.layers as string[])
      expect(existsSync(join(store, 'layers', diffId.slice(7))), `${entry}: ${diffId}`).toBe(true);
  }
  const images = JSON.parse(ok(root, ['images', '--json'])) as { id: string; layers: number }[];
  for (const image of images) expect(image.layers).toBeGreaterThan(0);
  const apps = JSON.parse(ok(root, ['list', '--json'])) as { ok: boolean; error?: string }[];
  for (const app of apps) expect(app.error).toBeUndefined();
}

/** Every leftover right after a kill belongs to the killed (now dead) process. */
function expectOnlyDeadLeftovers(root: string, killed: number): void {
  for (const entry of leftovers(root)) {
    const path = join(root, entry.replace(/( -> .*|\/)$/, ''));
    const name = path.split('/').pop()!;
    const owner = tempEntryOwner(name) ?? parseOwner(readFileSync(path, 'utf8'));
    expect(owner?.pid, entry).toBe(killed);
  }
}

describe('commands killed at each commit point', () => {
  for (const scenario of scenarios) {
    it(`${scenario.name}: readers see whole entries, a rerun and gc leave no stray`, () => {
      const template = join(work, `${scenario.name.replace(/\W+/g, '-')}-template`);
      scenario.setup(template);
      const copy = (tag: string) => {
        const root = join(work, `${scenario.name.replace(/\W+/g, '-')}-${tag}`);
        rmSync(root, { recursive: true, force: true });
        if (existsSync(template))
          cpSync(template, root, { recursive: true, verbatimSymlinks: true });
        else mkdirSync(root);
        return root;
      };

      // The uninterrupted run, with the points it passes logged.
      const reference = copy('reference');
      const log = join(work, 'fault.log');
      rmSync(log, { force: true });
      expect(pilot(reference, scenario.command, { PILOT_FAULT_LOG: log }).status).toBe(0);
      const points = readFileSync(log, 'utf8').trim().split('\n');
      expect(points.length).toBeGreaterThan(0);
      ok(reference, ['gc']);
      const expected = snapshot(reference).map((e) => e.replaceAll('reference', 'ROOT'));
      expect(leftovers(reference)).toEqual([]);

      for (let at = 1; at <= points.length; at++) {
        const root = copy(`at-${at}`);
        const killed = pilot(root, scenario.command, { PILOT_FAULT_AT: String(at) });
        expect(killed.signal, `kill at ${points[at - 1]}`).toBe('SIGKILL');
        expectWholeForReaders(root);
        expectOnlyDeadLeftovers(root, killed.pid);

        // The same command again finishes the job (or says it is done), then gc.
        const again = pilot(root, scenario.command);
        expect(again.stderr, `rerun after ${points[at - 1]}`).not.toMatch(/internal error/);
        expect([0, 1], `rerun after ${points[at - 1]}: ${again.stderr}`).toContain(again.status);
        ok(root, ['gc']);
        expect(leftovers(root), `after ${points[at - 1]}`).toEqual([]);
        const state = snapshot(root).map((e) => e.replaceAll(`at-${at}`, 'ROOT'));
        expect(state, `kill at ${points[at - 1]}`).toEqual(expected);
        rmSync(root, { recursive: true, force: true });
      }
    }, 240_000);
  }
});
