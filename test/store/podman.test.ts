/**
 * The store against real podman archives and a real overlayfs mount. Needs root and
 * podman; skips with a reason elsewhere, but fails loudly in CI (CI=true).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { layerAlias, resolveImage } from '../../src/core/image-record.js';
import { type PilotPaths, resolvePaths } from '../../src/core/paths.js';
import { listImages } from '../../src/store/images.js';
import { readLayerRecord } from '../../src/store/layer-record.js';
import { loadArchive } from '../../src/store/load.js';
import { pullImage } from '../../src/store/pull.js';
import { getfattr } from './helpers.js';

function missing(): string[] {
  const out: string[] = [];
  if (process.getuid?.() !== 0) out.push('root');
  for (const tool of ['podman', 'runc', 'busybox', 'tar', 'getfattr']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status !== 0)
      out.push(tool);
  }
  if (!readFileSync('/proc/filesystems', 'utf8').includes('overlay')) {
    spawnSync('modprobe', ['overlay'], { stdio: 'ignore' });
    if (!readFileSync('/proc/filesystems', 'utf8').includes('overlay')) out.push('overlayfs');
  }
  return out;
}

const lacking = missing();
const inCi = process.env.CI === 'true';
if (lacking.length > 0 && !inCi) {
  console.warn(`skipping podman store tests: missing ${lacking.join(', ')}`);
}

function podman(...args: string[]): string {
  return execFileSync('podman', ['--runtime', 'runc', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
    .toString()
    .trim();
}

describe.skipIf(lacking.length > 0 && !inCi)('store with podman archives', () => {
  const tag = `pilot-test-${randomBytes(4).toString('hex')}`;
  const base = `localhost/${tag}-base:latest`;
  const top = `localhost/${tag}-top:latest`;
  let dir: string;
  let paths: PilotPaths;

  beforeAll(() => {
    if (lacking.length > 0)
      throw new Error(`podman store tests need: ${lacking.join(', ')} (CI=true)`);
    dir = mkdtempSync(join(tmpdir(), 'pilot-podman-'));
    paths = resolvePaths({ root: join(dir, 'root') });
    const rootfs = join(dir, 'rootfs');
    for (const sub of ['bin', 'etc', 'opt/d', 'tmp'])
      mkdirSync(join(rootfs, sub), { recursive: true });
    copyFileSync('/bin/busybox', join(rootfs, 'bin/busybox'));
    chmodSync(join(rootfs, 'bin/busybox'), 0o755);
    for (const applet of ['sh', 'cat', 'ls', 'rm', 'mkdir'])
      symlinkSync('busybox', join(rootfs, 'bin', applet));
    writeFileSync(join(rootfs, 'etc/gone'), 'deleted by the top layer\n');
    writeFileSync(join(rootfs, 'etc/keep'), 'kept\n');
    writeFileSync(join(rootfs, 'opt/d/old'), 'hidden by the opaque dir\n');
    execFileSync('tar', ['-C', rootfs, '--numeric-owner', '-cf', join(dir, 'base.tar'), '.']);
    podman('import', join(dir, 'base.tar'), base);
    writeFileSync(
      join(dir, 'Containerfile'),
      `FROM ${base}\nRUN rm /etc/gone && rm -rf /opt/d && mkdir /opt/d && echo new > /opt/d/new\n`,
    );
    podman('build', '--network', 'none', '-q', '-f', join(dir, 'Containerfile'), '-t', top, dir);
    podman('save', '--format', 'oci-archive', '-o', join(dir, 'oci.tar'), top);
    podman('save', '--format', 'docker-archive', '-o', join(dir, 'docker.tar'), top);
  }, 180_000);

  afterAll(() => {
    spawnSync('podman', ['--runtime', 'runc', 'rmi', '-f', top, base], { stdio: 'ignore' });
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('loads the oci and the docker archive of one image into one set of layers', async () => {
    const [fromOci] = await loadArchive(paths, join(dir, 'oci.tar'));
    const [fromDocker] = await loadArchive(paths, join(dir, 'docker.tar'), {
      name: `${tag}:docker`,
    });
    expect(fromOci!.names).toEqual([top]);
    expect(fromOci).toMatchObject({ newLayers: 2, reusedLayers: 0 });
    expect(fromDocker).toMatchObject({
      newLayers: 0,
      reusedLayers: 2,
      names: [top, `${tag}:docker`],
    });
    expect(fromDocker!.image.id).toBe(fromOci!.image.id);
    const podmanId = podman('image', 'inspect', '--format', '{{.Id}}', top);
    expect(fromOci!.image.id).toBe(`sha256:${podmanId}`);
    expect(
      readdirSync(join(paths.store, 'layers')).filter((e) => /^[a-f0-9]{64}$/.test(e)),
    ).toHaveLength(2);
    expect(listImages(paths)).toHaveLength(1);
    expect(resolveImage(paths, `${tag}-top`).id).toBe(fromOci!.image.id);
  }, 60_000);

  it('gives overlayfs the merged tree, without whited-out files', async () => {
    const image = resolveImage(paths, top);
    const [lower, upper] = image.layers;
    const topDir = join(paths.store, 'layers', upper!.slice(7));
    expect(lstatSync(join(topDir, 'etc/gone')).isCharacterDevice()).toBe(true);
    expect(lstatSync(join(topDir, 'etc/gone')).rdev).toBe(0);
    expect(getfattr(join(topDir, 'opt/d'), 'trusted.overlay.opaque')).toBe('y');
    expect(getfattr(join(topDir, 'opt/d'), 'user.overlay.opaque')).toBe('y');
    expect(readLayerRecord(paths, upper!)?.opaqueDirs).toEqual(['/opt/d']);
    expect(readLayerRecord(paths, lower!)?.opaqueDirs).toEqual([]);

    const mnt = join(dir, 'mnt');
    mkdirSync(mnt, { recursive: true });
    // leftmost wins; through the short aliases, as the launcher mounts them
    const lowerdir = [upper!, lower!].map((d) => layerAlias(d)).join(':');
    execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `ro,lowerdir=${lowerdir}`, mnt], {
      cwd: join(paths.store, 'l'),
    });
    try {
      expect(readdirSync(join(mnt, 'etc'))).toContain('keep');
      expect(readdirSync(join(mnt, 'etc'))).not.toContain('gone');
      expect(existsSync(join(mnt, 'etc/gone'))).toBe(false);
      expect(readFileSync(join(mnt, 'etc/keep'), 'utf8')).toBe('kept\n');
      expect(readdirSync(join(mnt, 'opt/d'))).toEqual(['new']);
      expect(readFileSync(join(mnt, 'opt/d/new'), 'utf8')).toBe('new\n');
      const out = execFileSync('chroot', [mnt, '/bin/cat', '/opt/d/new']).toString();
      expect(out).toBe('new\n');
    } finally {
      execFileSync('umount', [mnt]);
    }
  }, 60_000);

  it('pulls from podman storage, reusing the layers it has', async () => {
    const [result] = await pullImage(paths, `${tag}-top`);
    expect(result).toMatchObject({ newLayers: 0, reusedLayers: 2 });
    expect(result!.names).toContain(`${tag}-top:latest`);
    expect(resolveImage(paths, `${tag}-top:latest`).id).toBe(result!.image.id);
    await expect(pullImage(paths, `${tag}-absent`)).rejects.toMatchObject({
      code: 'PILOT_PULL_FAILED',
      message: expect.stringContaining(`image exists ${tag}-absent`),
    });
  }, 60_000);
});
