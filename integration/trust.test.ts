/**
 * Trust (DESIGN.md, Trust; docs/security.md): hostile images built here, the
 * unprivileged side run as a real unprivileged user. Each test names the promise
 * it checks.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildArchive, examples, skipReason, TestRoot } from './harness.js';

const skip = skipReason();
const NOBODY = 65534;
const base = ['--base', 'pilot/busybox-base'];

describe.skipIf(skip !== '')('trust', () => {
  let root: TestRoot;
  let work: string;
  /** Host paths the hostile lists name (outside /tmp, which every app sees anyway). */
  let host: string;
  /** The caller's working directory, which no list may touch. */
  let cwd: string;

  /** Loads a one-layer image `test/NAME` with an app /usr/bin/app and registers it at /usr/bin/NAME. */
  const image = (name: string, build: (layer: string) => void, script = 'echo ran') => {
    const layer = join(work, name);
    mkdirSync(join(layer, 'usr/bin'), { recursive: true });
    writeFileSync(join(layer, 'usr/bin/app'), `#!/bin/sh\n${script}\n`, { mode: 0o755 });
    build(layer);
    buildArchive(join(work, `${name}.tar`), `localhost/test/${name}:latest`, {}, [layer]);
    root.ok(['load', join(work, `${name}.tar`), '--quiet']);
    root.ok([
      'register',
      '--container',
      `test/${name}`,
      ...base,
      '--app',
      `/usr/bin/${name}`,
      '--target',
      '/usr/bin/app',
    ]);
  };
  /** The example test app (pilot-test of pilot/hello-delta) at `app`. */
  const registerTestApp = (app: string, ...extra: string[]) => {
    root.load('hello-delta');
    const target = ['--target', '/usr/bin/pilot-test'];
    root.ok([
      'register',
      '--container',
      'pilot/hello-delta',
      ...base,
      '--app',
      app,
      ...target,
      ...extra,
    ]);
  };
  const snapshot = (dir: string) => {
    const s = statSync(dir);
    return { mode: s.mode, uid: s.uid, gid: s.gid, entries: readdirSync(dir).sort() };
  };

  beforeAll(() => {
    root = new TestRoot('trust');
    chmodSync(root.dir, 0o755);
    work = join(root.dir, 'work');
    host = mkdtempSync('/var/tmp/pilot-trust-');
    chmodSync(host, 0o755);
    cwd = mkdtempSync(join(tmpdir(), 'pilot-trust-cwd-'));
    chmodSync(cwd, 0o755);
    writeFileSync(join(cwd, 'mine'), "the caller's file\n");
    root.load('busybox-base');
  });
  afterAll(() => {
    root?.cleanup();
    for (const dir of [host, cwd]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("a /removed list through /proc/self/cwd changes nothing in the caller's cwd", () => {
    image('proccwd', (layer) => {
      writeFileSync(join(layer, 'removed'), '/proc/self/cwd\n/proc/self/cwd/f\n');
      mkdirSync(join(layer, 'proc/self/cwd'), { recursive: true });
    });
    const before = snapshot(cwd);
    const r = root.run('/usr/bin/proccwd', [], { cwd });
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/\/proc\/self\/cwd.*\/proc, \/sys or \/dev/);
    expect(r.code).toBe(125);
    expect(snapshot(cwd)).toEqual(before);
  });

  it('a path below a listed symlink is refused, and nothing is linked through it', () => {
    // The host has HOST/ln -> the caller's cwd and a real HOST/real/g; the image makes
    // HOST/real a symlink to ln, so g's place in the image is HOST/ln/g.
    symlinkSync(cwd, join(host, 'ln'));
    mkdirSync(join(host, 'real'));
    writeFileSync(join(host, 'real/g'), 'host g\n');
    image('belowlink', (layer) => {
      writeFileSync(join(layer, 'removed'), `${host}/ln\n${host}/real/g\n`);
      mkdirSync(join(layer, host.slice(1)), { recursive: true });
      symlinkSync('ln', join(layer, host.slice(1), 'real'));
    });
    const before = snapshot(cwd);
    const r = root.run('/usr/bin/belowlink', [], { cwd });
    expect(r.stderr).toContain(`host path ${host}/real/g lies below ${host}/ln, a symlink`);
    expect(r.code).toBe(125);
    expect(snapshot(cwd)).toEqual(before);
  });

  it('a host file under a private directory reaches neither other users nor a shared host layer', () => {
    const secretDir = join(host, 'private');
    mkdirSync(secretDir, { mode: 0o700 });
    writeFileSync(join(secretDir, 'key'), 'SECRET\n', { mode: 0o644 });
    writeFileSync(join(host, 'open'), 'open\n', { mode: 0o644 });
    image(
      'secret',
      (layer) => writeFileSync(join(layer, 'removed'), `${secretDir}/key\n${host}/open\n`),
      `cat ${secretDir}/key ${host}/open`,
    );
    // Root reads it on the host, so its app does too.
    const asRoot = root.run('/usr/bin/secret', [], { cwd });
    expect(asRoot.stdout).toBe('SECRET\nopen\n');
    // The layer that holds it is root's alone.
    const layers = join(root.dir, 'var/lib/pilot/host');
    const holding = readdirSync(layers).filter((key) => {
      try {
        return lstatSync(join(layers, key, secretDir.slice(1), 'key')).isFile();
      } catch {
        return false;
      }
    });
    expect(holding.length).toBe(1);
    expect(statSync(join(layers, holding[0]!)).mode & 0o077).toBe(0);
    // nobody cannot read it on the host: for nobody it is missing.
    const dir = mkdtempSync(join(tmpdir(), 'pilot-trust-nobody-'));
    try {
      chownSync(dir, NOBODY, NOBODY);
      const as = { uid: NOBODY, gid: NOBODY, cwd: dir, env: { HOME: dir } };
      // A /removed path missing for its caller is skipped (DESIGN): the app runs without
      // it, and cat says what it lacks, with its own exit code.
      const r = root.run('/usr/bin/secret', [], as);
      expect(r.stdout).toBe('open\n');
      expect(r.stdout + r.stderr).not.toContain('SECRET');
      expect(r.stderr).toContain(`can't open '${secretDir}/key'`);
      expect(r.code).toBe(1);
      const progress = root.run('/usr/bin/secret', ['%progress'], as);
      expect(progress.stderr).toContain(`${secretDir}/key (unreadable)`);
      expect(progress.stdout + progress.stderr).not.toContain('SECRET');
      const check = root.pilot(['check', 'secret'], { uid: NOBODY, gid: NOBODY, cwd: dir });
      expect(check.code).toBe(1);
      expect(check.stdout).toContain(`${secretDir}/key`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("the store hands out none of an image's privileges: owners, special bits, devices, capabilities", () => {
    image('privs', (layer) => {
      const bin = join(layer, 'usr/bin');
      writeFileSync(join(bin, 'suid'), '#!/bin/sh\nid -u\n');
      chmodSync(join(bin, 'suid'), 0o4755);
      writeFileSync(join(bin, 'sgid'), 'x');
      chmodSync(join(bin, 'sgid'), 0o2755);
      writeFileSync(join(bin, 'capped'), 'x', { mode: 0o755 });
      execFileSync('setcap', ['cap_net_raw+ep', join(bin, 'capped')]);
      mkdirSync(join(layer, 'dev'));
      // /dev/null's numbers: harmless while the test runs, still a device node.
      execFileSync('mknod', ['-m', '0666', join(layer, 'dev/null'), 'c', '1', '3']);
      mkdirSync(join(layer, 'usr/share'));
      writeFileSync(join(layer, 'usr/share/owned'), 'x');
      chmodSync(join(layer, 'usr/share/owned'), 0o666);
      chownSync(join(layer, 'usr/share/owned'), 1000, 1000);
      mkdirSync(join(layer, 'shared'), { mode: 0o777 });
      chmodSync(join(layer, 'shared'), 0o1777);
    });
    const layers = join(root.dir, 'var/lib/pilot/layers');
    const bad: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        const st = lstatSync(path);
        const whiteout = st.isCharacterDevice() && st.rdev === 0;
        if (st.uid !== 0 || st.gid !== 0) bad.push(`${path}: owner ${st.uid}:${st.gid}`);
        if (!st.isSymbolicLink() && st.mode & 0o7022)
          bad.push(`${path}: mode ${(st.mode & 0o7777).toString(8)}`);
        if ((st.isCharacterDevice() && !whiteout) || st.isBlockDevice())
          bad.push(`${path}: device`);
        if (st.isDirectory()) walk(path);
      }
    };
    walk(layers);
    expect(bad).toEqual([]);
    expect(execFileSync('getcap', ['-r', layers]).toString()).toBe('');
    // The image's own view is kept in the layer record.
    const records = readdirSync(layers).filter((n) => n.endsWith('.json'));
    const original = records.flatMap(
      (n) => JSON.parse(readFileSync(join(layers, n), 'utf8')).original ?? [],
    ) as [string, number, number, number][];
    expect(original).toContainEqual(['usr/bin/suid', 0, 0, 0o104755]);
    expect(original).toContainEqual(['usr/share/owned', 1000, 1000, 0o100666]);
    // uid 1000 (or anyone) cannot change a byte of it.
    const owned = execFileSync('find', [layers, '-path', '*/usr/share/owned']).toString().trim();
    const write = spawnSync('sh', ['-c', 'echo pwned >> "$0"', owned], { uid: 1000, gid: 1000 });
    expect(write.status).not.toBe(0);
    expect(readFileSync(owned, 'utf8')).toBe('x');
  });

  it("a kept instance's root is mounted nosuid,nodev where only root can reach it", () => {
    registerTestApp('/usr/bin/kept', '--resume');
    expect(root.run('/usr/bin/kept', ['exit', '0'], { cwd }).code).toBe(0);
    const lines = readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .filter((line) => line.includes(root.dir) && line.includes(' overlay '));
    expect(lines.length).toBe(1);
    const [mountOptions] = lines[0]!.split(' ').slice(5, 6);
    expect(mountOptions!.split(',')).toEqual(expect.arrayContaining(['nosuid', 'nodev']));
    const point = lines[0]!.split(' ')[4]!;
    const reach = spawnSync('ls', [point], { uid: NOBODY, gid: NOBODY });
    expect(reach.status).not.toBe(0);
    root.ok(['stop', '--all']);
  });

  it.skipIf(!existsSync(join(examples, 'debian-python-base.tar')))(
    'a Debian base leaves no setuid or setgid program in the store',
    () => {
      root.load('debian-python-base');
      const found = execFileSync('find', [
        join(root.dir, 'var/lib/pilot/layers'),
        '-perm',
        '/6000',
      ]).toString();
      expect(found).toBe('');
    },
  );

  it('a host layer does not outlive the host file it links: the next launch removes it', () => {
    const file = join(host, 'rotated.key');
    writeFileSync(file, 'old key\n', { mode: 0o644 });
    image('rotate', (layer) => writeFileSync(join(layer, 'removed'), `${file}\n`), `cat ${file}`);
    expect(root.run('/usr/bin/rotate', [], { cwd }).stdout).toBe('old key\n');
    const layers = join(root.dir, 'var/lib/pilot/host');
    const holding = () =>
      readdirSync(layers).filter((key) => {
        try {
          return lstatSync(join(layers, key, file.slice(1))).isFile();
        } catch {
          return false;
        }
      });
    const [old] = holding();
    expect(statSync(join(layers, old!, file.slice(1))).ino).toBe(statSync(file).ino);
    // The key is rotated: a new inode. The old layer is older than a launch in progress.
    writeFileSync(`${file}.new`, 'new key\n', { mode: 0o644 });
    renameSync(`${file}.new`, file);
    const past = new Date(Date.now() - 600_000);
    utimesSync(join(layers, old!), past, past);
    expect(root.run('/usr/bin/rotate', [], { cwd }).stdout).toBe('new key\n');
    expect(holding()).not.toContain(old);
    expect(holding()).toHaveLength(1);
  });

  it('nothing in the run dir or store is writable by another user; a caller keeps its plans in its own dir', () => {
    const home = mkdtempSync(join(tmpdir(), 'pilot-trust-home-'));
    try {
      chownSync(home, NOBODY, NOBODY);
      const as = { uid: NOBODY, gid: NOBODY, cwd: home, env: { HOME: home } };
      registerTestApp('/usr/bin/plain');
      for (let i = 0; i < 2; i++) {
        expect(root.run('/usr/bin/plain', ['id'], { cwd }).stdout).toBe('0:0\n');
        expect(root.run('/usr/bin/plain', ['id'], as).stdout).toBe('65534:65534\n');
      }
      const writable: string[] = [];
      const walk = (dir: string) => {
        for (const name of readdirSync(dir)) {
          const path = join(dir, name);
          const st = lstatSync(path);
          if (st.isSymbolicLink() || st.isCharacterDevice()) continue;
          if (st.mode & 0o022) writable.push(`${path} ${(st.mode & 0o7777).toString(8)}`);
          if (st.isDirectory()) walk(path);
        }
      };
      walk(join(root.dir, 'run'));
      walk(join(root.dir, 'var/lib/pilot'));
      expect(writable).toEqual([]);
      // Root's plan is in the store (and served nobody too); nobody writes none there.
      const rootPlans = readdirSync(join(root.dir, 'var/lib/pilot/plans'));
      expect(rootPlans).toContain('plain.u0.plan');
      expect(rootPlans.filter((p) => p.includes('.u65534.'))).toEqual([]);
      // Without root's plan, nobody's own call keeps the plan it makes in its own dir.
      rmSync(join(root.dir, 'var/lib/pilot/plans/plain.u0.plan'));
      expect(root.run('/usr/bin/plain', ['id'], as).stdout).toBe('65534:65534\n');
      expect(readdirSync(join(root.dir, 'var/lib/pilot/plans'))).not.toContain('plain.u65534.plan');
      const own = execFileSync('find', [join(home, '.cache/pilot/run/roots'), '-name', '*.plan'])
        .toString()
        .trim();
      expect(own).toMatch(/\/plans\/plain\.u65534\.plan$/);
      expect(statSync(own).uid).toBe(NOBODY);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});
