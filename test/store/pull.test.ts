import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveImage } from '../../src/core/image-record.js';
import { pullImage } from '../../src/store/pull.js';
import {
  makeImage,
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

function fakeTool(name: string, body: string): string {
  const path = join(store.dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

describe('pullImage (podman storage)', () => {
  it('says what it tried and what podman answered', async () => {
    const podman = fakeTool('podman', 'echo "Error: no such image $6" >&2; exit 1');
    const error = await pullImage(store.paths, 'example.com/nope:1', { podman }).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: 'PILOT_PULL_FAILED' });
    const message = (error as Error).message;
    expect(message).toContain('cannot pull example.com/nope:1');
    expect(message).toContain(
      `${podman} --runtime runc image exists example.com/nope:1: Error: no such image`,
    );
    expect(tmpEntries(store.paths)).toEqual([]);
  });

  it('reports a podman that is not installed', async () => {
    const error = await pullImage(store.paths, 'x', {
      podman: join(store.dir, 'no-podman'),
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'PILOT_PULL_FAILED' });
    expect((error as Error).message).toMatch(/not installed/);
  });

  it('loads what podman saved and names it as asked', async () => {
    const image = makeImage([simpleLayer('pulled')]);
    const source = join(store.dir, 'fetched.tar');
    writeFileSync(
      source,
      tarOf(ociFiles([{ image, refName: 'registry.example.com/tools/jq:1.7' }])),
    );
    const podman = fakeTool(
      'podman',
      `while [ "$1" = --runtime ]; do shift 2; done
case $1 in image) exit 0 ;; save) while [ "$1" != -o ]; do shift; done; exec cp "${source}" "$2" ;; esac
exit 125`,
    );
    const [result] = await pullImage(store.paths, 'registry.example.com/tools/jq:1.7', {
      podman,
      name: 'jq',
    });
    expect(result!.names).toEqual(['registry.example.com/tools/jq:1.7', 'jq:latest']);
    expect(resolveImage(store.paths, 'jq').id).toBe(image.configDigest);
    expect(tmpEntries(store.paths)).toEqual([]);
  });

  it('refuses a malformed reference', async () => {
    await expect(pullImage(store.paths, 'not a ref')).rejects.toMatchObject({
      code: 'PILOT_USAGE',
    });
  });
});
