/**
 * Every form an image reaches `pilot load` in: oci-archive and docker-archive, each plain,
 * gzip, xz and zstd (KIWI writes `.docker.tar.xz`), OCI layout and `docker save`
 * directories; and what a broken compressed archive gives: one error naming it, and no
 * scratch file left in the store's tmp/.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listRefs } from '../../src/core/image-record.js';
import { loadArchive } from '../../src/store/load.js';
import {
  dockerFiles,
  makeImage,
  ociFiles,
  simpleLayer,
  type TempStore,
  type TestImage,
  tarOf,
  tempStore,
  tmpEntries,
  writeTree,
} from './helpers.js';

let store: TempStore;
let image: TestImage;

beforeEach(() => {
  store = tempStore();
  image = makeImage([simpleLayer('base', { gzip: false }), simpleLayer('app')]);
});

afterEach(() => store.cleanup());

const compressions: [string, (tar: Buffer) => Buffer][] = [
  ['plain', (tar) => tar],
  ['gzip', (tar) => gzipSync(tar)],
  ['xz', (tar) => execFileSync('xz', ['-q', '-c'], { input: tar })],
  ['zstd', (tar) => execFileSync('zstd', ['-q', '-c'], { input: tar })],
];

const kinds: [string, () => Map<string, Buffer>][] = [
  ['oci-archive', () => ociFiles([{ image, refName: 'example.com/formats:1' }])],
  ['docker-archive', () => dockerFiles([{ image, repoTags: ['example.com/formats:1'] }])],
];

function write(name: string, data: Buffer): string {
  const file = join(store.dir, name);
  writeFileSync(file, data);
  return file;
}

async function loadError(source: string, options = {}): Promise<Error> {
  try {
    await loadArchive(store.paths, source, options);
  } catch (error) {
    return error as Error;
  }
  throw new Error(`loading ${source} succeeded`);
}

describe('loadArchive: every kind in every compression', () => {
  for (const [kind, files] of kinds) {
    for (const [compression, compress] of compressions) {
      it(`loads a ${compression} ${kind}, decided by content (the name says nothing)`, async () => {
        const data = compress(tarOf(files()));
        const file = write(`${kind}.${compression}.bin`, data);
        const progress: [number, number][] = [];
        const [result] = await loadArchive(store.paths, file, {
          onProgress: (done, total) => progress.push([done, total]),
        });
        // Decompressing reports the compressed bytes read, before the layers report theirs.
        const reading = progress.filter(([, total]) => total === data.length);
        expect(reading.at(-1)).toEqual(
          compression === 'plain' ? undefined : [data.length, data.length],
        );
        expect(result).toMatchObject({
          names: ['example.com/formats:1'],
          newLayers: 2,
          image: { id: image.configDigest },
        });
        expect(listRefs(store.paths).get('example.com/formats:1')).toBe(image.configDigest);
        expect(tmpEntries(store.paths)).toEqual([]);
      });
    }
  }
});

describe('loadArchive: directories, told apart by content', () => {
  it('loads an OCI layout directory', async () => {
    const dir = join(store.dir, 'layout');
    writeTree(dir, ociFiles([{ image, refName: 'example.com/formats:1' }]));
    const [result] = await loadArchive(store.paths, dir);
    expect(result?.names).toEqual(['example.com/formats:1']);
  });

  it('loads a docker save directory (manifest.json, config, layer tars, a symlinked layer)', async () => {
    const again = makeImage([simpleLayer('same', { gzip: false }), simpleLayer('same2')]);
    const dir = join(store.dir, 'saved');
    const files = dockerFiles([
      { image, repoTags: ['example.com/formats:1'] },
      { image: again, repoTags: ['example.com/again:2'] },
    ]);
    writeTree(dir, files);
    // docker save links a layer that two images share: ../<id>/layer.tar
    const [first] = [...files.keys()].filter((name) => name.endsWith('/layer.tar'));
    const linked = join(dir, 'linked/layer.tar');
    mkdirSync(join(dir, 'linked'));
    symlinkSync(`../${first}`, linked);
    const manifest = JSON.parse(files.get('manifest.json')!.toString());
    manifest[0].Layers[0] = 'linked/layer.tar';
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
    const results = await loadArchive(store.paths, dir);
    expect(results.map((r) => r.names)).toEqual([
      ['example.com/formats:1'],
      ['example.com/again:2'],
    ]);
  });

  it('reads a directory with both manifest.json and index.json (docker 25+) by manifest.json', async () => {
    const dir = join(store.dir, 'both');
    writeTree(dir, ociFiles([{ image, refName: 'example.com/from-index:1' }]));
    writeTree(
      dir,
      dockerFiles([{ image, repoTags: ['example.com/from-manifest:1'] }], { layerNames: 'blobs' }),
    );
    const [result] = await loadArchive(store.paths, dir);
    expect(result?.names).toEqual(['example.com/from-manifest:1']);
  });

  it('refuses a directory with neither, naming both directory kinds it takes', async () => {
    const dir = join(store.dir, 'neither');
    mkdirSync(dir);
    writeFileSync(join(dir, 'layer.tar'), 'x');
    expect((await loadError(dir)).message).toMatch(
      /neither is not an image archive \(it has neither index\.json nor manifest\.json\); expected .*an OCI layout directory or an unpacked docker save directory/,
    );
  });
});

describe('loadArchive: broken compressed archives', () => {
  const full = () => tarOf(ociFiles([{ image, refName: 'example.com/formats:1' }]));

  for (const [compression, compress] of compressions.slice(1)) {
    it(`names a truncated ${compression} archive once, and leaves no scratch file`, async () => {
      const data = compress(full());
      const file = write(`cut.${compression}`, data.subarray(0, Math.floor(data.length / 2)));
      const error = await loadError(file);
      expect(error).toMatchObject({ code: 'PILOT_IMAGE_INVALID' });
      expect(error.message).toMatch(
        new RegExp(
          // gzip is Node's own zlib; zstd and xz are tools, quoted as every tool is.
          `^cannot decompress ${file.replace(/[.]/g, '\\.')}${compression === 'gzip' ? ' \\(gzip\\)' : `: \`${compression} -d -c -q\` exited with status 1`}: \\w`,
        ),
      );
      expect(error.message).not.toMatch(/\n|at .*\.ts/);
      expect(tmpEntries(store.paths)).toEqual([]);
    });
  }

  it('names corrupt xz and zstd data (bytes flipped in the middle)', async () => {
    for (const [compression, compress] of compressions.slice(2)) {
      const data = Buffer.from(compress(full()));
      for (let i = 100; i < 200; i++) data[i] = (data[i] ?? 0) ^ 0x55;
      const error = await loadError(write(`bad.${compression}`, data));
      expect(error.message).toMatch(
        new RegExp(`bad\\.${compression}: \`${compression} -d -c -q\` exited with status 1: \\w`),
      );
    }
    expect(tmpEntries(store.paths)).toEqual([]);
  });

  it('refuses xz or zstd data that is no tar', async () => {
    for (const [compression, compress] of compressions.slice(2)) {
      const file = write(`text.${compression}`, compress(Buffer.from('hello\n'.repeat(200))));
      expect((await loadError(file)).message).toContain(
        `is not an image archive (${compression} data that is not a tar)`,
      );
    }
    expect(tmpEntries(store.paths)).toEqual([]);
  });

  it('names a compression pilot does not read instead of calling it "not a tar"', async () => {
    // bzip2's magic and block header: the sniff reads no further.
    const file = write(
      'image.tar.bz2',
      Buffer.from('BZh91AY&SY\x00\x01\x02 rest of the data', 'latin1'),
    );
    expect((await loadError(file)).message).toContain(
      'is not an image archive (bzip2-compressed, which pilot does not read; it reads plain, gzip, xz and zstd archives)',
    );
  });

  it('stops a decompression past what the scratch space may take, with a clear error', async () => {
    const bomb = write(
      'bomb.xz',
      execFileSync('xz', ['-q', '-c'], { input: Buffer.alloc(4 << 20) }),
    );
    const error = await loadError(bomb, { scratchLimit: 1 << 20 });
    expect(error).toMatchObject({ code: 'PILOT_IMAGE_INVALID' });
    expect(error.message).toMatch(
      /bomb\.xz: its xz data decompresses to more than 1048576 bytes, more than .*tmp\/\.pilot-load-\S+ can hold/,
    );
    expect(tmpEntries(store.paths)).toEqual([]);
  });

  it('names the package to install when the xz or zstd program is missing', async () => {
    const empty = join(store.dir, 'no-tools');
    mkdirSync(empty);
    const file = write('image.tar.zst', compressions[3]![1](full()));
    const path = process.env.PATH;
    process.env.PATH = empty;
    try {
      const error = await loadError(file);
      expect(error).toMatchObject({ code: 'PILOT_TOOL_MISSING' });
      expect(error.message).toMatch(
        /^cannot decompress \S+\/image\.tar\.zst: zstd is not installed \(apt-get install zstd\)$/,
      );
      expect((error as { hint?: string }).hint).toMatch(/^install zstd/);
    } finally {
      process.env.PATH = path;
    }
    expect(tmpEntries(store.paths)).toEqual([]);
    rmSync(empty, { recursive: true });
  });
});
