/**
 * Flake files that are not what they should be (docs/security.md, promise 9; issue 20,
 * items 4 and 8): a FIFO, a drop-in that is a FIFO or a link to /dev/zero, a 5 MB
 * one-word flake, a link to /etc/passwd, a directory. Each is one clear error for its own
 * app, within seconds; every command that reads flakes finishes, and the other apps work.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Result, skipReason, TestRoot } from './harness.js';

const skip = skipReason();

describe.skipIf(skip !== '')('flake files that are not regular, small YAML files', () => {
  let root: TestRoot;
  let flakes: string;
  const base = ['--container', 'pilot/hello-delta', '--base', 'pilot/busybox-base'];
  const bad: Record<string, RegExp> = {
    fifo: /fifo\.yaml: is a FIFO \(named pipe\), not a regular file/,
    dropfifo: /dropfifo\.d\/50-fifo\.yaml: is a FIFO \(named pipe\), not a regular file/,
    zero: /zero\.d\/50-zero\.yaml: is a symbolic link to \/dev\/zero, which is a character device/,
    big: /big\.yaml: is larger than 262144 bytes \(5000000\)/,
    passwd:
      /passwd\.yaml: is a symbolic link to \/etc\/passwd, which is not a \.yaml or \.yml file/,
    dir: /dir\.yaml: is a directory, not a regular file/,
  };

  /** Runs and times `fn`: every command must end within a few seconds. */
  function quick(fn: () => Result): Result {
    const started = Date.now();
    const r = fn();
    expect(r.signal, 'killed by the timeout: it hung').toBeNull();
    expect(Date.now() - started).toBeLessThan(8000);
    return r;
  }

  beforeAll(() => {
    root = new TestRoot('flake-input');
    chmodSync(root.dir, 0o755);
    root.load('busybox-base', 'hello-delta');
    for (const app of ['hello', ...Object.keys(bad)]) {
      root.ok(['register', ...base, '--app', `/usr/bin/${app}`, '--target', '/usr/bin/pilot-test']);
      // A plan of the good flake exists: the fast path must notice the change.
      expect(root.run(`/usr/bin/${app}`, ['args', 'x']).stdout).toBe('[x]\n');
    }
    flakes = join(root.dir, 'usr/share/flakes');
    const fifo = (path: string) => expect(spawnSync('mkfifo', [path]).status).toBe(0);
    rmSync(join(flakes, 'fifo.yaml'));
    fifo(join(flakes, 'fifo.yaml'));
    mkdirSync(join(flakes, 'dropfifo.d'));
    fifo(join(flakes, 'dropfifo.d/50-fifo.yaml'));
    mkdirSync(join(flakes, 'zero.d'));
    symlinkSync('/dev/zero', join(flakes, 'zero.d/50-zero.yaml'));
    writeFileSync(join(flakes, 'big.yaml'), 'a'.repeat(5_000_000));
    rmSync(join(flakes, 'passwd.yaml'));
    symlinkSync('/etc/passwd', join(flakes, 'passwd.yaml'));
    rmSync(join(flakes, 'dir.yaml'));
    mkdirSync(join(flakes, 'dir.yaml'));
  });
  afterAll(() => root?.cleanup());

  it('list shows each broken app with its error, briefly, and the good one as usual', () => {
    const table = quick(() => root.pilot(['list']));
    expect(table.code).toBe(0);
    for (const [app, error] of Object.entries(bad)) {
      const row = table.stdout.split('\n').find((line) => line.startsWith(`${app} `));
      expect(row, app).toMatch(error);
    }
    expect(table.stdout).toMatch(/^hello .*pilot\/hello-delta/m);
    expect(table.stdout.length).toBeLessThan(8 * 1024);
    const json = quick(() => root.pilot(['list', '--json']));
    expect(json.code).toBe(0);
    expect(json.stdout.length).toBeLessThan(8 * 1024);
    const entries = JSON.parse(json.stdout) as { app: string; ok: boolean; error?: string }[];
    for (const [app, error] of Object.entries(bad)) {
      expect(entries.find((e) => e.app === app)?.error, app).toMatch(error);
    }
    expect(entries.find((e) => e.app === 'hello')?.ok).toBe(true);
    expect(table.stdout + json.stdout).not.toContain('root:');
  });

  it('show names the file and what it is, in a few lines', () => {
    for (const [app, error] of Object.entries(bad)) {
      const r = quick(() => root.pilot(['show', app]));
      expect(r.code, app).toBe(1);
      expect(r.stderr).toMatch(error);
      expect(r.stdout).toBe('');
      expect(r.stderr.length).toBeLessThan(1024);
      expect(r.stderr).not.toContain('root:');
    }
    expect(quick(() => root.pilot(['show', 'hello'])).code).toBe(0);
  });

  it('images and gc finish; gc keeps every unnamed image and says why', () => {
    const images = quick(() => root.pilot(['images']));
    expect(images.code).toBe(0);
    expect(images.stdout).toContain('localhost/pilot/hello-delta');
    const gc = quick(() => root.pilot(['gc']));
    expect(gc.code).toBe(0);
    expect(gc.stderr).toMatch(/warning: kept every image without a name: the flakes of .*fifo/);
    expect(quick(() => root.pilot(['images'])).stdout).toContain('localhost/pilot/busybox-base');
  });

  it('follows a linked flake to a root-owned .yaml file, and sees edits there on both paths', () => {
    root.ok(['register', ...base, '--app', '/usr/bin/linked', '--target', '/usr/bin/pilot-test']);
    const elsewhere = join(root.dir, 'etc-flakes');
    mkdirSync(elsewhere, { mode: 0o755 });
    const target = join(elsewhere, 'linked.yaml');
    const text = readFileSync(join(flakes, 'linked.yaml'), 'utf8');
    const withValue = (value: string) =>
      text.replace('podman: []', `podman: ["-e PILOT_LINKED=${value}"]`);
    writeFileSync(target, withValue('one'), { mode: 0o644 });
    rmSync(join(flakes, 'linked.yaml'));
    symlinkSync(target, join(flakes, 'linked.yaml'));
    const value = (env: NodeJS.ProcessEnv = {}) =>
      root.run('/usr/bin/linked', ['env', 'PILOT_LINKED'], { env });
    expect(value().stdout).toBe('one\n');
    // Warm: the stub takes the plan; an edit of the target (the link is unchanged) makes
    // it stale, and the Node launcher's flake cache is stale too.
    expect(value({ PILOT_FASTPATH: 'require' }).stdout).toBe('one\n');
    writeFileSync(target, withValue('two'));
    expect(value({ PILOT_FASTPATH: 'off' }).stdout).toBe('two\n');
    writeFileSync(target, withValue('three'));
    expect(value().stdout).toBe('three\n');
    expect(value({ PILOT_FASTPATH: 'require' }).stdout).toBe('three\n');
    expect(quick(() => root.pilot(['show', 'linked'])).stdout).toContain('PILOT_LINKED=three');
  });

  it('each broken app exits 125 with its error; the good one runs', () => {
    for (const [app, error] of Object.entries(bad)) {
      const r = quick(() => root.run(`/usr/bin/${app}`, ['args', 'x']));
      expect(r.code, app).toBe(125);
      expect(r.stderr).toMatch(error);
      expect(r.stderr.length).toBeLessThan(1024);
      expect(r.stdout).toBe('');
    }
    const hello = root.run('/usr/bin/hello', ['args', 'x']);
    expect([hello.code, hello.stdout]).toEqual([0, '[x]\n']);
  });
});
