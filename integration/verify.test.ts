/**
 * `pilot verify [--repair]` on real example images: each kind of damage a store can
 * suffer (a changed byte, a chmod, a removed, an added file, a file replaced by a
 * symlink, a removed layer dir, truncated records) is named with exit 1, `--repair`
 * restores it from the archive the layer was loaded from (or says which to give), verify
 * is clean after, and the repaired image runs. `pilot doctor` warns and exits 0.
 *
 * Budget: about 30 s (debian-python-base: ~0.5 s per verify, ~4 s per repair).
 */
import {
  chmodSync,
  closeSync,
  copyFileSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { examples, skipReason, TestRoot } from './harness.js';

const skip = skipReason();

interface Report {
  damaged: boolean;
  layers: {
    diffId: string;
    images: string[];
    problems: string[];
    corrupted: { path: string; changes: string[] }[];
    missing: string[];
    extra: string[];
    damaged: boolean;
  }[];
  images: { names: string[]; problems: string[]; damagedLayers: string[]; damaged: boolean }[];
}

/** The image id's hex of a name, as `pilot images --json` gives it. */
function imageHex(root: TestRoot, ref: string): string {
  const images = JSON.parse(root.ok(['images', '--json']).stdout) as {
    id: string;
    names: string[];
  }[];
  return images.find((i) => i.names.includes(ref))!.id.slice(7);
}

function topLayer(root: TestRoot, hex: string): string {
  const record = JSON.parse(
    readFileSync(join(root.dir, 'var/lib/pilot/images', `${hex}.json`), 'utf8'),
  ) as { layers: string[] };
  return record.layers.at(-1)!.slice(7);
}

describe.skipIf(skip !== '')('pilot verify', () => {
  let root: TestRoot;
  let store: string;
  const python = 'localhost/pilot/debian-python-base:latest';

  const verify = (...args: string[]) => root.pilot(['verify', ...args]);
  const report = (...args: string[]): Report => JSON.parse(verify('--json', ...args).stdout);
  /** The hex of the image's top layer (each example image has its own). */
  const layerOf = (ref: string): string => topLayer(root, imageHex(root, ref));

  beforeAll(() => {
    root = new TestRoot('verify');
    store = join(root.dir, 'var/lib/pilot');
    root.load('debian-python-base', 'busybox-base', 'hello-delta');
    root.ok([
      'register',
      '--container',
      'pilot/debian-python-base',
      '--app',
      '/usr/bin/py',
      '--target',
      '/usr/bin/python3',
    ]);
  });
  afterAll(() => root?.cleanup());

  it('finds a freshly loaded store whole (exit 0)', () => {
    const r = verify();
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^store is whole: 3 image\(s\), \d+ layer\(s\)/m);
    expect(r.code).toBe(0);
    expect(root.ok(['doctor', '--json']).stdout).toMatch(
      /"check": "store integrity",\s+"status": "ok"/,
    );
  });

  it('names a changed byte, a chmod, a removed, an added file and a symlink in its place', () => {
    const layer = join(store, 'layers', layerOf(python));
    const python3 = join(layer, 'usr/bin/python3.11');
    const fd = openSync(python3, 'r+');
    writeSync(fd, Buffer.from('X'), 0, 1, 4096);
    closeSync(fd);
    chmodSync(join(layer, 'etc/passwd'), 0o600);
    rmSync(join(layer, 'etc/debian_version'));
    writeFileSync(join(layer, 'etc/intruder'), 'added\n');
    rmSync(join(layer, 'etc/issue'));
    symlinkSync('/etc/shadow', join(layer, 'etc/issue'));

    const r = verify();
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`used by ${python}`);
    expect(r.stdout).toContain('corrupted usr/bin/python3.11: content');
    expect(r.stdout).toContain('corrupted etc/passwd: mode (644 is now 600)');
    expect(r.stdout).toContain('corrupted etc/issue: type (file is now a symlink)');
    expect(r.stdout).toContain('missing etc/debian_version');
    expect(r.stdout).toContain('extra etc/intruder');
    expect(r.stdout).toMatch(new RegExp(`^image ${python} [0-9a-f]{12}: uses damaged layer`, 'm'));
    const json = report();
    const damaged = json.layers.filter((l) => l.damaged);
    expect(damaged).toHaveLength(1);
    expect(damaged[0]).toMatchObject({ missing: ['etc/debian_version'], extra: ['etc/intruder'] });
    expect(damaged[0]!.corrupted.map((c) => c.path).sort()).toEqual([
      'etc/issue',
      'etc/passwd',
      'usr/bin/python3.11',
    ]);
    expect(json.images.filter((i) => i.damaged).map((i) => i.names)).toEqual([[python]]);

    const doctor = root.pilot(['doctor']);
    expect(doctor.code).toBe(0);

    const repair = verify('--repair');
    expect(repair.code).toBe(0);
    expect(repair.stdout).toMatch(
      /repaired layer sha256:[0-9a-f]{64}: extracted again from .*debian-python-base\.tar/,
    );
    expect(repair.stdout).toMatch(/^repaired; store is whole/m);
    expect(verify().code).toBe(0);
    const run = root.run('/usr/bin/py', [
      '-c',
      'print(open("/etc/debian_version").read().strip() != "")',
    ]);
    expect(run.stdout).toBe('True\n');
    expect(run.code).toBe(0);
  });

  it('names a removed layer dir and truncated records; repair brings them back', () => {
    const hex = layerOf(python);
    const aside = join(root.dir, 'aside');
    mkdirSync(aside, { recursive: true });
    renameSync(join(store, 'layers', hex), join(aside, hex));
    const busybox = layerOf('localhost/pilot/busybox-base:latest');
    truncateSync(join(store, 'layers', `${busybox}.json`), 7);
    const hello = imageHex(root, 'localhost/pilot/hello-delta:latest');
    truncateSync(join(store, 'images', `${hello}.json`), 30);

    const r = verify();
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`layer sha256:${hex} (used by ${python}): its directory is missing`);
    expect(r.stdout).toMatch(new RegExp(`layer sha256:${busybox} .*its record is damaged`));
    expect(r.stdout).toMatch(
      /image localhost\/pilot\/hello-delta:latest [0-9a-f]{12}: image record images\/[0-9a-f]{64}\.json cannot be read/,
    );
    const doctor = root.pilot(['doctor', '--json']);
    expect(doctor.code).toBe(0);
    expect(doctor.stdout).toMatch(/"check": "store integrity",\s+"status": "warn"/);

    const repair = verify('--repair');
    expect(repair.stdout).toContain('image record rebuilt from its config blob');
    expect(repair.stdout).toContain(`repaired layer sha256:${hex}: extracted again`);
    expect(repair.stdout).toContain(
      `repaired layer sha256:${busybox}: record rebuilt from the tree`,
    );
    expect(repair.code).toBe(0);
    expect(verify().code).toBe(0);
    expect(root.run('/usr/bin/py', ['-c', 'print(6*7)']).stdout).toBe('42\n');
    rmSync(aside, { recursive: true, force: true });
  });

  it('says which archive to give when the one a layer came from is gone', () => {
    const copy = join(root.dir, 'copy/busybox-base.tar');
    mkdirSync(join(root.dir, 'copy'), { recursive: true });
    copyFileSync(join(examples, 'busybox-base.tar'), copy);
    // A root of its own: the layer's record names the copy as its source.
    const other = new TestRoot('verify-gone');
    try {
      other.ok(['load', copy, '--quiet']);
      const otherStore = join(other.dir, 'var/lib/pilot');
      const hex = topLayer(other, imageHex(other, 'localhost/pilot/busybox-base:latest'));
      writeFileSync(join(otherStore, 'layers', hex, 'etc/passwd'), 'changed\n');
      rmSync(copy);
      const r = other.pilot(['verify', '--repair']);
      expect(r.code).toBe(1);
      expect(r.stdout).toContain(
        `cannot repair layer sha256:${hex}: no archive at hand holds layer`,
      );
      expect(r.stdout).toContain('pilot verify --repair --from ARCHIVE');
      expect(r.stdout).toMatch(/^still damaged after repair/m);
      const fixed = other.pilot([
        'verify',
        '--repair',
        '--from',
        join(examples, 'busybox-base.tar'),
      ]);
      expect(fixed.code).toBe(0);
      expect(other.pilot(['verify']).code).toBe(0);
    } finally {
      other.cleanup();
    }
  });
});
