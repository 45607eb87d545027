/**
 * `pilot update` with real images: load v1, register, load v2 under the same tag, `list`
 * marks the app behind while it still runs v1, `update` moves it to v2, `list` is clean.
 * Also: --all, --dry-run, a tag that names no image any more (exit 1), and a running
 * kept (resume) instance that an update does not break.
 */
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildArchive, skipReason, TestRoot, watchOutput } from './harness.js';

const skip = skipReason();

/** An image `ref` whose /usr/bin/NAME prints "NAME vVERSION ARGS" and exits with `code`. */
function scriptImage(dir: string, ref: string, name: string, version: number, code = 0): string {
  const layer = join(dir, `${name}-v${version}`);
  mkdirSync(join(layer, 'usr/bin'), { recursive: true });
  writeFileSync(
    join(layer, 'usr/bin', name),
    `#!/bin/sh\necho "${name} v${version} $*"\nexit ${code}\n`,
  );
  chmodSync(join(layer, 'usr/bin', name), 0o755);
  const archive = join(dir, `${name}-v${version}.tar`);
  buildArchive(archive, ref, { Env: ['PATH=/usr/bin:/bin'] }, [layer]);
  return archive;
}

describe.skipIf(skip !== '')('pilot update', () => {
  let root: TestRoot;
  let work: string;
  const list = () =>
    JSON.parse(root.ok(['list', '--json']).stdout) as { app: string; behind: boolean }[];
  const register = (app: string, ...extra: string[]) =>
    root.ok([
      'register',
      '--container',
      `localhost/test/${app}`,
      '--base',
      'pilot/busybox-base',
      '--app',
      `/usr/bin/${app}`,
      ...extra,
    ]);

  beforeAll(() => {
    root = new TestRoot('update');
    work = join(root.dir, 'work');
    root.load('busybox-base');
  });
  afterAll(() => root?.cleanup());

  it('marks an app behind its tag, keeps running the pin, and update moves it', () => {
    root.ok(['load', '--quiet', scriptImage(work, 'localhost/test/one:latest', 'one', 1)]);
    register('one');
    expect(root.run('/usr/bin/one', ['a']).stdout).toBe('one v1 a\n');
    root.ok(['load', '--quiet', scriptImage(work, 'localhost/test/one:latest', 'one', 2, 3)]);

    expect(list()).toEqual([expect.objectContaining({ app: 'one', behind: true })]);
    expect(root.ok(['list']).stdout).toMatch(/^one \(behind\) /m);
    expect(JSON.parse(root.ok(['list', '--format', 'json']).stdout)[0].behind).toBe(true);
    expect(root.ok(['list', '--format', 'table']).stdout).toContain('one (behind)');
    // flake-ctl's CSV keeps its five fields.
    expect(root.ok(['list', '--format', 'csv']).stdout.trim().split(',')).toHaveLength(5);
    // Nothing re-pins implicitly: the launch keeps the pin.
    const v1 = root.run('/usr/bin/one', ['b']);
    expect([v1.stdout, v1.code]).toEqual(['one v1 b\n', 0]);

    const flake = join(root.dir, 'usr/share/flakes/one.yaml');
    const before = readFileSync(flake, 'utf8');
    const dry = root.ok(['update', 'one', '--dry-run']);
    expect(dry.stdout).toMatch(
      /^would update one: localhost\/test\/one [a-f0-9]{12} → [a-f0-9]{12}$/m,
    );
    expect(readFileSync(flake, 'utf8')).toBe(before);

    const r = root.ok(['update', '/usr/bin/one']);
    expect(r.stdout).toMatch(
      /^updated one: localhost\/test\/one ([a-f0-9]{12}) → ([a-f0-9]{12})\n$/,
    );
    const after = readFileSync(flake, 'utf8');
    // Only the pin changed: every other line stays as register wrote it.
    expect(after.split('\n').filter((l) => !before.includes(l))).toHaveLength(1);
    const v2 = root.run('/usr/bin/one', ['c']);
    expect([v2.stdout, v2.code]).toEqual(['one v2 c\n', 3]);
    expect(list()).toEqual([expect.objectContaining({ app: 'one', behind: false })]);
    expect(root.ok(['update', 'one']).stdout).toBe('one is up to date\n');
  });

  it('--all updates every app that is behind and says which are up to date', () => {
    root.ok(['load', '--quiet', scriptImage(work, 'localhost/test/two:latest', 'two', 1)]);
    register('two');
    root.ok(['load', '--quiet', scriptImage(work, 'localhost/test/two:latest', 'two', 2)]);
    const r = root.ok(['update', '--all']);
    expect(r.stdout).toMatch(/^one is up to date$/m);
    expect(r.stdout).toMatch(/^updated two: localhost\/test\/two /m);
    expect(root.run('/usr/bin/two').stdout).toBe('two v2 \n');
    const json = JSON.parse(root.ok(['update', '--all', '--json']).stdout);
    expect(json.map((o: { status: string }) => o.status)).toEqual(['up-to-date', 'up-to-date']);
  });

  it('exits 1 naming an app whose tag names no image, and updates the others', () => {
    root.ok(['load', '--quiet', scriptImage(work, 'localhost/test/three:latest', 'three', 1)]);
    register('three');
    root.ok(['rmi', '--force', 'localhost/test/three']);
    const r = root.pilot(['update', '--all']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      'pilot: cannot update three: "localhost/test/three" no longer names any image in the store',
    );
    expect(r.stderr).toContain('\n  code: PILOT_IMAGE_UNKNOWN\n');
    expect(r.stdout).toMatch(/^one is up to date$/m);
    // --json carries the code scripts match on.
    const json = root.pilot(['update', '--all', '--json']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toContainEqual(
      expect.objectContaining({ app: 'three', status: 'tag-gone', code: 'PILOT_IMAGE_UNKNOWN' }),
    );
    // The app still runs what it pins.
    expect(root.run('/usr/bin/three').stdout).toBe('three v1 \n');
    const usage = root.pilot(['update']);
    expect([usage.code, usage.stderr]).toEqual([2, expect.stringContaining('--all')]);
    const unknown = root.pilot(['update', 'nosuch']);
    expect([unknown.code, unknown.stderr]).toEqual([
      1,
      expect.stringContaining('no flake for app "nosuch"'),
    ]);
  });

  it('leaves a running kept instance alone; its next call runs the new image', async () => {
    root.ok(['load', '--quiet', scriptImage(work, 'localhost/test/kept:latest', 'kept', 1)]);
    register('kept', '--resume', '--target', '/bin/sh');
    const child = root.start('/usr/bin/kept', [
      '-c',
      'echo started; read line; /usr/bin/kept "$line"',
    ]);
    const output = watchOutput(child);
    await output.until('started');
    root.ok(['load', '--quiet', scriptImage(work, 'localhost/test/kept:latest', 'kept', 2)]);
    expect(root.ok(['update', 'kept']).stdout).toMatch(/^updated kept: /);
    // A new call while the old one runs: the instance is remounted on v2 (over the same
    // upper dir), lazily, so the call in progress keeps the view it started with.
    expect(root.run('/usr/bin/kept', ['-c', '/usr/bin/kept y']).stdout).toBe('kept v2 y\n');
    child.stdin?.end('x\n');
    const code = await new Promise((done) => child.on('exit', done));
    expect(code).toBe(0);
    expect(output.text).toBe('started\nkept v1 x\n');
    root.ok(['stop', 'kept']);
    rmSync(work, { recursive: true, force: true });
  });
});
