/**
 * The containers trust policy on a real pull (issue 15): images pushed to Debian's
 * docker-registry by skopeo, one signed with a GPG key made here (`skopeo copy --sign-by`,
 * the signature written to a lookaside directory that registries.d names), pulled back by
 * pilot under a policy.json of the test's. A signed image is stored with the key that
 * verified it (`pilot images`); an unsigned one, one signed by another key, and one the
 * policy rejects outright are refused with the rule named, before any blob is fetched
 * (the registry's own log says so), and the root is as before.
 *
 * Budget: under 30 s (one registry, one key, three pushes).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { examples, skipReason, TestRoot } from './harness.js';
import { REGISTRY_TOOLS, RegistryServer } from './registry-server.js';
import { inCi } from './requirements.js';
import { snapshot } from './store-state.js';

const skip = skipReason();
const missing = [...REGISTRY_TOOLS, 'gpg', 'gpgv'].filter(
  (tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0,
);
if (missing.length > 0 && inCi && skip === '') {
  throw new Error(`trust suite: ${missing.join(', ')} needed`);
}

describe.skipIf(skip !== '' || missing.length > 0)('pull under a trust policy', () => {
  let work: string;
  let registry: RegistryServer;
  /** Where signed images are stored. */
  let root: TestRoot;
  /** Where refusals are tried: it holds none of the pushed image's blobs. */
  let fresh: TestRoot;
  let fingerprint: string;
  let otherKey: string;
  let policy: (rules: Record<string, object[]>) => string[];

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'pilot-trust-pull-'));
    const home = join(work, 'gnupg');
    mkdirSync(home, { mode: 0o700 });
    const gpg = (args: string[]) =>
      execFileSync('gpg', ['--batch', '--homedir', home, ...args], { stdio: 'pipe' });
    const key = (name: string) => {
      const uid = `${name} <${name}@pilot.invalid>`;
      gpg(['--passphrase', '', '--quick-gen-key', uid, 'ed25519', 'sign', 'never']);
      const fpr = /^fpr:+([0-9A-F]{40}):/m.exec(
        gpg(['--with-colons', '--list-keys', uid]).toString(),
      )![1]!;
      const file = join(work, `${name}.asc`);
      writeFileSync(file, gpg(['--armor', '--export', fpr]));
      return { fpr, file };
    };
    const signer = key('signer');
    const stranger = key('stranger');
    fingerprint = signer.fpr;
    otherKey = stranger.file;

    registry = await RegistryServer.start();
    // skopeo writes signatures to the staging lookaside; pilot reads the same directory.
    const lookaside = join(work, 'lookaside');
    const registriesD = join(work, 'registries.d');
    mkdirSync(lookaside);
    mkdirSync(registriesD);
    writeFileSync(
      join(registriesD, 'test.yaml'),
      `docker:\n  ${registry.host}:\n    lookaside: file://${lookaside}\n    sigstore-staging: file://${lookaside}\n`,
    );
    const signEnv = { ...process.env, GNUPGHOME: home };
    const pushSigned = (source: string, pathTag: string) =>
      execFileSync(
        'skopeo',
        [
          '--registries.d',
          registriesD,
          'copy',
          '--quiet',
          '--dest-tls-verify=false',
          '--sign-by',
          fingerprint,
          source,
          `docker://${registry.ref(pathTag)}`,
        ],
        { env: signEnv, stdio: 'pipe' },
      );
    pushSigned(`oci-archive:${join(examples, 'busybox-base.tar')}`, 'pilot/signed:1');
    registry.push(`oci-archive:${join(examples, 'busybox-base.tar')}`, 'pilot/unsigned:1');
    registry.push(`oci-archive:${join(examples, 'busybox-base.tar')}`, 'pilot/closed:1');

    policy = (rules) => {
      const file = join(work, `policy-${Object.keys(rules).length}-${Math.random()}.json`);
      writeFileSync(
        file,
        JSON.stringify({
          default: [{ type: 'reject' }],
          transports: { docker: rules },
        }),
      );
      return ['--signature-policy', file, '--registries.d', registriesD, '--tls-verify=false'];
    };
    root = new TestRoot('trust-pull');
    fresh = new TestRoot('trust-refused');
    // A store that exists, so that "as before" compares something.
    fresh.ok(['load', join(examples, 'hello-delta.tar')]);
  }, 90_000);

  afterAll(() => {
    registry?.stop();
    root?.cleanup();
    fresh?.cleanup();
    if (work?.startsWith(join(tmpdir(), 'pilot-trust-pull-'))) {
      rmSync(work, { recursive: true, force: true });
    }
  });

  const signedBy = (keyPath: string) => [
    { type: 'signedBy', keyType: 'GPGKeys', keyPath: keyPath },
  ];
  const signerKey = () => join(work, 'signer.asc');

  /** A refused pull: exit 1, the rule named, no blob fetched, the root as before. */
  function refused(ref: string, flags: string[], says: RegExp): string {
    const before = snapshot(fresh.dir);
    const mark = registry.mark();
    const r = fresh.pilot(['pull', ref, ...flags]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(says);
    expect(r.stderr).toContain('is rejected by the trust policy');
    expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
    expect(registry.blobsFetched(mark)).toEqual([]);
    expect(snapshot(fresh.dir)).toEqual(before);
    return r.stderr;
  }

  it('stores a signed image with the key that verified it', () => {
    const flags = policy({ [`${registry.host}/pilot`]: signedBy(signerKey()) });
    root.ok(['pull', registry.ref('pilot/signed:1'), ...flags, '--quiet']);
    const images = JSON.parse(root.ok(['images', '--json']).stdout) as {
      names: string[];
      trust: { requirement: string; rule: string; keys?: string[] } | null;
    }[];
    const signed = images.find((image) => image.names.includes(registry.ref('pilot/signed:1')));
    expect(signed?.trust).toMatchObject({
      requirement: 'signedBy',
      keys: [fingerprint],
    });
    expect(signed?.trust?.rule).toContain(`transports.docker["${registry.host}/pilot"]`);
    const table = root.ok(['images']).stdout;
    expect(table).toContain(`signedBy (key ${fingerprint})`);
  });

  it('refuses an unsigned image, naming the rule and where it looked', () => {
    const flags = policy({ [`${registry.host}/pilot`]: signedBy(signerKey()) });
    const message = refused(registry.ref('pilot/unsigned:1'), flags, /signedBy/);
    expect(message).toContain(`transports.docker["${registry.host}/pilot"]`);
    expect(message).toMatch(/no signature|signature-1/);
  });

  it('refuses a signature by a key the policy does not trust', () => {
    const flags = policy({ [`${registry.host}/pilot`]: signedBy(otherKey) });
    refused(registry.ref('pilot/signed:1'), flags, /key/i);
  });

  it('refuses what the policy rejects, naming the default rule', () => {
    const flags = policy({ [`${registry.host}/pilot/signed`]: signedBy(signerKey()) });
    refused(registry.ref('pilot/closed:1'), flags, /rule default\[0\] \(reject\)/);
  });

  it('a broken policy fails before the registry is asked', () => {
    const broken = join(work, 'broken.json');
    writeFileSync(broken, '{"default": [{"type": "acceptEverything"}]}');
    const mark = registry.mark();
    const r = fresh.pilot([
      'pull',
      registry.ref('pilot/signed:1'),
      '--tls-verify=false',
      '--signature-policy',
      broken,
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(broken);
    expect(r.stderr).toMatch(/acceptEverything/);
    expect(registry.requests(mark)).toEqual([]);
  });

  it('register pulls under the same policy', () => {
    const flags = policy({ [`${registry.host}/pilot`]: signedBy(signerKey()) });
    const r = fresh.pilot([
      'register',
      '--container',
      registry.ref('pilot/unsigned:1'),
      '--app',
      '/usr/bin/unsigned-app',
      ...flags,
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('is rejected by the trust policy');
  });
});
