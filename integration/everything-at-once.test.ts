/**
 * Everything at once: in each round `pilot gc`, `rmi` of the name an earlier round
 * loaded, `load` of an image that shares its base layer with the registered apps,
 * `register --force` of an app with its own flags, and 20 calls of three apps (one with
 * a host layer, one kept instance), each through the warm-path stub or the Node
 * launcher, all start together. Which archive, which app, which path, which arguments
 * and the order of starts come from a fixed seed, and the number of rounds is fixed: a
 * failure replays the same way.
 *
 * Every call either runs the app (its exact output) or fails with a message and exit
 * 125-127; every command exits 0, or 1 with a message; none says "internal error" or
 * prints a stack. Afterwards every image record's layers are there with their records,
 * and every layer's tree lists exactly as a clean load of the same archive lists it.
 *
 * Budget: 8 rounds, ~30-60 s on 2 cores (CI). `make soak` runs 100 rounds
 * (SOAK_ROUNDS, SOAK_SEED; the test reads PILOT_SOAK_ROUNDS, PILOT_SOAK_SEED).
 */
import { spawn } from 'node:child_process';
import { lstatSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildArchive, cli, examples, skipReason, TestRoot } from './harness.js';
import { leftovers, storeDamage } from './store-state.js';

const skip = skipReason();
const ROUNDS = Number(process.env.PILOT_SOAK_ROUNDS ?? 8);
const SEED = Number(process.env.PILOT_SOAK_SEED ?? 18);
const CALLS = 20;
const VARIANTS = 3;

/** mulberry32: a small seeded generator, so that a run replays. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function run(
  file: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  input: string,
  delayMs: number,
): Promise<Outcome> {
  return new Promise((resolve) => {
    setTimeout(() => {
      const child = spawn(file, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => {
        stdout += d;
      });
      child.stderr.on('data', (d) => {
        stderr += d;
      });
      const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal, stdout, stderr });
      });
      // An app that does not read its stdin may be gone before the input is written.
      child.stdin.on('error', () => {});
      child.stdin.end(input);
    }, delayMs);
  });
}

interface App {
  path: string;
  args: (word: string) => string[];
  input: (word: string) => string;
  output: (word: string) => string;
}

const APPS: App[] = [
  {
    path: '/usr/bin/hello',
    args: (w) => [w],
    input: () => '',
    output: (w) => `hello from pilot\n[${w}]\n`,
  },
  {
    path: '/usr/bin/jq-app',
    args: () => ['-r', '.w'],
    input: (w) => `{"w":"${w}"}`,
    output: (w) => `${w}\n`,
  },
  {
    path: '/usr/bin/kept',
    args: (w) => ['args', w],
    input: () => '',
    output: (w) => `[${w}]\n`,
  },
];

/** Every entry of a layer tree with its kind, size and mode: what a clean load gives. */
function listing(dir: string): string[] {
  const out: string[] = [];
  const walk = (at: string) => {
    for (const name of readdirSync(at).sort()) {
      const path = join(at, name);
      const s = lstatSync(path);
      out.push(`${relative(dir, path)} ${s.mode.toString(8)} ${s.isDirectory() ? '-' : s.size}`);
      if (s.isDirectory()) walk(path);
    }
  };
  walk(dir);
  return out;
}

function layerListings(root: string): Map<string, string[]> {
  const layers = join(root, 'var/lib/pilot/layers');
  const found = new Map<string, string[]>();
  for (const name of readdirSync(layers)) {
    if (/^[a-f0-9]{64}$/.test(name)) found.set(name, listing(join(layers, name)));
  }
  return found;
}

describe.skipIf(skip !== '')('everything at once', () => {
  let root: TestRoot;
  let clean: TestRoot;
  const archives: string[] = [];
  const tally = new Map<string, number>();
  const count = (kind: string) => tally.set(kind, (tally.get(kind) ?? 0) + 1);
  const hello = ['--container', 'pilot/hello-delta', '--base', 'pilot/busybox-base'];

  beforeAll(() => {
    root = new TestRoot('storm');
    clean = new TestRoot('storm-clean');
    // Images that share busybox-base's layer (the same layer dir, so the same diff_id).
    for (let v = 0; v < VARIANTS; v++) {
      const extra = join(root.dir, `work/extra-${v}`);
      mkdirSync(join(extra, 'usr/share'), { recursive: true });
      writeFileSync(join(extra, 'usr/share/extra'), `variant ${v}\n`);
      const archive = join(root.dir, `work/extra-${v}.tar`);
      buildArchive(archive, `localhost/storm/extra:v${v}`, {}, [
        join(examples, 'layers/busybox-base'),
        extra,
      ]);
      archives.push(archive);
    }
    for (const r of [root, clean]) r.load('busybox-base', 'hello-delta', 'jq-delta');
    for (const archive of archives) clean.ok(['load', archive, '--quiet']);
    root.ok(['register', ...hello, '--app', '/usr/bin/hello']);
    const jq = ['--container', 'pilot/jq-delta', '--base', 'pilot/busybox-base'];
    root.ok(['register', ...jq, '--app', '/usr/bin/jq-app']);
    root.ok([
      'register',
      ...hello,
      '--app',
      '/usr/bin/kept',
      '--target',
      '/usr/bin/pilot-test',
      '--resume',
    ]);
  });
  afterAll(() => {
    const figures = [...tally].sort().map(([kind, n]) => `  ${kind}: ${n}`);
    process.stdout.write(
      `everything at once, seed ${SEED}, ${ROUNDS} rounds:\n${figures.join('\n')}\n`,
    );
    root?.pilot(['stop', '--all']);
    root?.cleanup();
    clean?.cleanup();
  });

  it(`${ROUNDS} rounds of gc, rmi, load, register --force and ${CALLS} calls together`, async () => {
    const random = seeded(SEED);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const failures: string[] = [];
    let loadedName: string | undefined;

    for (let round = 0; round < ROUNDS; round++) {
      const jobs: Promise<void>[] = [];
      const command = (label: string, args: string[]) => {
        const delay = Math.floor(random() * 40);
        jobs.push(
          run(process.execPath, [cli, ...args], root.env(), '', delay).then((r) => {
            const what = `round ${round}: pilot ${args.join(' ')}`;
            const clear = r.stderr.trim() !== '' && !/internal error|\n\s+at /.test(r.stderr);
            if (r.code === 0) count(`${label}: ok`);
            else if (r.code === 1 && clear)
              count(`${label}: refused (exit 1): ${r.stderr.trim().split('\n')[0]?.slice(0, 100)}`);
            else failures.push(`${what}: exit ${r.code} ${r.signal ?? ''}\n${r.stderr}`);
          }),
        );
      };
      const variant = Math.floor(random() * VARIANTS);
      const name = `localhost/storm/extra:r${round}`;
      command('load', ['load', archives[variant]!, '--name', name, '--quiet']);
      if (loadedName) command('rmi', ['rmi', loadedName]);
      command('gc', ['gc']);
      command('register --force', ['register', ...hello, '--app', '/usr/bin/hello', '--force']);
      for (let call = 0; call < CALLS; call++) {
        const app = pick(APPS);
        const path = pick(['fast', 'node'] as const);
        const word = `r${round}c${call}`;
        const env = root.env(path === 'node' ? { PILOT_FASTPATH: 'off' } : {});
        const delay = Math.floor(random() * 40);
        const label = `${app.path.split('/').pop()} (${path})`;
        jobs.push(
          run(root.link(app.path), app.args(word), env, app.input(word), delay).then((r) => {
            const clear = r.stderr.trim() !== '' && !/internal error|\n\s+at /.test(r.stderr);
            if (r.code === 0 && r.stdout === app.output(word)) count(`${label}: ran`);
            else if (r.code !== null && r.code >= 125 && r.code <= 127 && clear)
              count(`${label}: failed with ${r.code}: ${r.stderr.trim().split('\n')[0]}`);
            else
              failures.push(
                `round ${round}: ${app.path} ${word} (${path}): exit ${r.code} ${r.signal ?? ''}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`,
              );
          }),
        );
      }
      await Promise.all(jobs);
      loadedName = name;
    }
    expect(failures).toEqual([]);

    // Afterwards: the store is whole, every layer as a clean load lists it, no stray.
    expect(storeDamage(root.dir)).toEqual([]);
    const expected = layerListings(clean.dir);
    for (const [layer, entries] of layerListings(root.dir)) {
      expect(expected.has(layer), `layer ${layer} from no archive`).toBe(true);
      expect(entries, `layer ${layer}`).toEqual(expected.get(layer));
    }
    for (const app of APPS) {
      const r = root.run(app.path, app.args('after'), { input: app.input('after') });
      expect(r.stdout, app.path).toBe(app.output('after'));
    }
    root.ok(['stop', '--all']);
    root.ok(['gc']);
    expect(leftovers(root.dir)).toEqual([]);
  }, 600_000);
});
