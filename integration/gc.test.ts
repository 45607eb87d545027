/**
 * gc and running calls: the image layers, host layer and include extraction a running
 * call uses survive `pilot gc`, however the call was launched (the warm-path stub or
 * the Node launcher) and whoever made it (root or nobody); gc learns that from the
 * kernel, not from plans. Once the call has ended, gc removes them.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listDir } from '../src/core/list-dir.js';
import { buildArchive, skipReason, TestRoot, watchOutput } from './harness.js';

const skip = skipReason();
const NOBODY = 65534;
const TAKEN = 'pilot: fast path taken\n';

interface Case {
  uid: number;
  /** The warm-path stub (a second call) or the Node launcher. */
  warm: boolean;
  args: string[];
  env: NodeJS.ProcessEnv;
}

const cases: [string, Case][] = [
  ['root, warm-path stub', { uid: 0, warm: true, args: [], env: {} }],
  ['root, Node launcher (%option)', { uid: 0, warm: false, args: ['%ignore_sync_error'], env: {} }],
  ['nobody, warm-path stub', { uid: NOBODY, warm: true, args: [], env: {} }],
  [
    'nobody, Node launcher (PILOT_FASTPATH=off)',
    { uid: NOBODY, warm: false, args: [], env: { PILOT_FASTPATH: 'off' } },
  ],
];

describe.skipIf(skip !== '')('gc while apps run', () => {
  let root: TestRoot;
  let hostDir: string;
  let home: string;
  const app = '/usr/bin/holder';
  const archive = () => join(root.dir, 'work/holder.tar');
  const includeTar = () => join(hostDir, 'include.tar');

  beforeAll(() => {
    root = new TestRoot('gc');
    chmodSync(root.dir, 0o755);
    hostDir = mkdtempSync('/var/tmp/pilot-gc-');
    chmodSync(hostDir, 0o755);
    writeFileSync(join(hostDir, 'data'), 'host data\n', { mode: 0o644 });
    const include = join(root.dir, 'work/include');
    mkdirSync(join(include, 'etc'), { recursive: true });
    writeFileSync(join(include, 'etc/included'), 'include data\n');
    const tar = spawnSync('tar', ['-C', include, '-cf', includeTar(), 'etc']);
    if (tar.status !== 0) throw new Error(`tar: ${tar.stderr}`);
    chmodSync(includeTar(), 0o644);
    // The app says it is ready, then reads its three sources once told to.
    const layer = join(root.dir, 'work/holder');
    mkdirSync(join(layer, 'usr/bin'), { recursive: true });
    mkdirSync(join(layer, 'usr/share'), { recursive: true });
    writeFileSync(join(layer, 'removed'), `${hostDir}/data\n`);
    writeFileSync(join(layer, 'usr/share/holder-mark'), 'layer data\n');
    writeFileSync(
      join(layer, 'usr/bin/holder'),
      `#!/bin/sh\necho ready\nread line\nexec cat ${hostDir}/data /etc/included /usr/share/holder-mark\n`,
      { mode: 0o755 },
    );
    buildArchive(archive(), 'localhost/test/holder:latest', {}, [layer]);
    root.load('busybox-base');
    home = mkdtempSync(join(tmpdir(), 'pilot-gcnobody-'));
    chownSync(home, NOBODY, NOBODY);
  });
  afterAll(() => {
    root?.pilot(['stop', '--all']);
    root?.cleanup();
    if (hostDir) rmSync(hostDir, { recursive: true, force: true });
    if (home) rmSync(home, { recursive: true, force: true });
  });

  /** Host layers, include extractions and layers in the store. */
  const storeEntries = () =>
    ['host', 'includes', 'layers'].flatMap((kind) =>
      listDir(join(root.dir, 'var/lib/pilot', kind))
        .filter((name) => /^[a-f0-9]{64}$/.test(name))
        .map((name) => `${kind}/${name}`),
    );

  it.each(cases)('keeps what a running call uses: %s', async (_label, c) => {
    root.ok(['load', archive()]);
    root.ok(
      ['register', '--container', 'test/holder', '--base', 'pilot/busybox-base'].concat([
        '--app',
        app,
        '--include-tar',
        includeTar(),
      ]),
    );
    const as = c.uid === 0 ? {} : { uid: c.uid, gid: c.uid, cwd: home };
    const env = { PILOT_FASTPATH_TRACE: '1', ...(c.uid === 0 ? {} : { HOME: home }), ...c.env };
    // root's first call composes the host layer and extracts the include tar.
    expect(root.run(app, [], { input: 'go\n' }).stdout).toBe(
      'ready\nhost data\ninclude data\nlayer data\n',
    );
    if (c.uid !== 0 && c.warm) root.run(app, [], { input: 'go\n', env, ...as });
    const before = storeEntries();
    expect(before.filter((e) => e.startsWith('host/'))).toHaveLength(1);
    expect(before.filter((e) => e.startsWith('includes/'))).toHaveLength(1);

    const child = spawn(root.link(app), c.args, {
      env: root.env(env),
      stdio: ['pipe', 'pipe', 'pipe'],
      ...as,
    });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
    const out = watchOutput(child);
    try {
      await out.until('ready');
      if (c.warm) expect(stderr).toBe(TAKEN);
      else expect(stderr).toMatch(/fast path declined/);
      // Nothing names the image any more, no plan refers to it: only the call uses it.
      root.ok(['remove', '--app', app]);
      root.ok(['rmi', 'test/holder']);
      const gc = JSON.parse(root.ok(['gc', '--json']).stdout);
      expect(gc.layers).toEqual([]);
      expect(gc.hostLayers).toEqual([]);
      expect(storeEntries()).toEqual(before);
      child.stdin.end('go\n');
      expect(await exited).toBe(0);
      expect(out.text).toBe('ready\nhost data\ninclude data\nlayer data\n');
    } finally {
      child.kill('SIGKILL');
    }
    // The call has ended: now they go.
    const after = JSON.parse(root.ok(['gc', '--json']).stdout);
    expect(after.layers).toHaveLength(1);
    expect(after.hostLayers.sort()).toEqual(before.filter((e) => !e.startsWith('layers/')).sort());
  });
});
