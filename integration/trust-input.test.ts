/**
 * Trust, the input side (docs/security.md, promises 2 and 3): archives and directories
 * a user hands to root, and image symlinks, built hostile here and fed to the real CLI
 * and launcher.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
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
import { makeImage, makeLayer, ociFiles, writeTree } from '../test/store/helpers.js';
import { buildArchive, skipReason, TestRoot } from './harness.js';

const skip = skipReason();

describe.skipIf(skip !== '')('trust: input', () => {
  let work: string;
  beforeAll(() => {
    work = mkdtempSync('/var/tmp/pilot-trust-input-');
  });
  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('pilot load DIR opens nothing outside DIR: a linked index.json never reaches a message', () => {
    const root = new TestRoot('trust-dir');
    try {
      const secret = join(work, 'secret');
      writeFileSync(secret, 'SECRET-LINE-1\nSECRET-LINE-2\n', { mode: 0o600 });
      const dir = join(work, 'layout');
      writeTree(dir, ociFiles([{ image: makeImage([makeLayer([{ path: 'a', body: 'a' }])]) }]));
      rmSync(join(dir, 'index.json'));
      symlinkSync(secret, join(dir, 'index.json'));
      const r = root.pilot(['load', dir]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('index.json');
      expect(r.stdout + r.stderr).not.toContain('SECRET');
    } finally {
      root.cleanup();
    }
  });

  it('an archive rewritten while it loads never puts other bytes under the verified digest', async () => {
    const good = makeLayer([{ path: 'app', body: 'good\n' }], { gzip: false });
    const evil = makeLayer([{ path: 'app', body: 'evil\n' }], { gzip: false });
    const dir = join(work, 'swapped');
    writeTree(dir, ociFiles([{ image: makeImage([good]), refName: 'swapped:1' }]));
    const blob = join(dir, 'blobs/sha256', good.digest.slice(7));
    writeFileSync(join(work, 'good'), good.blob);
    writeFileSync(join(work, 'evil'), evil.blob);
    // Whoever can write the layout swaps the layer for another, again and again.
    const swapper: ChildProcess = spawn(
      'sh',
      [
        '-c',
        'while :; do cp "$1/good" "$2.t" && mv -f "$2.t" "$2"; cp "$1/evil" "$2.t" && mv -f "$2.t" "$2"; done',
        'swap',
        work,
        blob,
      ],
      { stdio: 'ignore' },
    );
    const seen: string[] = [];
    try {
      for (let i = 0; i < 16; i++) {
        const root = new TestRoot('trust-swap');
        try {
          const r = root.pilot(['load', dir, '--quiet']);
          if (r.code !== 0) {
            expect(r.stderr).toMatch(/digest|does not match/i);
            seen.push('refused');
            continue;
          }
          const layers = join(root.dir, 'var/lib/pilot/layers');
          const [layer] = readdirSync(layers).filter((n) => !n.endsWith('.json'));
          seen.push(readFileSync(join(layers, layer!, 'app'), 'utf8').trim());
        } finally {
          root.cleanup();
        }
      }
    } finally {
      swapper.kill('SIGKILL');
    }
    expect(seen).not.toContain('evil');
    expect(seen).toContain('good');
  });

  it('a chain of image symlinks costs linear time and ends in a clear error', () => {
    const root = new TestRoot('trust-chain');
    try {
      chmodSync(root.dir, 0o755);
      root.load('busybox-base');
      const layer = join(work, 'chain');
      mkdirSync(join(layer, 'usr/bin'), { recursive: true });
      writeFileSync(join(layer, 'usr/bin/app'), '#!/bin/sh\necho ran\n', { mode: 0o755 });
      // l_k -> /l_{k+1}/../l_{k+1}: resolving l0 naively takes 2^22 steps.
      const levels = 22;
      for (let k = 0; k < levels; k++) symlinkSync(`/l${k + 1}/../l${k + 1}`, join(layer, `l${k}`));
      mkdirSync(join(layer, `l${levels}`));
      writeFileSync(join(layer, 'removed'), '/l0/x\n');
      buildArchive(join(work, 'chain.tar'), 'localhost/test/chain:latest', {}, [layer]);
      root.ok(['load', join(work, 'chain.tar'), '--quiet']);
      const started = Date.now();
      const register = root.pilot(
        [
          'register',
          '--container',
          'test/chain',
          '--base',
          'pilot/busybox-base',
          '--app',
          '/usr/bin/chain',
          '--target',
          '/usr/bin/app',
        ],
        { timeout: 30_000 },
      );
      const run =
        register.code === 0
          ? spawnSync(root.link('/usr/bin/chain'), [], { env: root.env(), timeout: 30_000 })
          : undefined;
      const said = register.stderr + (run?.stderr?.toString() ?? '');
      expect(Date.now() - started).toBeLessThan(15_000);
      expect(said).toMatch(/symbolic links loop or chain too deeply/);
      expect(run?.status ?? register.code).not.toBe(0);
    } finally {
      root.cleanup();
    }
  });
});
