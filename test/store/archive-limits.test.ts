/**
 * An archive's metadata is read in time linear in its size, each file once, and within
 * limits that end in a clear message before anything is written
 * (archive-metadata.ts, archive-source.ts).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readImagePlans } from '../../src/store/archive-images.js';
import { MAX_ARCHIVE_IMAGES } from '../../src/store/archive-metadata.js';
import { MAX_METADATA_BYTES } from '../../src/store/archive-source.js';
import { loadArchive } from '../../src/store/load.js';
import { expectLinear } from '../scaling.js';
import {
  dockerFiles,
  makeImage,
  memoryArchive,
  ociFiles,
  simpleLayer,
  type TempStore,
  tarOf,
  tempStore,
  tmpEntries,
} from './helpers.js';

let store: TempStore;
beforeEach(() => {
  store = tempStore();
});
afterEach(() => store.cleanup());

const hex = (digest: string) => digest.slice('sha256:'.length);

/** A docker manifest.json of `n` entries naming one image (one config, one layer). */
function dockerManifest(n: number, pad = 0): Map<string, Buffer> {
  const image = makeImage([simpleLayer('m')]);
  const files = dockerFiles([{ image }]);
  const entry = JSON.parse(files.get('manifest.json')!.toString())[0];
  const entries = Array.from({ length: n }, (_, i) => ({
    ...entry,
    RepoTags: [`localhost/image-${i}${'x'.repeat(pad)}:latest`],
  }));
  files.set('manifest.json', Buffer.from(JSON.stringify(entries)));
  return files;
}

/** Counts how often each file of an in-memory archive is opened. */
function countingArchive(files: Map<string, Buffer>) {
  const opened = new Map<string, number>();
  const inner = memoryArchive(files);
  return {
    opened,
    archive: {
      ...inner,
      get: (name: string) => {
        const blob = inner.get(name);
        return (
          blob && {
            ...blob,
            open: () => {
              opened.set(name, (opened.get(name) ?? 0) + 1);
              return blob.open();
            },
          }
        );
      },
    },
  };
}

describe('archive metadata limits', () => {
  it('refuses a 100,000-entry manifest.json (15 MB) at once, by size, and writes nothing', async () => {
    const file = join(store.dir, 'huge.tar');
    writeFileSync(file, tarOf(dockerManifest(100_000, 40)));
    const start = performance.now();
    await expect(loadArchive(store.paths, file)).rejects.toMatchObject({
      code: 'PILOT_IMAGE_INVALID',
      message: expect.stringMatching(
        new RegExp(
          `huge\\.tar:manifest\\.json has \\d+ bytes; pilot reads image metadata .* of at most ${MAX_METADATA_BYTES} bytes each$`,
        ),
      ),
    });
    expect(performance.now() - start).toBeLessThan(1500);
    expect(tmpEntries(store.paths)).toEqual([]);
  });

  it('refuses more images than the limit, naming the count and the limit', async () => {
    await expect(
      readImagePlans(memoryArchive(dockerManifest(MAX_ARCHIVE_IMAGES + 1))),
    ).rejects.toMatchObject({
      code: 'PILOT_IMAGE_INVALID',
      message: `image.tar: manifest.json lists ${MAX_ARCHIVE_IMAGES + 1} images; pilot takes at most ${MAX_ARCHIVE_IMAGES}`,
    });
    const image = makeImage([simpleLayer('o')]);
    const oci = ociFiles([{ image }]);
    const index = JSON.parse(oci.get('index.json')!.toString());
    index.manifests = Array.from({ length: MAX_ARCHIVE_IMAGES + 1 }, () => index.manifests[0]);
    oci.set('index.json', Buffer.from(JSON.stringify(index)));
    await expect(readImagePlans(memoryArchive(oci))).rejects.toMatchObject({
      message: expect.stringContaining(`index.json lists ${MAX_ARCHIVE_IMAGES + 1} manifests`),
    });
  });

  it('refuses an image with more than 100 names', async () => {
    const files = dockerManifest(1);
    const [entry] = JSON.parse(files.get('manifest.json')!.toString());
    entry.RepoTags = Array.from({ length: 101 }, (_, i) => `localhost/n${i}:1`);
    files.set('manifest.json', Buffer.from(JSON.stringify([entry])));
    await expect(readImagePlans(memoryArchive(files))).rejects.toMatchObject({
      message: expect.stringMatching(/RepoTags of .* lists 101 names; pilot takes at most 100$/),
    });
  });

  it('reads a config that many entries share once', async () => {
    const { archive, opened } = countingArchive(dockerManifest(MAX_ARCHIVE_IMAGES));
    const { plans } = await readImagePlans(archive);
    expect(plans).toHaveLength(MAX_ARCHIVE_IMAGES);
    expect([...opened.values()]).toEqual([1, 1]); // manifest.json and the config
  });

  it('reads a manifest that many index entries share once', async () => {
    const image = makeImage([simpleLayer('o')]);
    const oci = ociFiles([{ image }]);
    const index = JSON.parse(oci.get('index.json')!.toString());
    index.manifests = Array.from({ length: 500 }, (_, i) => ({
      ...index.manifests[0],
      annotations: { 'org.opencontainers.image.ref.name': `localhost/o${i}:1` },
    }));
    oci.set('index.json', Buffer.from(JSON.stringify(index)));
    const { archive, opened } = countingArchive(oci);
    const { plans } = await readImagePlans(archive);
    expect(plans).toHaveLength(500);
    expect(opened.get(`blobs/sha256/${hex(image.manifestDigest)}`)).toBe(1);
    expect(opened.get(`blobs/sha256/${hex(image.configDigest)}`)).toBe(1);
  });

  it('reads manifest.json entries with configs of their own in linear time', async () => {
    await expectLinear((n) => {
      const files = dockerFiles(
        Array.from({ length: n }, (_, i) => ({
          image: makeImage([simpleLayer('l')], { config: { Cmd: [`/bin/${i}`] } }),
          repoTags: [`localhost/i${i}:1`],
        })),
      );
      return () => readImagePlans(memoryArchive(files));
    }, 100);
  });
});
