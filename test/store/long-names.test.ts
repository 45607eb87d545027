/**
 * Image names longer than the store can keep (each name is a file, 255 bytes at most,
 * image-record.ts) are refused clearly, before anything is written, wherever they come
 * from: --name, an archive's own names, rmi and register (resolveImage).
 */
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  checkRefLength,
  listRefs,
  MAX_REF_FILE_NAME,
  refTooLong,
  resolveImage,
} from '../../src/core/image-record.js';
import { removeImageRef } from '../../src/store/images.js';
import { loadArchive } from '../../src/store/load.js';
import {
  dockerFiles,
  makeImage,
  ociFiles,
  simpleLayer,
  type TempStore,
  tarOf,
  tempStore,
} from './helpers.js';

let store: TempStore;
beforeEach(() => {
  store = tempStore();
});
afterEach(() => store.cleanup());

/** `localhost/aaa…:1` whose file name (`localhost%2Faaa…%3A1`) has `bytes` bytes. */
const nameOf = (bytes: number) => `localhost/${'a'.repeat(bytes - 'localhost%2F%3A1'.length)}:1`;

function archive(name: string, data: Buffer): string {
  const file = join(store.dir, name);
  writeFileSync(file, data);
  return file;
}

describe('image names the store can keep', () => {
  it('are at most 255 bytes as a file name, "/", ":" and "@" counting 3', () => {
    expect(MAX_REF_FILE_NAME).toBe(255);
    expect(refTooLong(nameOf(255))).toBeUndefined();
    expect(refTooLong(nameOf(256))).toBe(
      `image name "${nameOf(256).slice(0, 60)}…" is too long: pilot keeps each name as a file name of at most 255 bytes ("/", ":" and "@" take 3 there), and this one needs 256`,
    );
    // A 300-character ref, as the reference grammar allows (255 + ":" + tag).
    const ref = `registry.example.com/${'team/'.repeat(40)}app:${'t'.repeat(70)}`;
    expect(() => checkRefLength(ref)).toThrow(/is too long: .* this one needs \d{3}$/);
    expect(() => checkRefLength(ref)).toThrow(expect.objectContaining({ code: 'PILOT_USAGE' }));
  });

  it('load --name: a long name is refused before the store is touched', async () => {
    const file = archive('a.tar', tarOf(ociFiles([{ image: makeImage([simpleLayer('a')]) }])));
    await expect(loadArchive(store.paths, file, { name: nameOf(300) })).rejects.toMatchObject({
      code: 'PILOT_USAGE',
      message: expect.stringContaining('is too long'),
    });
    expect(existsSync(store.paths.store)).toBe(false);
  });

  it("an archive's own long name is refused before anything is written; with --name it is skipped, with a warning", async () => {
    const image = makeImage([simpleLayer('b')]);
    const file = archive('b.tar', tarOf(dockerFiles([{ image, repoTags: [nameOf(300)] }])));
    await expect(loadArchive(store.paths, file)).rejects.toMatchObject({
      code: 'PILOT_IMAGE_INVALID',
      message: expect.stringMatching(/b\.tar: the archive's image name ".*" is too long/),
      hint: expect.stringContaining('--name NAME'),
    });
    expect(readdirSync(join(store.paths.store, 'images'))).toEqual([]);
    expect(readdirSync(join(store.paths.store, 'layers'))).toEqual([]);
    const warnings: string[] = [];
    const [result] = await loadArchive(store.paths, file, {
      name: 'short:1',
      onWarning: (w) => warnings.push(w),
    });
    expect(result!.names).toEqual(['short:1']);
    expect(warnings).toEqual([expect.stringMatching(/b\.tar: image name .* too long.*; skipped$/)]);
    expect([...listRefs(store.paths).keys()]).toEqual(['short:1']);
  });

  it('rmi and register (resolveImage) say the name is too long, not ENAMETOOLONG', () => {
    for (const lookup of [
      () => resolveImage(store.paths, nameOf(300)),
      () => removeImageRef(store.paths, nameOf(300)),
    ]) {
      expect(lookup).toThrow(expect.objectContaining({ code: 'PILOT_USAGE' }));
      expect(lookup).toThrow(/is too long/);
    }
    // A short name whose docker.io/library/ candidate would be too long is simply unknown.
    const short = `${'b'.repeat(230)}:1`;
    expect(() => resolveImage(store.paths, short)).toThrow(
      expect.objectContaining({ code: 'PILOT_IMAGE_UNKNOWN' }),
    );
  });
});
