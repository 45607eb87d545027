/** `pilot images` and `pilot rmi`: which apps use an image, and rmi's refusal while they do. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listStoreImages } from '../../src/commands/images.js';
import { removeImageName } from '../../src/commands/rmi.js';
import { listRefs } from '../../src/core/image-record.js';
import { loadArchive } from '../../src/store/load.js';
import {
  makeImage,
  ociFiles,
  simpleLayer,
  type TempStore,
  type TestImage,
  tarOf,
  tempStore,
} from '../store/helpers.js';

let store: TempStore;

beforeEach(() => {
  store = tempStore('pilot-images-');
});

afterEach(() => store.cleanup());

async function load(image: TestImage, name: string): Promise<void> {
  const file = join(store.dir, `${image.configDigest.slice(7, 19)}.tar`);
  writeFileSync(file, tarOf(ociFiles([{ image }])));
  await loadArchive(store.paths, file, { name });
}

/** A registered app whose flake pins `name` to `id`. */
function register(app: string, name: string, id: string): void {
  mkdirSync(store.paths.flakes, { recursive: true });
  writeFileSync(
    join(store.paths.flakes, `${app}.yaml`),
    `container:\n  name: ${name}\n  digests:\n    ${name}: ${id}\n`,
  );
}

describe('listStoreImages', () => {
  it('names the apps that pin each image, and none for an image no app pins', async () => {
    const a = makeImage([simpleLayer('a')]);
    const b = makeImage([simpleLayer('b')]);
    await load(a, 'test/a:1');
    await load(b, 'test/b:1');
    register('hello', 'test/a:1', a.configDigest);
    register('world', 'test/a:1', a.configDigest);
    const images = listStoreImages(store.paths);
    expect(images.map((i) => [i.names, i.usedBy])).toEqual([
      [['test/a:1'], ['hello', 'world']],
      [['test/b:1'], []],
    ]);
  });

  it('lists nothing before there is a store', () => {
    expect(listStoreImages(store.paths)).toEqual([]);
  });
});

describe('removeImageName', () => {
  it('refuses a name whose image an app pins, naming the app, and keeps the name', async () => {
    const a = makeImage([simpleLayer('a')]);
    await load(a, 'test/a:1');
    register('hello', 'test/a:1', a.configDigest);
    expect(() => removeImageName(store.paths, 'test/a:1', false)).toThrow(
      expect.objectContaining({
        code: 'PILOT_IMAGE_IN_USE',
        message: expect.stringContaining('is used by hello'),
      }),
    );
    expect([...listRefs(store.paths).keys()]).toEqual(['test/a:1']);
  });

  it('removes it with force, and a name no app uses without', async () => {
    const a = makeImage([simpleLayer('a')]);
    const b = makeImage([simpleLayer('b')]);
    await load(a, 'test/a:1');
    await load(b, 'test/b:1');
    register('hello', 'test/a:1', a.configDigest);
    expect(removeImageName(store.paths, 'test/b:1', false)).toEqual({
      id: b.configDigest,
      removed: ['test/b:1'],
    });
    expect(removeImageName(store.paths, 'test/a:1', true).removed).toEqual(['test/a:1']);
    expect([...listRefs(store.paths).keys()]).toEqual([]);
  });
});
