/**
 * Kills `pilot pull` (from podman's storage) and the Node launcher's plan step (flake
 * cache, host requirements, host layer, kept instance: claim, mount, info, pid records,
 * plan) at each of their commit points in turn (PILOT_FAULT_AT, src/core/fault.ts), as a
 * kill -9 would, and checks what test/cli/fault-points.test.ts checks for load, register
 * and gc: right after the kill readers see whole entries and every leftover is the dead
 * process's; the same call again works (the app prints exactly what it should), and after
 * `pilot gc` (and `pilot stop --all` for a kept instance) the root holds exactly what an
 * uninterrupted run leaves, with no stray and no mount.
 *
 * The pull scenarios need podman and skopeo: the image goes into podman's storage under a
 * tag of this run only (skopeo copy), and exactly that tag is removed afterwards.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { examples, mountsMatching, skipReason } from './harness.js';
import { inCi } from './requirements.js';
import { leftovers, leftoversNotOf, okIn, pilotIn, snapshot, storeDamage } from './store-state.js';

const skip = skipReason();
const hasPodman = ['podman', 'skopeo'].every(
  (tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0,
);
if (!hasPodman && inCi && skip === '') throw new Error('fault-points: podman and skopeo needed');

const TAG = `localhost/pilot-fault-test-${process.pid}`;
const JQ_INPUT = '{"a":[1,2]}';
const JQ_OUTPUT = '[1,2]\n';

interface Scenario {
  name: string;
  setup(root: string): void;
  /** The interrupted step: a pilot command or an app call (a path under the root). */
  command: string[];
  app?: boolean;
  needsPodman?: boolean;
}

const E = (name: string) => join(examples, `${name}.tar`);
const jqFlake = ['--container', 'pilot/jq-delta', '--base', 'pilot/busybox-base'];

const scenarios: Scenario[] = [
  {
    name: 'pull from podman storage',
    setup: () => {},
    command: ['pull', `${TAG}-hello:1`],
    needsPodman: true,
  },
  {
    name: 'pull of the base a loaded delta needs',
    setup: (root) => {
      okIn(root, ['load', E('jq-delta'), '--quiet']);
    },
    command: ['pull', `${TAG}-base:1`],
    needsPodman: true,
  },
  {
    name: 'first launch: host layer and plan',
    setup: (root) => {
      okIn(root, ['load', E('busybox-base'), E('jq-delta'), '--quiet']);
      okIn(root, ['register', ...jqFlake, '--app', '/usr/bin/jq-app']);
      // register prepared the first call; drop it (as a host change or gc would) so that
      // the launch builds the host layer and the plan, at whose commit points it is killed.
      for (const dir of ['var/lib/pilot/host', 'var/lib/pilot/plans', 'run/pilot/plans']) {
        rmSync(join(root, dir), { recursive: true, force: true });
      }
    },
    command: ['/usr/bin/jq-app', '-c', '.a'],
    app: true,
  },
  {
    name: 'first launch of a kept instance',
    setup: (root) => {
      okIn(root, ['load', E('busybox-base'), E('jq-delta'), '--quiet']);
      okIn(root, [
        'register',
        ...jqFlake,
        '--app',
        '/usr/bin/kept',
        '--target',
        '/usr/bin/jq-app',
        '--resume',
      ]);
    },
    command: ['/usr/bin/kept', '-c', '.a'],
    app: true,
  },
];

function launch(root: string, command: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(join(root, command[0]!), command.slice(1), {
    input: JQ_INPUT,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, PILOT_ROOT: root, PILOT_FASTPATH: 'off', NO_COLOR: '1', ...env },
  });
}

function step(root: string, scenario: Scenario, env: NodeJS.ProcessEnv = {}) {
  return scenario.app ? launch(root, scenario.command, env) : pilotIn(root, scenario.command, env);
}

/** What an uninterrupted run leaves after it: no instance, no garbage. */
function settle(root: string): void {
  okIn(root, ['stop', '--all']);
  okIn(root, ['gc']);
}

describe.skipIf(skip !== '')('pull and the launcher killed at each commit point', () => {
  let work: string;
  const tagged: string[] = [];
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'pilot-faultit-'));
    if (!hasPodman) return;
    for (const [name, tag] of [
      ['hello-delta', `${TAG}-hello:1`],
      ['busybox-base', `${TAG}-base:1`],
    ] as const) {
      const r = spawnSync(
        'skopeo',
        ['copy', '--quiet', `oci-archive:${E(name)}`, `containers-storage:${tag}`],
        {
          encoding: 'utf8',
        },
      );
      if (r.status !== 0) throw new Error(`skopeo copy ${name}: ${r.stderr}`);
      tagged.push(tag);
    }
  });
  afterAll(() => {
    // Exactly the tags this run made; an image another user tagged too keeps its other names.
    for (const tag of tagged) spawnSync('podman', ['rmi', tag], { stdio: 'ignore' });
    if (work?.startsWith(join(tmpdir(), 'pilot-faultit-'))) {
      for (const dir of existsSync(work) ? [work] : []) {
        for (const line of mountsMatching(dir)) expect.soft(line).toBe('');
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });

  for (const scenario of scenarios) {
    it.skipIf(scenario.needsPodman === true && !hasPodman)(
      `${scenario.name}: readers see whole entries, the next call works, no stray`,
      () => {
        const slug = scenario.name.replace(/\W+/g, '-');
        const template = join(work, `${slug}-template`);
        mkdirSync(template);
        scenario.setup(template);
        const copy = (tag: string) => {
          const root = join(work, `${slug}-${tag}`);
          cpSync(template, root, { recursive: true, verbatimSymlinks: true });
          return root;
        };
        const check = (r: ReturnType<typeof step>, what: string) => {
          expect(r.stderr, what).not.toMatch(/internal error|\n\s+at /);
          expect(r.status, `${what}: ${r.stderr}`).toBe(0);
          if (scenario.app) expect(r.stdout, what).toBe(JQ_OUTPUT);
        };

        const reference = copy('reference');
        const log = join(work, `${slug}.log`);
        check(step(reference, scenario, { PILOT_FAULT_LOG: log }), 'uninterrupted');
        const points = readFileSync(log, 'utf8').trim().split('\n');
        expect(points.length).toBeGreaterThan(2);
        settle(reference);
        const expected = snapshot(reference).map((e) => e.replaceAll('-reference', '-ROOT'));
        expect(leftovers(reference)).toEqual([]);
        rmSync(reference, { recursive: true, force: true });

        for (let at = 1; at <= points.length; at++) {
          const what = `kill at ${points[at - 1]}`;
          const root = copy(`at-${at}`);
          const killed = step(root, scenario, { PILOT_FAULT_AT: String(at) });
          expect(killed.signal, what).toBe('SIGKILL');
          expect(storeDamage(root), what).toEqual([]);
          expect(leftoversNotOf(root, killed.pid), what).toEqual([]);

          // The same call again works; stop and gc then leave what the reference left.
          check(step(root, scenario), `again after ${what}`);
          if (scenario.app) check(step(root, scenario), `twice after ${what}`);
          settle(root);
          expect(mountsMatching(root), what).toEqual([]);
          expect(leftovers(root), what).toEqual([]);
          const state = snapshot(root).map((e) => e.replaceAll(`-at-${at}`, '-ROOT'));
          expect(state, what).toEqual(expected);
          rmSync(root, { recursive: true, force: true });
        }
      },
      300_000,
    );
  }
});
