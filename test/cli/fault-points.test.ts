/**
 * Kills load, register, remove, rmi and gc at each of their commit points in turn
 * (PILOT_FAULT_AT, src/core/fault.ts), as a user's kill -9 or a crash would, and checks
 * what the store promises: right after the kill every reader sees whole entries only and
 * whatever else is there is a temp entry or claim of the dead process; the same command
 * run again and `pilot gc` leave exactly what an uninterrupted run leaves, with no stray.
 * Each kill is proven to have landed mid-command: the process died of SIGKILL at the
 * point asked for (its own fault log ends there) with its last commit not yet made.
 */
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  leftovers,
  leftoversNotOf,
  snapshot,
  stateWithContents,
  storeDamage,
} from '../../integration/store-state.js';
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

/**
 * What the commands commit, without what register prepares after its commit for a warm
 * first call (the run dir, the store's plans and host layers): a rerun that finds the app
 * registered does not prepare it again, and the first call would.
 */
const committed = (state: string[]) =>
  state.filter((e) => !/^(run\/|var\/lib\/pilot\/(plans|host)\/)/.test(e));

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
      const pointsIn = (tag: string) =>
        readFileSync(log, 'utf8')
          .trim()
          .split('\n')
          .map((p) => p.replaceAll(tag, 'ROOT'));
      const points = pointsIn('reference');
      expect(points.length).toBeGreaterThan(0);
      const finished = stateWithContents(reference, 'reference');
      ok(reference, ['gc']);
      const expected = committed(snapshot(reference)).map((e) => e.replaceAll('reference', 'ROOT'));
      expect(leftovers(reference)).toEqual([]);

      for (let at = 1; at <= points.length; at++) {
        const root = copy(`at-${at}`);
        rmSync(log, { force: true });
        const killed = pilot(root, scenario.command, {
          PILOT_FAULT_AT: String(at),
          PILOT_FAULT_LOG: log,
        });
        // The kill landed mid-command: by the signal (not an exit of its own), at point
        // `at` of the same run (each point before it passed, none after), and before its
        // last commit: the root does not hold what the finished run left (names, contents).
        expect(killed.signal, `kill at ${points[at - 1]}: ${killed.stderr}`).toBe('SIGKILL');
        expect(killed.status).toBeNull();
        expect(pointsIn(`at-${at}`)).toEqual(points.slice(0, at));
        expect(stateWithContents(root, `at-${at}`), `kill at ${points[at - 1]}`).not.toEqual(
          finished,
        );
        // Readers see whole entries; whatever else is there is the dead writer's.
        expect(storeDamage(root)).toEqual([]);
        expect(leftoversNotOf(root, killed.pid)).toEqual([]);

        // The same command again finishes the job (or says it is done), then gc.
        const again = pilot(root, scenario.command);
        expect(again.stderr, `rerun after ${points[at - 1]}`).not.toMatch(/internal error/);
        expect([0, 1], `rerun after ${points[at - 1]}: ${again.stderr}`).toContain(again.status);
        ok(root, ['gc']);
        expect(leftovers(root), `after ${points[at - 1]}`).toEqual([]);
        const state = committed(snapshot(root)).map((e) => e.replaceAll(`at-${at}`, 'ROOT'));
        expect(state, `kill at ${points[at - 1]}`).toEqual(expected);
        rmSync(root, { recursive: true, force: true });
      }
    }, 240_000);
  }
});
