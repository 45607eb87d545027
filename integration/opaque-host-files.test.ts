/**
 * Host files under a directory that an upper layer made opaque: the host layer places
 * them where the merged view (the kernel's overlay) shows that directory, not through
 * what a lower layer had there. The layer record lists the opaque directories that
 * extraction found; before, placement looked through them.
 */
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolvePaths, storeDirs } from '../src/core/paths.js';
import { buildArchive, mountsMatching, skipReason, TestRoot } from './harness.js';

const skip = skipReason();

describe.skipIf(skip !== '')('host files below an opaque directory', () => {
  let root: TestRoot;
  /** On the host, outside /tmp (which every app sees through its bind anyway). */
  let hostDir: string;

  beforeAll(() => {
    root = new TestRoot('opaque');
    hostDir = mkdtempSync('/var/tmp/pilot-opaque-');
    mkdirSync(join(hostDir, 'lib'));
    writeFileSync(join(hostDir, 'lib/x.conf'), 'from the host\n');
    const inImage = hostDir.slice(1);
    // The lower layer has `lib` as a link elsewhere; the upper one makes its parent
    // opaque and has no `lib`: in the merged view the link is gone.
    const lower = join(root.dir, 'work/lower');
    mkdirSync(join(lower, inImage), { recursive: true });
    mkdirSync(join(lower, 'usr/share'), { recursive: true });
    symlinkSync('/usr/share', join(lower, inImage, 'lib'));
    const upper = join(root.dir, 'work/upper');
    mkdirSync(join(upper, inImage), { recursive: true });
    mkdirSync(join(upper, 'usr/bin'), { recursive: true });
    writeFileSync(join(upper, inImage, '.wh..wh..opq'), '');
    writeFileSync(join(upper, inImage, 'note'), 'upper\n');
    writeFileSync(join(upper, 'removed'), `${hostDir}/lib/x.conf\n`);
    writeFileSync(
      join(upper, 'usr/bin/show'),
      `#!/bin/sh\ncat ${hostDir}/lib/x.conf\nls ${hostDir}\ntest -e /usr/share/x.conf && echo placed-through-the-link\nexit 0\n`,
      { mode: 0o755 },
    );
    buildArchive(join(root.dir, 'work/opaque.tar'), 'localhost/test/opaque:latest', {}, [
      lower,
      upper,
    ]);
    root.load('busybox-base');
    root.ok(['load', join(root.dir, 'work/opaque.tar'), '--quiet']);
    root.ok([
      'register',
      '--container',
      'test/opaque',
      '--base',
      'pilot/busybox-base',
      '--app',
      '/usr/bin/opaque-show',
      '--target',
      '/usr/bin/show',
    ]);
  }, 120_000);

  afterAll(() => {
    root?.cleanup();
    if (hostDir) rmSync(hostDir, { recursive: true, force: true });
  });

  it('records the opaque directory in the layer record', () => {
    const layers = storeDirs.layers(resolvePaths({ root: root.dir }));
    const opaque = readdirSync(layers)
      .filter((name) => name.endsWith('.json'))
      .map((name) => JSON.parse(readFileSync(join(layers, name), 'utf8')).opaqueDirs);
    expect(opaque).toContainEqual([hostDir]);
  });

  it('places the host file as the merged view shows its directory, cold and warm', () => {
    for (const call of ['cold', 'warm']) {
      const r = root.run('/usr/bin/opaque-show');
      expect({ call, stderr: r.stderr, stdout: r.stdout, code: r.code }).toEqual({
        call,
        stderr: '',
        stdout: 'from the host\nlib\nnote\n',
        code: 0,
      });
    }
  });

  it('leaves no mount behind', () => {
    expect(mountsMatching(root.dir)).toEqual([]);
  });
});
