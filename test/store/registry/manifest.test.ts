import { describe, expect, it } from 'vitest';
import {
  choosePlatform,
  type Descriptor,
  MEDIA_TYPES,
  parseManifest,
} from '../../../src/store/registry/manifest.js';

const digest = (c: string) => `sha256:${c.repeat(64)}`;
const json = (value: unknown) => Buffer.from(JSON.stringify(value));

describe('parseManifest', () => {
  const image = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociManifest,
    config: {
      mediaType: 'application/vnd.oci.image.config.v1+json',
      digest: digest('a'),
      size: 10,
    },
    layers: [
      { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: digest('b'), size: 20 },
    ],
  };

  it('reads OCI and Docker image manifests and indexes', () => {
    expect(parseManifest(json(image), undefined, 'm')).toMatchObject({
      kind: 'image',
      config: { digest: digest('a'), size: 10 },
      layers: [{ digest: digest('b'), size: 20 }],
    });
    const docker = { ...image, mediaType: MEDIA_TYPES.dockerManifest };
    expect(parseManifest(json(docker), undefined, 'm').kind).toBe('image');
    const list = {
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.dockerList,
      manifests: [
        { digest: digest('c'), size: 5, platform: { os: 'linux', architecture: 'amd64' } },
      ],
    };
    expect(parseManifest(json(list), undefined, 'm')).toMatchObject({ kind: 'index' });
    // No mediaType in the document: the Content-Type decides.
    const { mediaType: _m, ...bare } = list;
    expect(parseManifest(json(bare), MEDIA_TYPES.ociIndex, 'm').kind).toBe('index');
  });

  it('refuses schema 1 by name', () => {
    expect(() =>
      parseManifest(json({ schemaVersion: 1, name: 'x', fsLayers: [] }), undefined, 'r.io/x:1'),
    ).toThrow(/r.io\/x:1: the image has a Docker schema 1 manifest/);
    expect(() =>
      parseManifest(
        json({ schemaVersion: 2 }),
        'application/vnd.docker.distribution.manifest.v1+prettyjws',
        'm',
      ),
    ).toThrow(/schema 1/);
  });

  it.each([
    ['not JSON', Buffer.from('{'), /not valid JSON/],
    ['a list', json([]), /not a JSON object/],
    ['schema 3', json({ ...image, schemaVersion: 3 }), /schemaVersion is 3/],
    [
      'a sha512 layer',
      json({ ...image, layers: [{ digest: `sha512:${'a'.repeat(128)}`, size: 1 }] }),
      /sha256 digests only/,
    ],
    ['no size', json({ ...image, config: { digest: digest('a') } }), /no valid size/],
    ['layers not a list', json({ ...image, layers: {} }), /"layers" is not a list/],
    [
      'an empty index',
      json({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests: [] }),
      /lists no manifests/,
    ],
    [
      'an artifact',
      json({ ...image, mediaType: 'application/vnd.example+json' }),
      /not an image manifest or index/,
    ],
  ])('refuses %s', (_what, bytes, why) => {
    expect(() => parseManifest(bytes, undefined, 'm')).toThrow(why);
  });
});

describe('choosePlatform', () => {
  const entry = (c: string, platform?: Descriptor['platform']): Descriptor => ({
    mediaType: MEDIA_TYPES.ociManifest,
    digest: digest(c),
    size: 1,
    platform,
  });
  const host = { os: 'linux', architecture: 'arm64', variant: 'v8' };

  it("takes the host's os and architecture, its variant first", () => {
    const list = [
      entry('a', { os: 'linux', architecture: 'amd64' }),
      entry('b', { os: 'linux', architecture: 'arm64', variant: 'v7' }),
      entry('c', { os: 'linux', architecture: 'arm64', variant: 'v8' }),
    ];
    expect(choosePlatform(list, 'x', host).digest).toBe(digest('c'));
    expect(choosePlatform(list, 'x', { os: 'linux', architecture: 'amd64' }).digest).toBe(
      digest('a'),
    );
    expect(choosePlatform([list[1]!], 'x', host).digest).toBe(digest('b'));
  });

  it('takes an entry without a platform when none names the host', () => {
    expect(
      choosePlatform([entry('d', { os: 'windows', architecture: 'amd64' }), entry('e')], 'x', host)
        .digest,
    ).toBe(digest('e'));
  });

  it('names what there is when nothing fits', () => {
    expect(() =>
      choosePlatform(
        [
          entry('a', { os: 'linux', architecture: 'amd64' }),
          entry('b', { os: 'linux', architecture: 's390x' }),
          entry('c', { os: 'unknown', architecture: 'unknown' }),
        ],
        'r.io/app:1',
        host,
      ),
    ).toThrow(
      'r.io/app:1 has no image for linux/arm64; it has linux/amd64, linux/s390x, unknown/unknown',
    );
  });
});
