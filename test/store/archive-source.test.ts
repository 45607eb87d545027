/**
 * An OCI layout directory is read without leaving it: a file that is a symlink out of
 * the directory, or not a regular file, is refused by name and never read; errors quote
 * at most a short escaped excerpt of a file pilot was allowed to read.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatError } from '../../src/core/errors.js';
import { loadArchive } from '../../src/store/load.js';
import {
  dockerFiles,
  makeImage,
  ociFiles,
  simpleLayer,
  type TempStore,
  tarOf,
  tempStore,
  writeTree,
} from './helpers.js';

const SECRET = 'TOPSECRET-0xdeadbeef';
let store: TempStore;
let layout: string;
let outside: string;
let files: Map<string, Buffer>;

beforeEach(() => {
  store = tempStore();
  layout = join(store.dir, 'layout');
  outside = join(store.dir, 'outside');
  mkdirSync(outside);
  files = ociFiles([{ image: makeImage([simpleLayer('d')]), refName: 'example.com/d:1' }]);
  writeTree(layout, files);
});

afterEach(() => store.cleanup());

async function loadError(source = layout): Promise<Error> {
  try {
    await loadArchive(store.paths, source);
  } catch (error) {
    return error as Error;
  }
  throw new Error(`loading ${source} succeeded`);
}

/** The name of the blob that holds the image config (the first blob the manifest names). */
function configBlob(): string {
  const index = JSON.parse(files.get('index.json')!.toString());
  const manifest = JSON.parse(
    files.get(`blobs/${index.manifests[0].digest.replace(':', '/')}`)!.toString(),
  );
  return `blobs/${manifest.config.digest.replace(':', '/')}`;
}

describe('loading an OCI layout directory', () => {
  it('refuses an index.json that links to a file outside, without quoting that file', async () => {
    writeFileSync(join(outside, 'shadow'), `root:${SECRET}:19000:0:99999:7:::\n`);
    rmSync(join(layout, 'index.json'));
    symlinkSync(join(outside, 'shadow'), join(layout, 'index.json'));
    const error = await loadError();
    expect(error).toMatchObject({
      code: 'PILOT_IMAGE_INVALID',
      message: expect.stringMatching(/index\.json.*outside/),
    });
    expect(formatError(error)).not.toContain(SECRET);
  });

  it('refuses a blob that links out of the directory, even with the right content', async () => {
    const blob = configBlob();
    writeFileSync(join(outside, 'config'), files.get(blob)!);
    rmSync(join(layout, blob));
    symlinkSync('../../../outside/config', join(layout, blob));
    expect(await loadError()).toMatchObject({
      code: 'PILOT_IMAGE_INVALID',
      message: expect.stringMatching(/blobs\/sha256\/[0-9a-f]{64}.*outside/),
    });
  });

  it('refuses blobs/ that links out of the directory', async () => {
    renameSync(join(layout, 'blobs'), join(outside, 'blobs'));
    symlinkSync(join(outside, 'blobs'), join(layout, 'blobs'));
    expect(await loadError()).toMatchObject({
      code: 'PILOT_IMAGE_INVALID',
      message: expect.stringMatching(/blobs\/sha256\/.*outside/),
    });
  });

  it('follows a link that stays inside the directory', async () => {
    renameSync(join(layout, 'index.json'), join(layout, 'index.real'));
    symlinkSync('index.real', join(layout, 'index.json'));
    const [result] = await loadArchive(store.paths, layout);
    expect(result?.names).toEqual(['example.com/d:1']);
  });

  it('refuses a FIFO as index.json instead of waiting for a writer', async () => {
    rmSync(join(layout, 'index.json'));
    execFileSync('mkfifo', [join(layout, 'index.json')]);
    expect(await loadError()).toMatchObject({
      code: 'PILOT_IMAGE_INVALID',
      message: expect.stringMatching(/index\.json.* is not a regular file \(a FIFO\)/),
    });
  }, 5_000);

  it('quotes a short escaped excerpt of a huge invalid index.json, with file:line', async () => {
    // Huge, but within the 4 MiB a metadata file may have (archive-source.ts).
    const junk = `{"manifests": [\x1b]0;owned\x07\x1b[2J${'A'.repeat(3 * 1024 * 1024)}`;
    writeFileSync(join(layout, 'index.json'), junk);
    const error = await loadError();
    expect(error).toMatchObject({
      code: 'PILOT_IMAGE_INVALID',
      message: expect.stringContaining(
        'index.json:1:16: not valid JSON near "{\\"manifests\\": [\\x1b]0;owned\\x07',
      ),
    });
    expect(Buffer.byteLength(error.message)).toBeLessThan(300);
    expect(formatError(error)).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f]/);
  });
});

describe('loading an archive with invalid metadata', () => {
  it('quotes manifest.json of a docker archive by file:line, escaped', async () => {
    const docker = dockerFiles([{ image: makeImage([simpleLayer('m')]) }]);
    docker.set('manifest.json', Buffer.from(`[\n  {"Config": \x1b[31m"x"}\n]`));
    const file = join(store.dir, 'docker.tar');
    writeFileSync(file, tarOf(docker));
    const error = await loadError(file);
    expect(error.message).toContain(
      'manifest.json:2:14: not valid JSON near "  {\\"Config\\": \\x1b[31m',
    );
  });
});
