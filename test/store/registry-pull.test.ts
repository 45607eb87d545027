import { existsSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readImageById, resolveImage } from '../../src/core/image-record.js';
import { listImages } from '../../src/store/images.js';
import { pullFromRegistry } from '../../src/store/registry-pull.js';
import type { TrustRequest } from '../../src/store/trust/types.js';
import {
  makeImage,
  simpleLayer,
  type TempStore,
  type TestImage,
  tempStore,
  tmpEntries,
} from './helpers.js';
import { type FakeRegistry, serve, startFakeRegistry } from './registry/fake-registry.js';

let store: TempStore;
let registry: FakeRegistry;
beforeEach(async () => {
  store = tempStore();
  registry = await startFakeRegistry();
});
afterEach(async () => {
  await registry.close();
  store.cleanup();
});

function publish(image: TestImage, tag: string): void {
  registry.routes.set(
    `/v2/team/app/manifests/${tag}`,
    serve(image.manifest, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }),
  );
  registry.routes.set(`/v2/team/app/blobs/${image.configDigest}`, serve(image.config));
  for (const layer of image.layers) {
    registry.routes.set(`/v2/team/app/blobs/${layer.digest}`, serve(layer.blob));
  }
}

const blobGets = () =>
  registry.requests.filter((r) => r.path.includes('/blobs/')).map((r) => r.path);

describe('pullFromRegistry', () => {
  it('asks the trust hook before any blob; a refusal stores nothing', async () => {
    const image = makeImage([simpleLayer('a')]);
    publish(image, '1');
    const requests: TrustRequest[] = [];
    const refusal = pullFromRegistry(store.paths, `${registry.host}/team/app:1`, {
      tlsVerify: false,
      trust: async (request) => {
        requests.push(request);
        throw new Error('rejected by policy');
      },
    });
    await expect(refusal).rejects.toThrow('rejected by policy');
    expect(requests[0]).toMatchObject({
      reference: { domain: registry.host, path: 'team/app', tag: '1', digest: undefined },
      manifestDigest: image.manifestDigest,
    });
    expect(requests[0]!.manifest.equals(image.manifest)).toBe(true);
    expect(blobGets()).toEqual([]);
    expect(existsSync(store.paths.store)).toBe(false);
  });

  it('keeps the verdict and the origin in the record, and fetches a present layer never', async () => {
    const base = simpleLayer('base');
    const first = makeImage([base]);
    const second = makeImage([base, simpleLayer('top')]);
    publish(first, '1');
    publish(second, '2');
    const verdict = { requirement: 'signedBy', rule: 'transports.docker["x"]', keys: ['ABCD'] };
    await pullFromRegistry(store.paths, `${registry.host}/team/app:1`, { tlsVerify: false });
    registry.requests.length = 0;
    const result = await pullFromRegistry(store.paths, `${registry.host}/team/app:2`, {
      tlsVerify: false,
      trust: async () => verdict,
      name: 'app:latest',
    });
    expect(result).toMatchObject({ newLayers: 1, reusedLayers: 1, fetchedLayers: 1 });
    expect(blobGets().sort()).toEqual(
      [
        `/v2/team/app/blobs/${second.configDigest}`,
        `/v2/team/app/blobs/${second.layers[1]!.digest}`,
      ].sort(),
    );
    expect(readImageById(store.paths, second.configDigest)).toMatchObject({
      trust: verdict,
      pulled: { ref: `${registry.host}/team/app:2`, digest: second.manifestDigest },
      manifestDigest: second.manifestDigest,
    });
    expect(resolveImage(store.paths, 'app').id).toBe(second.configDigest);
    const summary = listImages(store.paths).find((i) => i.id === second.configDigest);
    expect(summary?.trust).toEqual(verdict);
    expect(tmpEntries(store.paths)).toEqual([]);
  });

  it('a layer blob that fails its digest leaves no image, name or temp file', async () => {
    const image = makeImage([simpleLayer('x')]);
    publish(image, '1');
    registry.routes.set(
      `/v2/team/app/blobs/${image.layers[0]!.digest}`,
      serve(Buffer.alloc(image.layers[0]!.blob.length)),
    );
    await expect(
      pullFromRegistry(store.paths, `${registry.host}/team/app:1`, { tlsVerify: false }),
    ).rejects.toMatchObject({ code: 'PILOT_DIGEST_MISMATCH' });
    expect(listImages(store.paths)).toEqual([]);
    expect(tmpEntries(store.paths)).toEqual([]);
  });
});
