import { execFile } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listRefs, readImageById, resolveImage } from '../../src/core/image-record.js';
import { processStartTime } from '../../src/core/owner.js';
import { STORE_FORMAT, storeFormat } from '../../src/core/store-version.js';
import { listImages } from '../../src/store/images.js';
import { readLayerRecord } from '../../src/store/layers.js';
import { loadArchive } from '../../src/store/load.js';
import { upgradeStore } from '../../src/store/store-format.js';
import { encodeTar } from '../../src/store/tar-write.js';
import {
  bundleScript,
  dockerFiles,
  makeImage,
  makeLayer,
  ociFiles,
  simpleLayer,
  type TempStore,
  tarOf,
  tempStore,
  tmpEntries,
  writeTree,
} from './helpers.js';

const run = promisify(execFile);

let store: TempStore;

beforeEach(() => {
  store = tempStore();
});

afterEach(() => store.cleanup());

function archive(name: string, data: Buffer): string {
  const file = join(store.dir, name);
  writeFileSync(file, data);
  return file;
}

function layerDirs(): string[] {
  const dir = join(store.paths.store, 'layers');
  return existsSync(dir) ? readdirSync(dir).filter((e) => /^[a-f0-9]{64}$/.test(e)) : [];
}

function imageRecords(): string[] {
  const dir = join(store.paths.store, 'images');
  return existsSync(dir) ? readdirSync(dir) : [];
}

describe('loadArchive: archive kinds', () => {
  it('loads an oci-archive and writes the documented layout', async () => {
    const base = simpleLayer('base');
    const top = makeLayer([{ path: 'app', body: 'app\n', mode: 0o755 }]);
    const image = makeImage([base, top], {
      config: {
        Env: ['A=1'],
        Entrypoint: ['/app'],
        Cmd: ['--help'],
        WorkingDir: '/w',
        User: '1000',
        StopSignal: 'SIGINT',
        Labels: { l: 'v' },
        ExposedPorts: { '80/tcp': {} },
      },
    });
    const progress: [number, number][] = [];
    const file = archive('img.tar', tarOf(ociFiles([{ image, refName: 'example.com/app:1.0' }])));
    const [result] = await loadArchive(store.paths, file, {
      onProgress: (done, total) => progress.push([done, total]),
    });
    expect(result).toMatchObject({ names: ['example.com/app:1.0'], newLayers: 2, reusedLayers: 0 });
    const record = readImageById(store.paths, image.configDigest)!;
    expect(record).toMatchObject({
      id: image.configDigest,
      manifestDigest: image.manifestDigest,
      layers: [base.diffId, top.diffId],
      config: {
        Env: ['A=1'],
        Entrypoint: ['/app'],
        Cmd: ['--help'],
        WorkingDir: '/w',
        User: '1000',
        StopSignal: 'SIGINT',
        Labels: { l: 'v' },
      },
    });
    expect(record.config).not.toHaveProperty('ExposedPorts');
    expect(new Date(record.loaded).getTime()).toBeGreaterThan(Date.now() - 60_000);
    expect(record.size).toBe(readLayerRecord(store.paths, base.diffId)!.size + 4);
    const store_ = store.paths.store;
    expect(
      readFileSync(join(store_, 'refs', encodeURIComponent('example.com/app:1.0')), 'utf8'),
    ).toBe(`${image.configDigest}\n`);
    expect(readFileSync(join(store_, 'blobs/sha256', image.configDigest.slice(7)))).toEqual(
      image.config,
    );
    expect(readFileSync(join(store_, 'blobs/sha256', image.manifestDigest.slice(7)))).toEqual(
      image.manifest,
    );
    const baseHex = base.diffId.slice(7);
    expect(readFileSync(join(store_, 'layers', baseHex, 'etc/base'), 'utf8')).toBe('base\n');
    expect(readlinkSync(join(store_, 'l', baseHex.slice(0, 10)))).toBe(`../layers/${baseHex}`);
    expect(readFileSync(join(store_, 'l', baseHex.slice(0, 10), 'usr/bin/base'), 'utf8')).toContain(
      'echo base',
    );
    expect(readLayerRecord(store.paths, base.diffId)).toMatchObject({
      diffId: base.diffId,
      alias: baseHex.slice(0, 10),
    });
    expect(resolveImage(store.paths, 'example.com/app:1.0').id).toBe(image.configDigest);
    expect(tmpEntries(store.paths)).toEqual([]);
    const last = progress[progress.length - 1]!;
    expect(last[0]).toBe(last[1]);
    expect(last[1]).toBeGreaterThan(0);
    for (let i = 1; i < progress.length; i++) {
      expect(progress[i]![0]).toBeGreaterThanOrEqual(progress[i - 1]![0]);
    }
  });

  it('marks a store it creates with the current format (the next command must not upgrade it)', async () => {
    const image = makeImage([simpleLayer('fmt')]);
    await loadArchive(
      store.paths,
      archive('fmt.tar', tarOf(ociFiles([{ image, refName: 'f:1' }]))),
    );
    expect(storeFormat(store.paths)).toBe(STORE_FORMAT);
    const plans = join(store.paths.run, 'plans');
    mkdirSync(plans, { recursive: true });
    writeFileSync(join(plans, 'kept'), 'x');
    expect(upgradeStore(store.paths)).toBe(0);
    expect(existsSync(join(plans, 'kept'))).toBe(true);
  });

  it('loads docker-archives: legacy layer.tar names, blobs/ names, plain and gzip layers', async () => {
    const plain = simpleLayer('plain', { gzip: false });
    const zipped = simpleLayer('zipped', { gzip: true });
    const image = makeImage([plain, zipped]);
    for (const layerNames of ['legacy', 'blobs'] as const) {
      const file = archive(
        `docker-${layerNames}.tar`,
        tarOf(dockerFiles([{ image, repoTags: ['docker.io/library/thing:2'] }], { layerNames })),
      );
      const [result] = await loadArchive(store.paths, file);
      expect(result!.names).toEqual(['docker.io/library/thing:2']);
      expect(result!.image.layers).toEqual([plain.diffId, zipped.diffId]);
    }
    expect(layerDirs()).toHaveLength(2);
    expect(resolveImage(store.paths, 'thing:2').id).toBe(image.configDigest);
  });

  it('follows the symlinks docker save uses for repeated layers', async () => {
    const layer = simpleLayer('same', { gzip: false });
    const image = makeImage([layer, layer]);
    const files = dockerFiles([{ image, repoTags: ['dup:1'] }]);
    const manifest = JSON.parse(files.get('manifest.json')!.toString());
    manifest[0].Layers = ['a/layer.tar', 'a/layer.tar'];
    const patched = encodeTar([
      ...[...files]
        .filter(([p]) => !p.endsWith('layer.tar') && p !== 'manifest.json')
        .map(([path, body]) => ({ path, body })),
      { path: 'manifest.json', body: JSON.stringify(manifest) },
      { path: 'real.tar', body: layer.blob },
      { path: 'a/layer.tar', type: 'symlink', linkpath: '../real.tar' },
    ]);
    const [result] = await loadArchive(store.paths, archive('dup.tar', patched));
    expect(result).toMatchObject({ newLayers: 1, reusedLayers: 1, names: ['dup:1'] });
  });

  it('loads an OCI layout directory and a gzip-compressed archive', async () => {
    const image = makeImage([simpleLayer('dir')]);
    const dir = join(store.dir, 'layout');
    writeTree(dir, ociFiles([{ image, refName: 'layout/img:3' }]));
    const [fromDir] = await loadArchive(store.paths, dir);
    expect(fromDir!.names).toEqual(['layout/img:3']);

    const other = makeImage([simpleLayer('gz')]);
    const file = archive(
      'img.tar.gz',
      gzipSync(tarOf(dockerFiles([{ image: other, repoTags: ['gz:1'] }]))),
    );
    const [fromGzip] = await loadArchive(store.paths, file);
    expect(fromGzip!.image.id).toBe(other.configDigest);
    expect(tmpEntries(store.paths)).toEqual([]);
  });

  it('loads every image of a multi-image archive', async () => {
    const shared = simpleLayer('shared');
    const a = makeImage([shared, simpleLayer('a')]);
    const b = makeImage([shared, simpleLayer('b')]);
    const file = archive(
      'two.tar',
      tarOf(
        ociFiles([
          { image: a, refName: 'a:1' },
          { image: b, refName: 'b:1' },
        ]),
      ),
    );
    const results = await loadArchive(store.paths, file);
    expect(results.map((r) => [r.names, r.newLayers, r.reusedLayers])).toEqual([
      [['a:1'], 2, 0],
      [['b:1'], 1, 1],
    ]);
    expect(layerDirs()).toHaveLength(3);
    await expect(loadArchive(store.paths, file, { name: 'x' })).rejects.toMatchObject({
      code: 'PILOT_USAGE',
    });
  });
});

describe('loadArchive: names', () => {
  it('takes full refs, ignores a bare tag unless --name gives the repository', async () => {
    const image = makeImage([simpleLayer('n')]);
    const bare = archive('bare.tar', tarOf(ociFiles([{ image, refName: 'v2' }])));
    expect((await loadArchive(store.paths, bare))[0]!.names).toEqual([]);
    expect((await loadArchive(store.paths, bare, { name: 'myapp' }))[0]!.names).toEqual([
      'myapp:v2',
    ]);
    expect((await loadArchive(store.paths, bare, { name: 'myapp:pinned' }))[0]!.names).toEqual([
      'myapp:pinned',
    ]);
    const full = archive('full.tar', tarOf(ociFiles([{ image, refName: 'localhost/x' }])));
    expect((await loadArchive(store.paths, full, { name: 'extra' }))[0]!.names).toEqual([
      'localhost/x:latest',
      'extra:latest',
    ]);
    expect([...listRefs(store.paths).keys()].sort()).toEqual([
      'extra:latest',
      'localhost/x:latest',
      'myapp:pinned',
      'myapp:v2',
    ]);
    await expect(loadArchive(store.paths, full, { name: 'Bad Name' })).rejects.toMatchObject({
      code: 'PILOT_USAGE',
    });
  });

  it('warns about each RepoTags entry it cannot use, naming it and why, and loads the rest', async () => {
    const image = makeImage([simpleLayer('tags')]);
    const tags = [
      'good/app:1',
      'Bad Name:1',
      '-dash',
      'a//b',
      'x'.repeat(600),
      '<none>:<none>', // docker's "no name": nothing to say
      42,
    ] as unknown as string[];
    const file = archive('tags.tar', tarOf(dockerFiles([{ image, repoTags: tags }])));
    const warnings: string[] = [];
    const [result] = await loadArchive(store.paths, file, { onWarning: (w) => warnings.push(w) });
    expect(result!.names).toEqual(['good/app:1']);
    const config = `${image.configDigest.slice(7)}.json`;
    const prefix = `${file}: manifest.json: ignoring the RepoTags entry`;
    const suffix = '; load with --name REF to name the image';
    expect(warnings).toEqual([
      `${prefix} "Bad Name:1" of ${config}: it has the character " " (names use letters, digits, ".", "_", "-", "/" and ":")${suffix}`,
      `${prefix} "-dash" of ${config}: it starts with "-", not a letter or digit${suffix}`,
      `${prefix} "a//b" of ${config}: it has an empty path component ("//")${suffix}`,
      expect.stringMatching(
        /RepoTags entry "x{20,80}…?" of .*: it is 600 characters long \(at most 512\)/,
      ),
      `${prefix} of ${config}: it is a JSON number, not a string${suffix}`,
    ]);
    // Quoted short: a long name does not fill the terminal.
    expect(warnings[3]!.length).toBeLessThan(400);
  });

  it('warns about an OCI ref annotation it cannot use', async () => {
    const image = makeImage([simpleLayer('ann')]);
    const file = archive('ann.tar', tarOf(ociFiles([{ image, refName: 'repo/app:v1\n' }])));
    const warnings: string[] = [];
    const [result] = await loadArchive(store.paths, file, { onWarning: (w) => warnings.push(w) });
    expect(result!.names).toEqual([]);
    expect(warnings).toEqual([
      `${file}: index.json: ignoring the name "repo/app:v1\\n" (annotation org.opencontainers.image.ref.name): it has the character "\\n" (names use letters, digits, ".", "_", "-", "/" and ":"); load with --name REF to name the image`,
    ]);
  });

  it('counts warnings past the tenth instead of printing thousands', async () => {
    const image = makeImage([simpleLayer('many')]);
    // 100: the most names one image may have (archive-metadata.ts).
    const tags = Array.from({ length: 100 }, (_, i) => `bad tag ${i}`);
    const file = archive('many.tar', tarOf(dockerFiles([{ image, repoTags: tags }])));
    const warnings: string[] = [];
    await loadArchive(store.paths, file, { onWarning: (w) => warnings.push(w) });
    expect(warnings).toHaveLength(11);
    expect(warnings[10]).toBe('… and 90 more warning(s) like these');
  });

  it('refuses an empty or malformed --name before it reads the archive, saying what is wrong', async () => {
    // The archive does not even exist: the name is checked first.
    const missing = join(store.dir, 'missing.tar');
    await expect(loadArchive(store.paths, missing, { name: '' })).rejects.toMatchObject({
      code: 'PILOT_USAGE',
      message: '--name is empty: it is the name the loaded image gets',
      hint: expect.stringMatching(/leave --name out to keep the names the archive has/),
    });
    await expect(loadArchive(store.paths, missing, { name: '-x y' })).rejects.toMatchObject({
      message: expect.stringMatching(
        /^--name "-x y" is not a valid image name: it starts with "-", not a letter or digit/,
      ),
    });
    expect(existsSync(join(store.paths.store, 'images'))).toBe(false);
  });

  it('moves a name to the newer image; the older one stays, nameless', async () => {
    const old = makeImage([simpleLayer('old')]);
    const fresh = makeImage([simpleLayer('new')]);
    await loadArchive(store.paths, archive('old.tar', tarOf(ociFiles([{ image: old }]))), {
      name: 'app',
    });
    await loadArchive(store.paths, archive('new.tar', tarOf(ociFiles([{ image: fresh }]))), {
      name: 'app',
    });
    expect(resolveImage(store.paths, 'app').id).toBe(fresh.configDigest);
    const images = listImages(store.paths);
    expect(images.map((i) => [i.id, i.names])).toEqual([
      [fresh.configDigest, ['app:latest']],
      [old.configDigest, []],
    ]);
  });
});

describe('loadArchive: sharing', () => {
  it('extracts a layer once, whether the same image comes as oci or docker archive', async () => {
    const base = simpleLayer('base');
    const image = makeImage([base, simpleLayer('top')]);
    const first = await loadArchive(
      store.paths,
      archive('oci.tar', tarOf(ociFiles([{ image, refName: 'img:1' }]))),
    );
    expect(first[0]).toMatchObject({ newLayers: 2, reusedLayers: 0 });
    const baseDir = join(store.paths.store, 'layers', base.diffId.slice(7));
    const inode = lstatSync(join(baseDir, 'etc/base')).ino;
    const second = await loadArchive(
      store.paths,
      archive('docker.tar', tarOf(dockerFiles([{ image, repoTags: ['img:2'] }]))),
    );
    expect(second[0]).toMatchObject({ newLayers: 0, reusedLayers: 2 });
    expect(second[0]!.image.manifestDigest).toBe(image.manifestDigest);
    expect(lstatSync(join(baseDir, 'etc/base')).ino).toBe(inode);
    expect(layerDirs()).toHaveLength(2);
    expect(imageRecords()).toHaveLength(1);

    // another image on the same base adds one layer only
    const other = makeImage([base, simpleLayer('other')]);
    const third = await loadArchive(
      store.paths,
      archive('other.tar', tarOf(ociFiles([{ image: other }]))),
      {
        name: 'other',
      },
    );
    expect(third[0]).toMatchObject({ newLayers: 1, reusedLayers: 1 });
    expect(layerDirs()).toHaveLength(3);
    const summary = listImages(store.paths).find((i) => i.id === other.configDigest)!;
    expect(summary.sharedSize).toBe(readLayerRecord(store.paths, base.diffId)!.size);
  });

  it('repairs a layer whose record or alias a crash left out', async () => {
    const base = simpleLayer('base');
    const image = makeImage([base]);
    const file = archive('oci.tar', tarOf(ociFiles([{ image, refName: 'img:1' }])));
    await loadArchive(store.paths, file);
    const hex = base.diffId.slice(7);
    const { rmSync } = await import('node:fs');
    rmSync(join(store.paths.store, 'layers', `${hex}.json`));
    rmSync(join(store.paths.store, 'l', hex.slice(0, 10)));
    const [again] = await loadArchive(store.paths, file);
    expect(again!.reusedLayers).toBe(1);
    expect(readLayerRecord(store.paths, base.diffId)!.size).toBeGreaterThan(0);
    expect(readlinkSync(join(store.paths.store, 'l', hex.slice(0, 10)))).toBe(`../layers/${hex}`);
  });
});

describe('loadArchive: errors', () => {
  function expectCleanStore(): void {
    expect(tmpEntries(store.paths)).toEqual([]);
    expect(imageRecords()).toEqual([]);
    expect(
      existsSync(join(store.paths.store, 'refs'))
        ? readdirSync(join(store.paths.store, 'refs'))
        : [],
    ).toEqual([]);
  }

  it('names a missing file', async () => {
    await expect(loadArchive(store.paths, join(store.dir, 'nope.tar'))).rejects.toMatchObject({
      code: 'PILOT_IMAGE_INVALID',
      message: expect.stringMatching(/nope\.tar: no such file/),
    });
    expectCleanStore();
  });

  it('refuses files that are not image archives', async () => {
    const text = archive('notes.txt', Buffer.from('just some text\n'.repeat(100)));
    await expect(loadArchive(store.paths, text)).rejects.toMatchObject({
      code: 'PILOT_IMAGE_INVALID',
      message: expect.stringMatching(/notes\.txt is not an image archive \(not a tar file\)/),
    });
    const plainTar = archive('files.tar', encodeTar([{ path: 'hello.txt', body: 'hi' }]));
    await expect(loadArchive(store.paths, plainTar)).rejects.toMatchObject({
      code: 'PILOT_IMAGE_INVALID',
      message: expect.stringMatching(
        /files\.tar is not an image archive \(it has neither index\.json/,
      ),
    });
    const empty = archive('empty.tar', Buffer.alloc(0));
    await expect(loadArchive(store.paths, empty)).rejects.toMatchObject({
      code: 'PILOT_IMAGE_INVALID',
    });
    const emptyDir = join(store.dir, 'emptydir');
    mkdirSync(emptyDir);
    await expect(loadArchive(store.paths, emptyDir)).rejects.toMatchObject({
      code: 'PILOT_IMAGE_INVALID',
    });
    expectCleanStore();
  });

  it('names a truncated archive', async () => {
    const image = makeImage([
      simpleLayer('t'),
      makeLayer([{ path: 'big', body: Buffer.alloc(200_000, 7) }], { gzip: false }),
    ]);
    const full = tarOf(ociFiles([{ image, refName: 't:1' }]));
    const file = archive('cut.tar', full.subarray(0, full.length - 100_000));
    await expect(loadArchive(store.paths, file)).rejects.toMatchObject({
      code: 'PILOT_IMAGE_INVALID',
      message: expect.stringMatching(/cut\.tar is truncated or corrupt/),
    });
    expectCleanStore();
  });

  it('checks the config digest', async () => {
    const image = makeImage([simpleLayer('c')]);
    const files = ociFiles([{ image, refName: 'c:1' }]);
    const name = `blobs/sha256/${image.configDigest.slice(7)}`;
    files.set(name, Buffer.from(files.get(name)!.toString().replace('amd64', 'arm64')));
    await expect(loadArchive(store.paths, archive('bad.tar', tarOf(files)))).rejects.toMatchObject({
      code: 'PILOT_DIGEST_MISMATCH',
      message: expect.stringContaining(name),
    });
    expectCleanStore();
  });

  it("checks a layer blob's digest and its diff_id", async () => {
    const good = simpleLayer('good');
    const layer = simpleLayer('bad');
    const other = simpleLayer('other');
    // The manifest names the blob of `other`, but the archive holds `layer` under that name.
    const image = makeImage([good, layer]);
    const files = ociFiles([{ image, refName: 'd:1' }]);
    files.set(`blobs/sha256/${layer.digest.slice(7)}`, other.blob);
    const error = await loadArchive(store.paths, archive('bad.tar', tarOf(files))).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: 'PILOT_DIGEST_MISMATCH' });
    expect((error as Error).message).toContain(`blobs/sha256/${layer.digest.slice(7)}`);
    expect((error as Error).message).toContain(layer.diffId);

    // docker-archives have no blob digest: the diff_id catches it
    const docker = dockerFiles([{ image, repoTags: ['d:1'] }]);
    const layerName = `${layer.diffId.slice(7, 47)}/layer.tar`;
    docker.set(layerName, other.blob);
    const dockerError = await loadArchive(
      store.paths,
      archive('bad-docker.tar', tarOf(docker)),
    ).catch((e: unknown) => e);
    expect(dockerError).toMatchObject({ code: 'PILOT_DIGEST_MISMATCH' });
    expect((dockerError as Error).message).toMatch(/uncompressed layer's digest/);
    expect((dockerError as Error).message).toContain(layerName);
    expect(tmpEntries(store.paths)).toEqual([]);
    expect(imageRecords()).toEqual([]);
    // a good layer that made it in stays (content-addressed), the bad one does not
    expect(layerDirs()).toEqual([good.diffId.slice(7)]);
  });

  it('refuses a hostile layer, naming archive, layer and entry', async () => {
    const evil = makeLayer([
      { path: 'etc/', type: 'dir' },
      { path: 'etc/passwd', type: 'link', linkpath: '../../etc/shadow' },
    ]);
    const image = makeImage([simpleLayer('ok'), evil]);
    const error = await loadArchive(
      store.paths,
      archive('evil.tar', tarOf(ociFiles([{ image, refName: 'evil:1' }]))),
    ).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'PILOT_LAYER_UNSAFE' });
    const message = (error as Error).message;
    expect(message).toContain('evil.tar');
    expect(message).toContain(evil.diffId);
    expect(message).toContain('entry "etc/passwd" is a hard link to "../../etc/shadow"');
    expect(tmpEntries(store.paths)).toEqual([]);
    expect(imageRecords()).toEqual([]);
    expect(layerDirs()).not.toContain(evil.diffId.slice(7));
  });

  it('refuses manifests whose layer count does not match the config', async () => {
    const layer = simpleLayer('m');
    const image = makeImage([layer], { diffIds: [layer.diffId, layer.diffId] });
    await expect(
      loadArchive(store.paths, archive('m.tar', tarOf(ociFiles([{ image, refName: 'm:1' }])))),
    ).rejects.toMatchObject({
      code: 'PILOT_IMAGE_INVALID',
      message: expect.stringMatching(/1 layers but its config lists 2/),
    });
    expectCleanStore();
  });
});

describe('loadArchive: temp entries', () => {
  it('removes the temp entries of dead writers (pid gone or reused), keeps live ones', async () => {
    const tmp = join(store.paths.store, 'tmp');
    const init = processStartTime(1)!;
    const live = `.pilot-load-1-${init}-abcdef01`;
    mkdirSync(join(tmp, `.pilot-load-999999999-5-abcdef01/.pilot-extract-999999999-5-00000000`), {
      recursive: true,
    });
    // pid 1 runs, but not the process that started at another time: the pid was reused.
    mkdirSync(join(tmp, `.pilot-extract-1-${Number(init) + 1}-0123abcd`), { recursive: true });
    mkdirSync(join(tmp, live), { recursive: true });
    // Names of earlier pilot versions carry a pid only.
    mkdirSync(join(tmp, 'load-999999999-abcdef'), { recursive: true });
    mkdirSync(join(tmp, 'load-1-abcdef'), { recursive: true });
    const image = makeImage([simpleLayer('t')]);
    await loadArchive(store.paths, archive('t.tar', tarOf(ociFiles([{ image }]))), { name: 't' });
    expect(tmpEntries(store.paths).sort()).toEqual([live, 'load-1-abcdef'].sort());
  });
});

describe('loadArchive: processes', () => {
  function bigImage(tag: string) {
    // Enough work (about 40 MB of files) that two loads overlap.
    const entries = [];
    for (let i = 0; i < 40; i++) {
      entries.push({ path: `data/${tag}-${i}`, body: Buffer.alloc(1024 * 1024, i) });
    }
    return makeImage([
      makeLayer(entries),
      simpleLayer(tag),
      makeLayer(entries.slice(0, 10).map((e) => ({ ...e, path: `more/${e.path}` }))),
    ]);
  }

  it('two processes loading the same archive both succeed and store one copy', async () => {
    const script = bundleScript('scripts/load.ts', store.dir);
    const image = bigImage('c');
    const file = archive('c.tar', tarOf(ociFiles([{ image, refName: 'c:1' }])));
    const root = store.paths.root;
    const [a, b] = await Promise.all([
      run('node', [script, root, file]),
      run('node', [script, root, file]),
    ]);
    const results = [JSON.parse(a.stdout)[0], JSON.parse(b.stdout)[0]];
    expect(results.map((r) => r.id)).toEqual([image.configDigest, image.configDigest]);
    expect(layerDirs()).toHaveLength(3);
    expect(imageRecords()).toHaveLength(1);
    expect(tmpEntries(store.paths)).toEqual([]);
    expect(resolveImage(store.paths, 'c:1').layers).toHaveLength(3);
  }, 60_000);
});
