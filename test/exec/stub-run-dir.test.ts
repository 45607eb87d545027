/**
 * docs/plan.md, "Where the plan is": the stub looks for a caller's plan exactly where the
 * Node launcher writes it (launcherPaths() + planFile()), for root and an unprivileged
 * caller, a PILOT_ROOT of root's, of the caller's or none, and XDG_RUNTIME_DIR absolute,
 * relative or unset. The stub says where it looked when it finds no plan
 * (PILOT_FASTPATH=require). Calls as another uid need root.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planFile } from '../../src/runtime/fast-plan.js';
import { launcherPaths } from '../../src/runtime/launch.js';
import { ownsStore } from '../../src/runtime/launcher-paths.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const NOBODY = 65534;
const app = 'where';

describe.skipIf(process.getuid?.() !== 0)('the stub finds the plan where Node writes it', () => {
  let tmp = '';
  let link = '';
  let home = '';
  let systemRoot = '';
  let ownRoot = '';

  beforeAll(() => {
    const make = spawnSync('make', ['dist/pilot-exec'], { cwd: repo, encoding: 'utf8' });
    expect(make.status, make.stderr).toBe(0);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pilot-where-test-'));
    fs.chmodSync(tmp, 0o755);
    fs.mkdirSync(path.join(tmp, 'bin'));
    fs.copyFileSync(path.join(repo, 'dist/pilot-exec'), path.join(tmp, 'bin/pilot-exec'));
    fs.chmodSync(path.join(tmp, 'bin/pilot-exec'), 0o755);
    link = path.join(tmp, 'bin', app);
    fs.symlinkSync('pilot-exec', link);
    home = path.join(tmp, 'home');
    systemRoot = path.join(tmp, 'system-root');
    ownRoot = path.join(tmp, 'own-root');
    fs.mkdirSync(systemRoot);
    fs.mkdirSync(ownRoot);
    fs.chownSync(ownRoot, NOBODY, NOBODY);
  });
  afterAll(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  /** Where the stub looked for the plan, or why it had nowhere to look. */
  function stubLooksAt(uid: number, env: Record<string, string>): string {
    const r = spawnSync(link, [], {
      cwd: '/',
      uid,
      gid: uid,
      env: { PATH: '/usr/bin:/bin', PILOT_FASTPATH: 'require', ...env },
    });
    const said = r.stderr.toString();
    expect(r.status, said).toBe(125);
    // "cannot open plan": a run dir the test process (root) made for Node's side first.
    const found = /declined: (?:no plan yet|cannot open plan): (.*)\n$/.exec(said);
    return found ? found[1]! : said.replace(/^.*declined: /, '').trim();
  }

  /** Where the Node launcher writes the plan ("no usable run dir": a private dir for the call). */
  function nodeWritesTo(uid: number, env: Record<string, string>): string {
    const run = launcherPaths(app, env, uid).run;
    const isPrivate = path.dirname(run) === os.tmpdir() && /^pilot-run-/.test(path.basename(run));
    return isPrivate ? 'no usable run dir' : planFile(run, app, uid);
  }

  // Absolute: under the test's dir (launcherPaths makes the caller's run dir).
  const xdgs: [string, () => Record<string, string>][] = [
    ['absolute', () => ({ XDG_RUNTIME_DIR: path.join(tmp, 'xdg') })],
    ['relative', () => ({ XDG_RUNTIME_DIR: 'run/user/x' })],
    ['unset', () => ({})],
  ];
  const stores: [string, (env: Record<string, string>) => Record<string, string>][] = [
    ["root's PILOT_ROOT", (env) => ({ ...env, PILOT_ROOT: systemRoot })],
    ["the caller's PILOT_ROOT", (env) => ({ ...env, PILOT_ROOT: ownRoot })],
    ['the system store', (env) => env],
  ];

  for (const [who, uid] of [
    ['root', 0],
    ['an unprivileged caller', NOBODY],
  ] as const) {
    for (const [storeName, withStore] of stores) {
      for (const [xdgName, xdg] of xdgs) {
        it(`${who}, ${storeName}, XDG_RUNTIME_DIR ${xdgName}`, () => {
          const env = withStore({ HOME: home, ...xdg() });
          expect(stubLooksAt(uid, env)).toBe(nodeWritesTo(uid, env));
        });
      }
    }
  }

  it("the store's owner writes its plan into the store, where every caller's stub looks first", () => {
    for (const [uid, store] of [
      [0, systemRoot],
      [NOBODY, ownRoot],
    ] as const) {
      const env = { HOME: home, PILOT_ROOT: store };
      const paths = launcherPaths(app, env, uid);
      expect(ownsStore(paths)).toBe(true);
      const file = planFile(paths.store, app, uid);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.chownSync(path.dirname(file), uid, uid);
      fs.writeFileSync(file, 'not a plan\0');
      fs.chownSync(file, uid, uid);
      try {
        // A plan there that is not taken (here: not one) is the one the stub names; another
        // caller takes only root's store plans, never one another user could write.
        for (const caller of [uid, uid === 0 ? NOBODY : 0]) {
          const said = spawnSync(link, [], {
            cwd: '/',
            uid: caller,
            gid: caller,
            env: { PATH: '/usr/bin:/bin', PILOT_FASTPATH: 'require', ...env },
          }).stderr.toString();
          const why =
            uid === 0 || caller === uid ? 'unknown plan format' : 'plan not trusted (its dir)';
          expect(said, `uid ${caller}`).toContain(`${why}: ${file}`);
        }
      } finally {
        fs.rmSync(path.dirname(file), { recursive: true });
      }
    }
  });

  it("an unprivileged caller's own store (its own flake), XDG_RUNTIME_DIR absolute, relative or unset", () => {
    const flakes = path.join(home, '.config/flakes');
    fs.mkdirSync(flakes, { recursive: true });
    fs.writeFileSync(path.join(flakes, `${app}.yaml`), 'name: where\n');
    try {
      for (const [, xdg] of xdgs) {
        const env = { HOME: home, ...xdg() };
        expect(launcherPaths(app, env, NOBODY).system).toBe(false);
        expect(stubLooksAt(NOBODY, env)).toBe(nodeWritesTo(NOBODY, env));
      }
    } finally {
      fs.rmSync(flakes, { recursive: true });
    }
  });

  it('a caller with no absolute HOME or XDG_RUNTIME_DIR has no run dir: the stub has no plan', () => {
    const callers: Record<string, string>[] = [
      {},
      { HOME: 'rel' },
      { HOME: 'rel', XDG_RUNTIME_DIR: 'rel' },
    ];
    for (const env of callers) {
      expect(stubLooksAt(NOBODY, { PILOT_ROOT: systemRoot, ...env })).toBe('no usable run dir');
      expect(nodeWritesTo(NOBODY, { PILOT_ROOT: systemRoot, ...env })).toBe('no usable run dir');
    }
  });
});
