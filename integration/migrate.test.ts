/**
 * `pilot migrate` on a real flake-pilot host in a temp root: flakes as flake-ctl writes
 * them, app links to /usr/bin/podman-pilot, images in podman's real (rootful) storage
 * under test-only tags. Migrate, again (no change), revert (flakes and links byte for
 * byte as before), again (no change); a missing image; an app held by a registration;
 * a kill at every commit point of a migrate, then --revert.
 *
 * Time budget: ~40 s here (podman load of two small archives ~2 s; each migrate/revert
 * 0.5-1 s, the kill loop runs ~15 of each).
 */
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimLock } from '../src/core/lock.js';
import { examples, skipReason, TestRoot } from './harness.js';

const skip = skipReason();
const PREFIX = `localhost/pilot-it-migrate-${process.pid}`;
const HELLO = `${PREFIX}/hello:1`;
const BASE = `${PREFIX}/base:1`;
const MISSING = `${PREFIX}/missing:1`;

function podman(...args: string[]): { code: number | null; out: string } {
  const r = spawnSync('podman', ['--runtime', 'runc', ...args], { encoding: 'utf8' });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

/** Loads an example archive into podman under `tag` only; returns the tags to remove. */
function podmanLoad(archive: string, archiveName: string, tag: string): void {
  const existed = podman('image', 'exists', archiveName).code === 0;
  const load = podman('load', '-q', '-i', join(examples, archive));
  if (load.code !== 0) throw new Error(`podman load ${archive}: ${load.out}`);
  expect(podman('tag', archiveName, tag).code).toBe(0);
  // The archive's own name is not ours to leave behind (nor to take when it was there).
  if (!existed) expect(podman('untag', tag, archiveName).code).toBe(0);
}

// What flake-ctl 3.1.44 writes (its template's keys and comments), and 2.2.19's shorter form.
const helloFlake = `# flake-ctl podman register --container ${HELLO} --app /usr/bin/hello --base ${BASE}
container:
  name: ${HELLO}
  target_app_path: /usr/bin/hello
  host_app_path: /usr/bin/hello
  base_container: ${BASE}
  layers: []

  runtime:
    # Run the container engine as a user other than the
    # default target user root.
    runas: root
    resume: false
    attach: false
    podman:
      - --rm
include:
  tar: []
  path: []
`;
const echoFlake = `container:
  name: ${BASE}
  target_app_path: /bin/echo
  host_app_path: /usr/bin/becho
  runtime:
    podman:
      - --rm
`;
const goneFlake = `container:
  name: ${MISSING}
  target_app_path: /bin/true
  host_app_path: /usr/bin/gone
`;
const toolFlake = `container:
  name: ${BASE}
  target_app_path: /bin/true
  host_app_path: /usr/bin/tool
`;

describe.skipIf(skip !== '')('pilot migrate', () => {
  let root: TestRoot;
  const flakes = () => join(root.dir, 'usr/share/flakes');
  const flake = (app: string) => join(flakes(), `${app}.yaml`);
  const journal = () => join(root.dir, 'var/lib/pilot/migrate.json');

  /** Every flake's bytes and every link's target (or "file: bytes"), to compare whole hosts. */
  function snapshot(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const app of ['hello', 'becho', 'gone', 'tool']) {
      if (existsSync(flake(app))) out[`${app}.yaml`] = readFileSync(flake(app), 'utf8');
      const link = root.link(`/usr/bin/${app}`);
      if (!existsSync(link) && !isLink(link)) continue;
      out[link] = isLink(link) ? `-> ${readlinkSync(link)}` : `file: ${readFileSync(link, 'utf8')}`;
    }
    return out;
  }

  function isLink(path: string): boolean {
    try {
      return lstatSync(path).isSymbolicLink();
    } catch {
      return false;
    }
  }

  function writeHost(): void {
    mkdirSync(join(flakes(), 'hello.d'), { recursive: true });
    mkdirSync(join(root.dir, 'usr/bin'), { recursive: true });
    for (const [app, text] of [
      ['hello', helloFlake],
      ['becho', echoFlake],
    ] as const) {
      writeFileSync(flake(app), text);
      rmSync(root.link(`/usr/bin/${app}`), { force: true });
      symlinkSync('/usr/bin/podman-pilot', root.link(`/usr/bin/${app}`));
    }
  }

  beforeAll(() => {
    root = new TestRoot('migrate');
    podmanLoad('hello-delta.tar', 'localhost/pilot/hello-delta:latest', HELLO);
    podmanLoad('busybox-base.tar', 'localhost/pilot/busybox-base:latest', BASE);
    writeHost();
    writeFileSync(flake('gone'), goneFlake);
    symlinkSync('/usr/bin/podman-pilot', root.link('/usr/bin/gone'));
    writeFileSync(flake('tool'), toolFlake);
    writeFileSync(root.link('/usr/bin/tool'), '#!/bin/sh\necho a real tool\n');
  });
  afterAll(() => {
    for (const tag of [HELLO, BASE]) podman('rmi', tag);
    root?.cleanup();
  });

  it('shows flake-pilot apps for what they are before migrating', () => {
    const list = JSON.parse(root.ok(['list', '--json']).stdout);
    const links = Object.fromEntries(
      list.map((e: { app: string; link: string }) => [e.app, e.link]),
    );
    expect(links).toEqual({
      becho: 'flake-pilot',
      gone: 'flake-pilot',
      hello: 'flake-pilot',
      tool: 'foreign',
    });
    expect(root.ok(['list']).stdout).toMatch(/hello +\/usr\/bin\/hello \(flake-pilot\)/);
    expect(root.ok(['show', 'hello']).stdout).toContain('/usr/bin/hello links to podman-pilot');
    const check = root.pilot(['check', 'hello']);
    expect(check.code).toBe(1);
    expect(check.stderr).toContain('run "pilot migrate"');
    const register = root.pilot(['register', '--container', BASE, '--app', '/usr/bin/hello']);
    expect(register.code).toBe(1);
    expect(register.stderr).toContain('already registered');
    expect(register.stderr).toContain('"pilot migrate" makes it a pilot app');
  });

  it('migrates the apps whose images podman has, reports the one it lacks, touches no other file', () => {
    const before = snapshot();
    const dry = root.pilot(['migrate', '--dry-run']);
    expect(dry.code).toBe(1);
    expect(dry.stdout).toContain(`would import ${HELLO}`);
    expect(snapshot()).toEqual(before);
    expect(existsSync(journal())).toBe(false);

    const r = root.pilot(['migrate']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`imported ${HELLO} (`);
    expect(r.stdout).toContain(`imported ${BASE} (`);
    expect(r.stdout).toMatch(/pinned hello: .*hello\.yaml \(container\.digests: /);
    expect(r.stdout).toMatch(
      /linked becho: .*\/usr\/bin\/becho -> .*pilot-exec \(was \/usr\/bin\/podman-pilot\)/,
    );
    expect(r.stdout).toContain('skipped tool:');
    expect(r.stdout).toContain('2 app(s) migrated, 1 failed');
    expect(r.stderr).toContain(`failed gone: image ${MISSING} is in neither podman's storage`);

    // The flake gained the pins and nothing else; the apps now run through pilot.
    const pinned = readFileSync(flake('hello'), 'utf8');
    expect(pinned.replace(/ {2}digests:\n( {4}.*\n)+/, '')).toBe(helloFlake);
    expect(root.run('/usr/bin/hello', ['x']).stdout).toBe('hello from pilot\n[x]\n');
    const echo = root.run('/usr/bin/becho', ['a b', '%s']);
    expect([echo.code, echo.stdout]).toEqual([0, 'a b %s\n']);
    const after = snapshot();
    for (const unchanged of [
      'gone.yaml',
      root.link('/usr/bin/gone'),
      'tool.yaml',
      root.link('/usr/bin/tool'),
    ]) {
      expect(after[unchanged]).toBe(before[unchanged]);
    }
    expect(root.ok(['check', 'hello']).stdout).toContain('hello: all');
  });

  it('runs again without changing anything; remove takes a flake-pilot app as flake-ctl would', () => {
    const before = snapshot();
    const again = root.pilot(['migrate']);
    expect(again.code).toBe(1); // gone still lacks its image
    expect(again.stdout).not.toMatch(/^(imported|pinned|linked)/m);
    expect(snapshot()).toEqual(before);

    expect(root.ok(['remove', '--app', '/usr/bin/gone']).stdout).toContain('removed gone (');
    expect(isLink(root.link('/usr/bin/gone'))).toBe(false);
    const third = root.pilot(['migrate']);
    expect([third.code, third.stdout.trim()]).toEqual([
      0,
      'skipped tool: ' +
        `${root.link('/usr/bin/tool')} is not a link to podman-pilot: not touched\n` +
        'nothing to migrate: 2 app(s) already run by pilot, 1 skipped',
    ]);
    const json = JSON.parse(root.ok(['migrate', '--json']).stdout);
    expect(json).toMatchObject({ revert: false, done: [], failed: [], skipped: ['tool'] });
    expect(json.already).toEqual(['becho', 'hello']);
    // A foreign file stays foreign for remove too.
    const tool = root.pilot(['remove', '--app', '/usr/bin/tool']);
    expect(tool.code).toBe(1);
    expect(readFileSync(root.link('/usr/bin/tool'), 'utf8')).toContain('a real tool');
  });

  it('reverts to byte-identical flakes and links, keeps the images, and a second revert is a no-op', () => {
    const r = root.pilot(['migrate', '--revert']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/relinked hello: .* -> \/usr\/bin\/podman-pilot/);
    expect(r.stdout).toContain("stay in pilot's store");
    expect(readFileSync(flake('hello'), 'utf8')).toBe(helloFlake);
    expect(readFileSync(flake('becho'), 'utf8')).toBe(echoFlake);
    for (const app of ['hello', 'becho']) {
      expect(readlinkSync(root.link(`/usr/bin/${app}`))).toBe('/usr/bin/podman-pilot');
    }
    expect(existsSync(journal())).toBe(false);
    expect(root.ok(['images']).stdout).toContain(HELLO.replace(/:1$/, ''));
    const again = root.pilot(['migrate', '--revert']);
    expect([again.code, again.stdout]).toEqual([
      0,
      `nothing to revert: no migrate journal at ${journal()}\n`,
    ]);
  });

  it('leaves an app that a registration holds, and says why', () => {
    const held = claimLock(join(flakes(), '.becho.lock'), 'test');
    try {
      const r = root.pilot(['migrate']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/failed becho: registration of becho is busy/);
      expect(readlinkSync(root.link('/usr/bin/becho'))).toBe('/usr/bin/podman-pilot');
    } finally {
      held.release();
    }
    expect(root.ok(['migrate', '--revert']).stdout).toContain('relinked hello');
  });

  it('puts back a migrate killed at any of its commit points', () => {
    const before = snapshot();
    const log = join(mkdtempSync(join(tmpdir(), 'pilot-migrate-fault-')), 'points');
    root.ok(['migrate']);
    root.ok(['migrate', '--revert']);
    expect(snapshot()).toEqual(before);
    expect(root.pilot(['migrate'], { env: root.env({ PILOT_FAULT_LOG: log }) }).code).toBe(0);
    const points = readFileSync(log, 'utf8').trim().split('\n');
    rmSync(join(log, '..'), { recursive: true, force: true });
    root.ok(['migrate', '--revert']);
    expect(points.some((p) => p.includes('migrate.json'))).toBe(true);
    for (let at = 1; at <= points.length; at++) {
      const killed = root.pilot(['migrate'], { env: root.env({ PILOT_FAULT_AT: String(at) }) });
      expect(killed.signal, points[at - 1]).toBe('SIGKILL');
      const revert = root.pilot(['migrate', '--revert']);
      expect(revert.code, `${points[at - 1]}: ${revert.stderr}`).toBe(0);
      expect(snapshot(), points[at - 1]).toEqual(before);
      expect(existsSync(journal())).toBe(false);
    }
  });
});
