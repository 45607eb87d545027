/** Where migrate looks for flake-pilot 3.x's own podman storage configuration. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { flakePilotStorageConf } from '../../src/commands/migrate-images.js';
import { resolvePaths } from '../../src/core/paths.js';

const work = mkdtempSync(join(tmpdir(), 'pilot-migrate-images-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function rootWith(name: string, files: Record<string, string>) {
  const root = join(work, name);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  mkdirSync(root, { recursive: true });
  return { root, paths: resolvePaths({ root }) };
}

describe('flakePilotStorageConf', () => {
  it('is none on a flake-pilot 2.x host (podman’s default storage)', () => {
    expect(flakePilotStorageConf(rootWith('none', {}).paths)).toBeUndefined();
  });

  it('is /etc/flakes/storage.conf when there, as flake-pilot 3.x defaults', () => {
    const { root, paths } = rootWith('default', { 'etc/flakes/storage.conf': '[storage]\n' });
    expect(flakePilotStorageConf(paths)).toBe(join(root, 'etc/flakes/storage.conf'));
  });

  it("is /etc/flakes.yml's generic.podman_storage_conf when that names one", () => {
    const { root, paths } = rootWith('configured', {
      'etc/flakes.yml': 'generic:\n  podman_storage_conf: /srv/flakes/storage.conf\n',
      'srv/flakes/storage.conf': '[storage]\n',
      'etc/flakes/storage.conf': '[storage]\n',
    });
    expect(flakePilotStorageConf(paths)).toBe(join(root, 'srv/flakes/storage.conf'));
  });

  it('falls back to the default when /etc/flakes.yml does not read', () => {
    const { root, paths } = rootWith('broken', {
      'etc/flakes.yml': 'generic: [\n',
      'etc/flakes/storage.conf': '[storage]\n',
    });
    expect(flakePilotStorageConf(paths)).toBe(join(root, 'etc/flakes/storage.conf'));
  });
});
