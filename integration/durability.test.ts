/**
 * Power loss: the store's commit points are durable in the right order (docs/design.md,
 * "Durable commits"). A real power cut cannot be injected here (no dm-flakey, no
 * virtual disk to pull), so the order of the calls is read instead: strace follows
 * `pilot load`, `register` and a first launch, and durable-order.ts checks, for every
 * name published, data before the rename and the directory fsync after it. The warm
 * path (the stub taking a cached plan) must not pay anything: no sync call at all.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Call, checkDurableOrder, parseTrace, TRACED } from './durable-order.js';
import { buildArchive, cli, examples, skipReason, TestRoot } from './harness.js';

const skip = skipReason();

describe.skipIf(skip !== '')('durable commits', () => {
  let root: TestRoot;
  let hostDir: string;
  let logs: string;
  const app = '/usr/bin/durable-tool';

  /** Runs `argv` under strace in the test root's environment; returns its calls. */
  function traced(argv: string[], env: NodeJS.ProcessEnv = {}): { calls: Call[]; stdout: string } {
    const log = join(logs, `trace-${Date.now()}-${Math.random().toString(16).slice(2)}`);
    const r = spawnSync(
      'strace',
      ['-f', '-y', '-qq', '-e', `trace=${TRACED}`, '-e', 'signal=none', '-o', log, ...argv],
      { env: root.env(env), timeout: 120_000, encoding: 'utf8' },
    );
    if (r.status !== 0) throw new Error(`${argv.join(' ')} exited ${r.status}\n${r.stderr}`);
    return { calls: parseTrace(readFileSync(log, 'utf8')), stdout: r.stdout };
  }

  function checked(calls: Call[]) {
    const { commits, problems } = checkDurableOrder(calls, root.dir);
    expect(problems).toEqual([]);
    return commits.map((commit) => ({ ...commit, to: commit.to.slice(root.dir.length) }));
  }

  beforeAll(() => {
    root = new TestRoot('durable');
    chmodSync(root.dir, 0o755);
    logs = mkdtempSync(join(tmpdir(), 'pilot-durable-logs-'));
    // A host file the app's /removed names: its first launch builds a host layer.
    hostDir = mkdtempSync('/var/tmp/pilot-durable-');
    chmodSync(hostDir, 0o755);
    writeFileSync(join(hostDir, 'data'), 'from the host\n', { mode: 0o644 });
    const layer = join(root.dir, 'work/tool');
    mkdirSync(join(layer, 'usr/bin'), { recursive: true });
    writeFileSync(join(layer, 'removed'), `${hostDir}/data\n`);
    writeFileSync(join(layer, 'usr/bin/durable-tool'), `#!/bin/sh\ncat ${hostDir}/data\n`, {
      mode: 0o755,
    });
    buildArchive(join(root.dir, 'work/tool.tar'), 'localhost/test/durable-tool:latest', {}, [
      layer,
    ]);
  });

  afterAll(() => {
    root?.cleanup();
    if (hostDir?.startsWith('/var/tmp/pilot-durable-')) rmSync(hostDir, { recursive: true });
    if (logs?.includes('/pilot-durable-logs-')) rmSync(logs, { recursive: true });
  });

  it('load: each layer is synced before its rename, every record after the layers it names', () => {
    const base = checked(
      traced([process.execPath, cli, 'load', join(examples, 'busybox-base.tar'), '--quiet']).calls,
    );
    const tool = checked(
      traced([process.execPath, cli, 'load', join(root.dir, 'work/tool.tar'), '--quiet']).calls,
    );
    for (const commits of [base, tool]) {
      // The store's format file (written by the load that makes the store)
      // is a commit too; its order was checked with the rest.
      const kinds = commits
        .filter((c) => c.to !== '/var/lib/pilot/format')
        .map((c) => `${c.data} ${c.to.replace(/[a-f0-9]{10,}/g, 'X')}`);
      expect(kinds).toEqual([
        'fsync /var/lib/pilot/layers/X.manifest',
        'fsync /var/lib/pilot/layers/X.json',
        'syncfs /var/lib/pilot/layers/X',
        'symlink /var/lib/pilot/l/X',
        'fsync /var/lib/pilot/blobs/sha256/X',
        'fsync /var/lib/pilot/blobs/sha256/X',
        'fsync /var/lib/pilot/images/X.json',
        expect.stringMatching(/^fsync \/var\/lib\/pilot\/refs\/localhost%2F/),
      ]);
    }
  });

  it('register: the flake, then the app link, each synced with its directory', () => {
    const commits = checked(
      traced([
        process.execPath,
        cli,
        'register',
        '--container',
        'test/durable-tool',
        '--base',
        'pilot/busybox-base',
        '--app',
        app,
      ]).calls,
    );
    const names = commits.map((c) => `${c.data} ${c.to.replace(/[a-f0-9]{10,}/g, 'X')}`);
    expect(names.slice(0, 2)).toEqual([
      expect.stringMatching(/^fsync \/.*\/durable-tool\.yaml$/),
      `symlink ${app}`,
    ]);
    // Then register prepares the app's first call: its host layer and its plan, each
    // durable before the stub can take it.
    const rest = names.slice(2);
    const layer = rest.findIndex((n) => /^syncfs \/var\/lib\/pilot\/host\/X$/.test(n));
    const plan = rest.findIndex((n) =>
      /^fsync \/var\/lib\/pilot\/plans\/durable-tool\.u0\.plan$/.test(n),
    );
    expect(layer, names.join('\n')).toBeGreaterThanOrEqual(0);
    expect(plan, names.join('\n')).toBeGreaterThan(layer);
  });

  it('a first launch: the host layer and the plan are durable before they are used', () => {
    // What register prepared is dropped, as a host change or gc would: the launch builds it.
    for (const dir of ['var/lib/pilot/host', 'var/lib/pilot/plans', 'run/pilot/plans']) {
      rmSync(join(root.dir, dir), { recursive: true, force: true });
    }
    const first = traced([root.link(app)]);
    expect(first.stdout).toBe('from the host\n');
    const commits = checked(first.calls);
    const names = commits.map((c) => `${c.data} ${c.to.replace(/[a-f0-9]{10,}/g, 'X')}`);
    expect(names).toContainEqual(expect.stringMatching(/^syncfs \/var\/lib\/pilot\/host\/X$/));
    expect(names).toContainEqual(
      expect.stringMatching(/^fsync \/var\/lib\/pilot\/plans\/durable-tool\.u0\.plan$/),
    );
  });

  it('the warm path (the stub with a cached plan) makes no sync call and writes nothing', () => {
    const warm = traced([root.link(app)], { PILOT_FASTPATH: 'require' });
    expect(warm.stdout).toBe('from the host\n');
    const paid = warm.calls.filter((c) =>
      /^(fsync|fdatasync|syncfs|sync|rename.*|link.*|symlink.*)$/.test(c.name),
    );
    expect(paid.map((c) => c.line)).toEqual([]);
  });

  it('the checker itself finds each broken promise', () => {
    const R = '/r';
    const trace = (lines: string[]) => parseTrace(lines.map((l) => `7 ${l}`).join('\n'));
    const fileCommit = [
      `fsync(3<${R}/d/.pilot-tmp-1>) = 0`,
      `rename("${R}/d/.pilot-tmp-1", "${R}/d/f") = 0`,
      `fsync(3<${R}/d>) = 0`,
    ];
    expect(checkDurableOrder(trace(fileCommit), R).problems).toEqual([]);
    expect(checkDurableOrder(trace(fileCommit.slice(1)), R).problems).toEqual([
      expect.stringContaining('/r/d/f: published before its data reached the disk'),
    ]);
    expect(checkDurableOrder(trace(fileCommit.slice(0, 2)), R).problems).toEqual([
      expect.stringContaining('/r/d/f: no fsync of /r/d after the rename'),
    ]);
    // The directory synced only after the next commit does not count.
    const late = [...fileCommit.slice(0, 2), ...fileCommit.map((l) => l.replace(/f"/, 'g"'))];
    expect(checkDurableOrder(trace(late), R).problems).toHaveLength(1);
    const tree = [
      `mkdir("${R}/t/.pilot-x-1", 0700) = 0`,
      `syncfs(3<${R}/t/.pilot-x-1>) = 0`,
      `fchmodat(AT_FDCWD, "${R}/t/.pilot-x-1/bin", 0755) = 0`,
      `rename("${R}/t/.pilot-x-1", "${R}/t/layer") = 0`,
      `fsync(3<${R}/t>) = 0`,
    ];
    expect(checkDurableOrder(trace(tree), R).problems).toEqual([
      expect.stringContaining('/r/t/layer: its tree changed after the syncfs'),
    ]);
    expect(checkDurableOrder(trace(tree.filter((l) => !l.startsWith('fchmodat'))), R)).toEqual({
      commits: [{ pid: 7, from: `${R}/t/.pilot-x-1`, to: `${R}/t/layer`, data: 'syncfs' }],
      problems: [],
    });
  });
});
