/**
 * evaluateTrust with real GPG simple signatures made by skopeo: every requirement type,
 * keys in each form, lookaside over file:// and HTTP, and each way a signature fails.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PilotError } from '../../../src/core/errors.js';
import { evaluateTrust, readTrustConfig } from '../../../src/store/trust/index.js';
import type { TrustRequest } from '../../../src/store/trust/types.js';
import { type Key, missingTools, request, type SignedImage, SigningFixture } from './fixture.js';

const inCi = process.env.CI === 'true';
if (missingTools && !inCi) console.warn(`skipping the signature tests: ${missingTools}`);

const REGISTRY = '127.0.0.1:5000';
const REPO = 'team/app';
const NAME = `${REGISTRY}/${REPO}`;

describe.skipIf(missingTools !== null && !inCi)('evaluateTrust with real signatures', () => {
  let fx: SigningFixture;
  let trusted: Key;
  let stranger: Key;
  let image: SignedImage; // NAME:1.0, signed by `trusted`
  let other: SignedImage; // another image, signed by `trusted` as NAME:1.0
  let byStranger: SignedImage; // the same manifest as `image`, signed by `stranger`
  let caseNumber = 0;

  beforeAll(async () => {
    fx = new SigningFixture();
    trusted = fx.makeKey('trusted');
    stranger = fx.makeKey('stranger');
    image = fx.signImage('app', 'one', trusted, `${NAME}:1.0`);
    other = fx.signImage('other', 'two', trusted, `${NAME}:1.0`);
    // The same manifest as `image` (same layout content), signed by a key the policy does not know.
    byStranger = fx.signImage('app-stranger', 'one', stranger, `${NAME}:1.0`);
    await fx.serve();
  }, 60_000);
  afterAll(() => fx?.close());

  /** A policy (and registries.d pointing the registry at `lookaside`) for one test. */
  function setup(
    policy: unknown,
    lookaside = `file://${fx.lookaside}`,
    extra: Record<string, unknown> = {},
  ) {
    const dir = join(fx.dir, `case-${++caseNumber}`);
    mkdirSync(join(dir, 'registries.d'), { recursive: true });
    writeFileSync(join(dir, 'policy.json'), JSON.stringify(policy, null, 2));
    writeFileSync(
      join(dir, 'registries.d/site.yaml'),
      `default-docker:\n  lookaside: ${lookaside}\n`,
    );
    return readTrustConfig({
      signaturePolicy: join(dir, 'policy.json'),
      registriesDir: join(dir, 'registries.d'),
      ...extra,
    });
  }
  const signedBy = (fields: Record<string, unknown> = {}) => ({
    type: 'signedBy',
    keyType: 'GPGKeys',
    keyPath: trusted.binary,
    ...fields,
  });
  const scoped = (requirements: unknown[]) => ({
    default: [{ type: 'reject' }],
    transports: { docker: { [NAME]: requirements } },
  });
  const tagged = (tag = '1.0', which = image): TrustRequest =>
    request(which, REGISTRY, REPO, { tag });
  async function rejection(promise: Promise<unknown>): Promise<PilotError> {
    const error = await promise.then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(PilotError);
    return error as PilotError;
  }

  it('insecureAcceptAnything accepts without looking for signatures', async () => {
    const config = setup({ default: [{ type: 'insecureAcceptAnything' }] });
    const fetched: string[] = [];
    const verdict = await evaluateTrust(config, {
      ...tagged('9.9', other),
      fetch: async (url) => {
        fetched.push(url);
        return undefined;
      },
    });
    expect(verdict).toEqual({
      requirement: 'insecureAcceptAnything',
      rule: `default in ${config.policy.file}`,
    });
    expect(fetched).toEqual([]);
  });

  it('reject refuses, naming the policy file, the rule and the image', async () => {
    const config = setup({
      default: [{ type: 'insecureAcceptAnything' }],
      transports: { docker: { [REGISTRY]: [{ type: 'reject' }] } },
    });
    const error = await rejection(evaluateTrust(config, tagged()));
    expect(error.code).toBe('PILOT_TRUST_REJECTED');
    expect(error.message).toContain(config.policy.file);
    expect(error.message).toContain(`rule transports.docker["${REGISTRY}"][0] (reject)`);
    expect(error.message).toContain(`${NAME}:1.0`);
  });

  it('signedBy accepts a signature by the trusted key from a file:// lookaside', async () => {
    fx.publish(REPO, image.digest, [image.signature]);
    const config = setup(scoped([signedBy()]));
    const verdict = await evaluateTrust(config, tagged());
    expect(verdict).toEqual({
      requirement: 'signedBy',
      rule: `transports.docker["${NAME}"] in ${config.policy.file}`,
      keys: [trusted.fingerprint],
      identity: `${NAME}:1.0`,
    });
  });

  it('signedBy reads signatures over HTTP from the lookaside registries.d names', async () => {
    fx.publish(REPO, image.digest, [image.signature]);
    const seen: string[] = [];
    const config = setup(scoped([signedBy()]), `${fx.httpBase}/`);
    const verdict = await evaluateTrust(config, {
      ...tagged(),
      fetch: async (url) => {
        seen.push(url);
        const response = await fetch(url);
        return response.status === 404 ? undefined : Buffer.from(await response.arrayBuffer());
      },
    });
    expect(verdict.keys).toEqual([trusted.fingerprint]);
    const hex = image.digest.slice('sha256:'.length);
    // signature-1 is read, signature-2 is the gap that ends the list.
    expect(seen).toEqual([1, 2].map((n) => `${fx.httpBase}/${REPO}@sha256=${hex}/signature-${n}`));
  });

  it.each([
    ['an armored keyPath', () => ({ keyPath: trusted.armored })],
    [
      'keyPaths with the key second',
      () => ({ keyPath: undefined, keyPaths: [stranger.binary, trusted.armored] }),
    ],
    [
      'keyData',
      () => ({ keyPath: undefined, keyData: readFileSync(trusted.binary).toString('base64') }),
    ],
    [
      'armored keyData',
      () => ({ keyPath: undefined, keyData: readFileSync(trusted.armored).toString('base64') }),
    ],
  ])('signedBy takes the key as %s', async (_name, fields) => {
    fx.publish(REPO, image.digest, [image.signature]);
    const verdict = await evaluateTrust(setup(scoped([signedBy(fields())])), tagged());
    expect(verdict.keys).toEqual([trusted.fingerprint]);
  });

  it('a missing signature is rejected, naming the lookaside URL tried', async () => {
    fx.publish(REPO, image.digest, []);
    const config = setup(scoped([signedBy()]));
    const error = await rejection(evaluateTrust(config, tagged()));
    expect(error.code).toBe('PILOT_TRUST_REJECTED');
    expect(error.message).toContain('(no signature)');
    expect(error.message).toContain(
      `file://${fx.lookaside}/${REPO}@sha256=${image.digest.slice(7)}/signature-1`,
    );
    expect(error.message).toContain(`rule transports.docker["${NAME}"][0] (signedBy)`);
    expect(error.hint).toContain('skopeo copy --sign-by');
  });

  it('a signature by a key the policy does not trust is rejected', async () => {
    expect(byStranger.digest).toBe(image.digest);
    fx.publish(REPO, image.digest, [byStranger.signature]);
    const error = await rejection(evaluateTrust(setup(scoped([signedBy()])), tagged()));
    expect(error.message).toMatch(/signed by key [0-9A-F]{16}, which is not one the policy trusts/);
  });

  it('a trusted signature of another manifest is rejected (digest mismatch)', async () => {
    fx.publish(REPO, image.digest, [other.signature]);
    const error = await rejection(evaluateTrust(setup(scoped([signedBy()])), tagged()));
    expect(error.message).toContain(
      `it signs manifest ${other.digest}, not this image's ${image.digest} (digest mismatch)`,
    );
  });

  it('a tampered signature is rejected', async () => {
    const tampered = Buffer.from(image.signature);
    // The payload (and the signature over it) sit at the end of the message.
    const at = tampered.length - 40;
    tampered[at] = tampered[at]! ^ 0x01;
    fx.publish(REPO, image.digest, [tampered]);
    const error = await rejection(evaluateTrust(setup(scoped([signedBy()])), tagged()));
    expect(error.code).toBe('PILOT_TRUST_REJECTED');
    expect(error.message).toContain('no signature is accepted');
  });

  it('a manifest with its own bytes changed no longer matches any signature', async () => {
    fx.publish(REPO, image.digest, [image.signature]);
    const config = setup(scoped([signedBy()]));
    const changed = Buffer.from(`${image.manifest.toString()} `);
    const error = await rejection(evaluateTrust(config, { ...tagged(), manifest: changed }));
    expect(error.code).toBe('PILOT_DIGEST_MISMATCH');
  });

  it('one good signature among bad ones is enough; the list ends at the first gap', async () => {
    fx.publish(REPO, image.digest, [byStranger.signature, other.signature, image.signature]);
    const verdict = await evaluateTrust(setup(scoped([signedBy()])), tagged());
    expect(verdict.keys).toEqual([trusted.fingerprint]);
  });

  it('every requirement of the list must accept', async () => {
    fx.publish(REPO, image.digest, [image.signature]);
    const both = scoped([
      { type: 'insecureAcceptAnything' },
      signedBy(),
      signedBy({ keyPath: stranger.binary }),
    ]);
    const error = await rejection(evaluateTrust(setup(both), tagged()));
    expect(error.message).toContain(`rule transports.docker["${NAME}"][2] (signedBy)`);
    fx.publish(REPO, image.digest, [image.signature, byStranger.signature]);
    const verdict = await evaluateTrust(setup(both), tagged());
    expect(verdict.requirement).toBe('signedBy');
    expect(verdict.keys).toEqual([trusted.fingerprint, stranger.fingerprint]);
  });

  describe('signedIdentity', () => {
    const digestPull = () => request(image, REGISTRY, REPO, { digest: image.digest });
    it.each([
      // rule, request, accepted?
      ['matchRepoDigestOrExact (default)', undefined, () => tagged('1.0'), true],
      ['matchRepoDigestOrExact (default)', undefined, () => tagged('2.0'), false],
      ['matchRepoDigestOrExact (default)', undefined, digestPull, true],
      ['matchExact', { type: 'matchExact' }, () => tagged('1.0'), true],
      ['matchExact', { type: 'matchExact' }, digestPull, false],
      ['matchRepository', { type: 'matchRepository' }, () => tagged('latest'), true],
      [
        'matchRepository',
        { type: 'matchRepository' },
        () => request(image, REGISTRY, 'team/other', { tag: '1.0' }),
        false,
      ],
      [
        'exactReference',
        { type: 'exactReference', dockerReference: `${NAME}:1.0` },
        () => request(image, 'mirror.example:5000', 'x/y', { tag: '7' }),
        true,
      ],
      [
        'exactReference',
        { type: 'exactReference', dockerReference: `${NAME}:2.0` },
        () => tagged('1.0'),
        false,
      ],
      [
        'exactRepository',
        { type: 'exactRepository', dockerRepository: NAME },
        () => request(image, 'mirror.example', 'y', { tag: '1' }),
        true,
      ],
      [
        'exactRepository',
        { type: 'exactRepository', dockerRepository: `${REGISTRY}/team` },
        () => tagged('1.0'),
        false,
      ],
      [
        'remapIdentity',
        {
          type: 'remapIdentity',
          prefix: 'mirror.example/vendor',
          signedPrefix: `${REGISTRY}/team`,
        },
        () => request(image, 'mirror.example', 'vendor/app', { tag: '1.0' }),
        true,
      ],
      [
        'remapIdentity',
        {
          type: 'remapIdentity',
          prefix: 'mirror.example/vendor',
          signedPrefix: `${REGISTRY}/team`,
        },
        () => request(image, 'mirror.example', 'vendor/app', { tag: '2.0' }),
        false,
      ],
    ])('%s: %#', async (_name, signedIdentity, makeRequest, accepted) => {
      const req = makeRequest();
      fx.publish(req.reference.path, image.digest, [image.signature]);
      const policy = { default: [signedBy(signedIdentity ? { signedIdentity } : {})] };
      const outcome = evaluateTrust(setup(policy, `file://${fx.lookaside}`), req);
      if (accepted) expect((await outcome).identity).toBe(`${NAME}:1.0`);
      else expect((await rejection(outcome)).message).toContain('(identity mismatch)');
    });
  });

  it('sigstoreSigned is refused as not supported', async () => {
    const config = setup(scoped([{ type: 'sigstoreSigned', keyPath: '/x.pub' }]));
    const error = await rejection(evaluateTrust(config, tagged()));
    expect(error.code).toBe('PILOT_TRUST_REJECTED');
    expect(error.message).toContain('sigstoreSigned is not supported by pilot; use signedBy');
  });

  it('a keyType other than GPGKeys is refused', async () => {
    const error = await rejection(
      evaluateTrust(setup(scoped([signedBy({ keyType: 'X509Certificates' })])), tagged()),
    );
    expect(error.message).toContain('keyType "X509Certificates" is not supported');
  });

  it('a key file that does not exist is a policy error naming it', async () => {
    const error = await rejection(
      evaluateTrust(setup(scoped([signedBy({ keyPath: `${fx.dir}/nope.gpg` })])), tagged()),
    );
    expect(error.code).toBe('PILOT_POLICY_INVALID');
    expect(error.message).toContain(`key file ${fx.dir}/nope.gpg does not exist`);
  });

  it('a key file that holds no key is a policy error', async () => {
    writeFileSync(join(fx.dir, 'not-a-key'), 'hello\n');
    const error = await rejection(
      evaluateTrust(setup(scoped([signedBy({ keyPath: join(fx.dir, 'not-a-key') })])), tagged()),
    );
    expect(error.code).toBe('PILOT_POLICY_INVALID');
    expect(error.message).toContain('is not an OpenPGP keyring');
  });

  it('an armored key whose CRC-24 does not match is a policy error', async () => {
    const lines = readFileSync(trusted.armored, 'utf8').split('\n');
    const body = lines.indexOf('') + 1;
    // Swap two base64 characters of the body: still base64, different bytes.
    const line = lines[body]!;
    lines[body] = line[1]! + line[0]! + line.slice(2);
    const damaged = join(fx.dir, 'damaged.asc');
    writeFileSync(damaged, lines.join('\n'));
    const error = await rejection(
      evaluateTrust(setup(scoped([signedBy({ keyPath: damaged })])), tagged()),
    );
    expect(error.code).toBe('PILOT_POLICY_INVALID');
    expect(error.message).toContain('fails its CRC-24 checksum');
  });

  it('without gpgv nothing signed is accepted, and the error says what to install', async () => {
    fx.publish(REPO, image.digest, [image.signature]);
    const config = setup(scoped([signedBy()]), undefined, { gpgv: join(fx.dir, 'no-such-gpgv') });
    const error = await rejection(evaluateTrust(config, tagged()));
    expect(error.code).toBe('PILOT_TOOL_MISSING');
    expect(error.message).toContain('cannot verify image signatures: ');
    expect(error.message).toContain('no-such-gpgv does not exist');
    expect(error.hint).toContain('apt-get install gpgv');
  });

  it('a lookaside that fails (not a 404) is a rejection naming the URL', async () => {
    const config = setup(scoped([signedBy()]));
    const error = await rejection(
      evaluateTrust(config, {
        ...tagged(),
        fetch: async () => {
          throw new Error('connection refused');
        },
      }),
    );
    expect(error.code).toBe('PILOT_TRUST_REJECTED');
    expect(error.message).toContain(`from file://${fx.lookaside}/${REPO}@sha256=`);
    expect(error.message).toContain('connection refused');
  });
});
