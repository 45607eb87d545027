/**
 * Image archives' metadata (index.json, manifests, manifest.json, configs) is read from
 * JSON anyone can write: any JSON value in any field ends in image plans whose config
 * fields have the documented types, or in a short PilotError; never a TypeError.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type ImagePlan, readImagePlans } from '../../src/store/archive-images.js';
import { fuzzRuns } from '../fuzz.js';
import { memoryArchive } from '../store/helpers.js';
import { expectShortPilotError, oddString } from './helpers.js';

const sha = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;
const hex = (digest: string) => digest.slice(7);
const json = (value: unknown) => Buffer.from(JSON.stringify(value) ?? 'null');

const LAYER = Buffer.from('layer bytes');
const LAYER_DIGEST = sha(LAYER);
const junk = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  oddString(30),
  fc.constantFrom(null, [], {}, [null], 0, '', 'sha256:'),
);
/** `right` most of the time, anything at all otherwise. */
const maybe = <T>(right: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 3, arbitrary: right }, { weight: 1, arbitrary: junk });
const strings = fc.array(fc.oneof(fc.string({ maxLength: 12 }), junk), { maxLength: 3 });
const configFields = fc.record(
  {
    Env: maybe(fc.array(fc.constantFrom('PATH=/bin', 'A=b', 'noequals', '=x'), { maxLength: 3 })),
    Entrypoint: maybe(fc.oneof(fc.constant(null), strings)),
    Cmd: maybe(fc.oneof(fc.constant(null), strings)),
    WorkingDir: maybe(fc.constantFrom('/', '/srv', '')),
    User: maybe(fc.constantFrom('root', '1000:1000', '')),
    StopSignal: maybe(fc.constantFrom('SIGTERM', '15')),
    Labels: maybe(fc.oneof(fc.constant(null), fc.dictionary(fc.string({ maxLength: 5 }), junk))),
  },
  { requiredKeys: [] },
);
const configBlob = fc
  .record(
    {
      config: maybe(fc.oneof(fc.constant(null), configFields)),
      rootfs: maybe(
        fc.record({
          type: maybe(fc.constant('layers')),
          diff_ids: maybe(fc.constant([LAYER_DIGEST])),
        }),
      ),
    },
    { requiredKeys: [] },
  )
  .map(json);

const dockerArchive = fc
  .tuple(configBlob, maybe(fc.constantFrom(['a/b:1'], null, ['<none>:<none>', 'ok:1'])), fc.nat(3))
  .chain(([config, repoTags, shape]) => {
    const configName = `${hex(sha(config))}.json`;
    const entry = fc.record(
      {
        Config: maybe(fc.constant(configName)),
        RepoTags: fc.constant(repoTags),
        Layers: maybe(fc.constant(['l/layer.tar'])),
      },
      { requiredKeys: [] },
    );
    return maybe(fc.array(maybe(entry), { minLength: shape === 0 ? 0 : 1, maxLength: 2 })).map(
      (manifest) =>
        new Map([
          ['manifest.json', json(manifest)],
          [configName, config],
          ['l/layer.tar', LAYER],
        ]),
    );
  });

const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const INDEX = 'application/vnd.oci.image.index.v1+json';
const ociArchive = configBlob.chain((config) => {
  const configDigest = sha(config);
  const manifest = maybe(
    fc.record(
      {
        mediaType: maybe(fc.constant(MANIFEST)),
        config: maybe(fc.record({ digest: maybe(fc.constant(configDigest)) })),
        layers: maybe(fc.constant([{ digest: LAYER_DIGEST }, { digest: 5 }])),
      },
      { requiredKeys: [] },
    ),
  ).map(json);
  return manifest.chain((manifestBlob) => {
    const manifestDigest = sha(manifestBlob);
    const descriptor = fc.record(
      {
        mediaType: maybe(fc.constantFrom(MANIFEST, INDEX)),
        digest: maybe(fc.constant(manifestDigest)),
        platform: maybe(fc.record({ os: maybe(fc.constant('linux')), architecture: junk })),
        annotations: maybe(
          fc.dictionary(fc.constantFrom('org.opencontainers.image.ref.name', 'x'), junk),
        ),
      },
      { requiredKeys: [] },
    );
    return maybe(
      fc.record({ manifests: maybe(fc.array(maybe(descriptor), { maxLength: 2 })) }),
    ).map(
      (index) =>
        new Map([
          ['index.json', json(index)],
          ['oci-layout', json({ imageLayoutVersion: '1.0.0' })],
          [`blobs/sha256/${hex(manifestDigest)}`, manifestBlob],
          [`blobs/sha256/${hex(configDigest)}`, config],
          [`blobs/sha256/${hex(LAYER_DIGEST)}`, LAYER],
        ]),
    );
  });
});

const isStrings = (value: unknown) =>
  Array.isArray(value) && value.every((item) => typeof item === 'string');

function expectWellTyped(plans: ImagePlan[]): void {
  for (const plan of plans) {
    const config = plan.imageConfig as Record<string, unknown>;
    for (const key of Object.keys(config)) {
      const value = config[key];
      if (key === 'Env') expect(isStrings(value)).toBe(true);
      else if (key === 'Entrypoint' || key === 'Cmd')
        expect(value === null || isStrings(value)).toBe(true);
      else if (key === 'Labels')
        expect(
          value === null ||
            (typeof value === 'object' &&
              !Array.isArray(value) &&
              Object.values(value as object).every((v) => typeof v === 'string')),
        ).toBe(true);
      else expect(typeof value).toBe('string');
    }
    for (const name of plan.names) expect(typeof name).toBe('string');
    for (const layer of plan.layers) expect(layer.diffId).toMatch(/^sha256:[a-f0-9]{64}$/);
  }
}

async function readOrError(files: Map<string, Buffer>): Promise<void> {
  try {
    expectWellTyped((await readImagePlans(memoryArchive(files))).plans);
  } catch (error) {
    expectShortPilotError(error);
  }
}

describe('image metadata under random JSON', () => {
  it('docker archives: well-typed plans or a short PilotError', async () => {
    await fc.assert(fc.asyncProperty(dockerArchive, readOrError), { numRuns: fuzzRuns(400) });
  });

  it('OCI archives: well-typed plans or a short PilotError', async () => {
    await fc.assert(fc.asyncProperty(ociArchive, readOrError), { numRuns: fuzzRuns(400) });
  });
});
