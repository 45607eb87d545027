import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listRefs } from '../../src/core/image-record.js';
import { collectGarbage, listImages, removeImageRef } from '../../src/store/images.js';
import { readLayerRecord } from '../../src/store/layers.js';
import { loadArchive } from '../../src/store/load.js';
import {
  makeImage,
  ociFiles,
  simpleLayer,
  type TempStore,
  type TestImage,
  tarOf,
  tempStore,
  tmpEntries,
} from './helpers.js';

let store: TempStore;

beforeEach(() => {
  store = tempStore();
});

afterEach(() => store.cleanup());

async function load(image: TestImage, name?: string): Promise<void> {
  const file = join(store.dir, `${image.configDigest.slice(7, 19)}.tar`);
  writeFileSync(file, tarOf(ociFiles([{ image }])));
  await loadArchive(store.paths, file, { name });
}

function storeEntries(sub: string): string[] {
  const dir = join(store.paths.store, sub);
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

describe('listImages', () => {
  it('lists names, sizes, layer counts, shared bytes and users', async () => {
    const base = simpleLayer('base');
    const a = makeImage([base, simpleLayer('a')]);
    const b = makeImage([base, simpleLayer('b')]);
    const c = makeImage([simpleLayer('c')]);
    await load(a, 'a:1');
    await load(b, 'b:1');
    await load(c, 'c:1');
    await load(a, 'a:2');
    const baseSize = readLayerRecord(store.paths, base.diffId)!.size;
    const images = listImages(store.paths, (id) => (id === a.configDigest ? ['/usr/bin/a'] : []));
    expect(images.map((i) => ({ ...i, size: i.size > 0 }))).toEqual([
      {
        id: a.configDigest,
        names: ['a:1', 'a:2'],
        size: true,
        layers: 2,
        sharedSize: baseSize,
        usedBy: ['/usr/bin/a'],
        pulled: null,
        trust: null,
      },
      {
        id: b.configDigest,
        names: ['b:1'],
        size: true,
        layers: 2,
        sharedSize: baseSize,
        usedBy: [],
        pulled: null,
        trust: null,
      },
      {
        id: c.configDigest,
        names: ['c:1'],
        size: true,
        layers: 1,
        sharedSize: 0,
        usedBy: [],
        pulled: null,
        trust: null,
      },
    ]);
  });

  it('is empty for a store that does not exist', () => {
    expect(listImages(store.paths)).toEqual([]);
  });
});

describe('removeImageRef', () => {
  it('removes one name; an id removes all; refuses images in use unless forced', async () => {
    const a = makeImage([simpleLayer('a')]);
    await load(a, 'a:1');
    await load(a, 'a:2');
    await load(a, 'registry.example.com/team/a:3');
    expect(removeImageRef(store.paths, 'a:1')).toEqual({ id: a.configDigest, removed: ['a:1'] });
    expect([...listRefs(store.paths).keys()].sort()).toEqual([
      'a:2',
      'registry.example.com/team/a:3',
    ]);

    const usedBy = () => ['/usr/bin/a', '/usr/bin/b'];
    const error = (() => {
      try {
        removeImageRef(store.paths, 'a:2', { usedBy });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toMatchObject({ code: 'PILOT_IMAGE_IN_USE' });
    expect((error as Error).message).toMatch(/used by \/usr\/bin\/a, \/usr\/bin\/b/);
    expect(listRefs(store.paths).size).toBe(2);

    expect(
      removeImageRef(store.paths, a.configDigest.slice(7, 19), { usedBy, force: true }),
    ).toEqual({
      id: a.configDigest,
      removed: ['a:2', 'registry.example.com/team/a:3'],
    });
    expect(listRefs(store.paths).size).toBe(0);
    // the image stays until gc
    expect(listImages(store.paths)).toHaveLength(1);
  });

  it('names an unknown image', () => {
    expect(() => removeImageRef(store.paths, 'nothing:1')).toThrow(
      expect.objectContaining({ code: 'PILOT_IMAGE_UNKNOWN' }),
    );
  });
});

describe('collectGarbage', () => {
  it('deletes nameless unpinned images, their blobs and the layers no image uses', async () => {
    const base = simpleLayer('base');
    const old = makeImage([base, simpleLayer('old')]);
    const fresh = makeImage([base, simpleLayer('fresh')]);
    const pinned = makeImage([simpleLayer('pinned')]);
    await load(old, 'app');
    await load(fresh, 'app'); // takes the name: old is nameless now
    await load(pinned, 'pinned');
    removeImageRef(store.paths, 'pinned');
    // debris of a killed load
    mkdirSync(join(store.paths.store, 'tmp/load-999999999-0a0a/extract-999999999-0b'), {
      recursive: true,
    });

    const result = await collectGarbage(store.paths, new Set([pinned.configDigest]));
    expect(result.images).toEqual([old.configDigest]);
    expect(result.layers).toEqual([old.layers[1]!.diffId]);
    expect(result.bytesFreed).toBeGreaterThan(0);
    expect(
      listImages(store.paths)
        .map((i) => i.id)
        .sort(),
    ).toEqual([fresh.configDigest, pinned.configDigest].sort());
    const hex = (d: string) => d.slice(7);
    const layers = [base, fresh.layers[1]!, pinned.layers[0]!].map((l) => hex(l.diffId));
    expect(storeEntries('layers')).toEqual(
      layers.flatMap((h) => [h, `${h}.json`, `${h}.manifest`]).sort(),
    );
    expect(storeEntries('l')).toEqual(layers.map((h) => h.slice(0, 10)).sort());
    expect(storeEntries('blobs/sha256')).toEqual(
      [fresh.configDigest, fresh.manifestDigest, pinned.configDigest, pinned.manifestDigest]
        .map(hex)
        .sort(),
    );
    expect(tmpEntries(store.paths)).toEqual([]);

    // without the pin, the pinned image goes too; a second gc finds nothing
    const second = await collectGarbage(store.paths, new Set());
    expect(second.images).toEqual([pinned.configDigest]);
    expect(await collectGarbage(store.paths, new Set())).toEqual({
      images: [],
      layers: [],
      bytesFreed: 0,
    });
  });

  it('works on a store that does not exist yet', async () => {
    expect(await collectGarbage(store.paths, new Set())).toEqual({
      images: [],
      layers: [],
      bytesFreed: 0,
    });
  });

  it('holds loads off while another process runs gc; a dead holder does not block', async () => {
    const image = makeImage([simpleLayer('x')]);
    mkdirSync(store.paths.store, { recursive: true });
    const lock = join(store.paths.store, 'gc.lock');
    const holder = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      writeFileSync(lock, `${holder.pid}\n`);
      await expect(collectGarbage(store.paths, new Set())).rejects.toMatchObject({
        code: 'PILOT_BUSY',
      });
      let loaded = false;
      const loading = load(image, 'x').then(() => {
        loaded = true;
      });
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect(loaded).toBe(false);
      expect(tmpEntries(store.paths)).toEqual([]); // the waiting load withdrew its announcement
      holder.kill('SIGKILL');
      await loading;
      expect(listRefs(store.paths).get('x:latest')).toBe(image.configDigest);
      expect(existsSync(lock)).toBe(false); // the dead holder's lock was taken away
    } finally {
      holder.kill('SIGKILL');
    }
    writeFileSync(lock, '999999999\n');
    await expect(collectGarbage(store.paths, new Set())).resolves.toMatchObject({ images: [] });
    expect(existsSync(lock)).toBe(false);
  });
});
