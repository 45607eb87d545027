import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parsePullReference } from '../../../src/store/docker-reference.js';
import { RegistryClient, sha256Of } from '../../../src/store/registry/client.js';
import { type FakeRegistry, serve, startFakeRegistry } from './fake-registry.js';

let registry: FakeRegistry;
let dir: string;
beforeEach(async () => {
  registry = await startFakeRegistry();
  dir = mkdtempSync(join(tmpdir(), 'pilot-client-'));
});
afterEach(async () => {
  await registry.close();
  rmSync(dir, { recursive: true, force: true });
});

const client = (options: ConstructorParameters<typeof RegistryClient>[1] = {}) =>
  new RegistryClient(parsePullReference(`${registry.host}/team/app:1`), {
    tlsVerify: false,
    ...options,
  });

const blobPath = (digest: string) => `/v2/team/app/blobs/${digest}`;

describe('RegistryClient', () => {
  it('answers a bearer challenge once per scope, sending the login to the token service', async () => {
    const manifest = Buffer.from('{"schemaVersion":2}');
    registry.routes.set('/v2/', (_req, res) => {
      res.writeHead(401, {
        'www-authenticate': `Bearer realm="http://${registry.host}/token",service="fake"`,
      });
      res.end();
    });
    registry.routes.set('/token', (req, res) => {
      const ok = req.headers.authorization === `Basic ${Buffer.from('u:p').toString('base64')}`;
      res.writeHead(ok ? 200 : 401);
      res.end(ok ? JSON.stringify({ access_token: 'T1' }) : '');
    });
    registry.routes.set('/v2/team/app/manifests/1', (req, res) => {
      if (req.headers.authorization !== 'Bearer T1') {
        res.writeHead(401);
        return res.end();
      }
      serve(manifest)(req, res);
    });
    const c = client({ creds: 'u:p' });
    expect((await c.getManifest('1')).digest).toBe(sha256Of(manifest));
    await c.getManifest('1');
    const tokenCalls = registry.requests.filter((r) => r.path.startsWith('/token'));
    expect(tokenCalls).toHaveLength(1);
    expect(tokenCalls[0]!.path).toContain('scope=repository%3Ateam%2Fapp%3Apull');
    expect(tokenCalls[0]!.path).toContain('service=fake');
    await expect(client({ creds: 'u:wrong' }).getManifest('1')).rejects.toThrow(
      `${registry.host} refused the login of "u" (from --creds) for ${registry.host}/team/app`,
    );
  });

  it('verifies a pinned manifest and the Docker-Content-Digest against the bytes', async () => {
    const bytes = Buffer.from('{"schemaVersion":2}');
    const pin = `sha256:${'1'.repeat(64)}`;
    registry.routes.set(`/v2/team/app/manifests/${pin}`, serve(bytes));
    await expect(client().getManifest(pin)).rejects.toMatchObject({
      code: 'PILOT_DIGEST_MISMATCH',
      message: expect.stringContaining(`has the digest ${sha256Of(bytes)}, not ${pin}`),
    });
    registry.routes.set('/v2/team/app/manifests/1', serve(bytes, { 'docker-content-digest': pin }));
    await expect(client().getManifest('1')).rejects.toMatchObject({
      code: 'PILOT_DIGEST_MISMATCH',
    });
  });

  it('refuses a 50 MB manifest while it streams, without reading it all', async () => {
    let sent = 0;
    let stopped = false;
    registry.routes.set('/v2/team/app/manifests/1', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' });
      const chunk = Buffer.alloc(256 * 1024, 0x20);
      const write = () => {
        while (sent < 50 * 1024 * 1024 && !stopped) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', write);
        }
        res.end();
      };
      res.on('close', () => {
        stopped = true;
      });
      write();
    });
    await expect(client().getManifest('1')).rejects.toThrow(/at most 4194304 bytes/);
    expect(sent).toBeLessThan(20 * 1024 * 1024);
  });

  it('stops a redirect loop, and never sends the login to another host', async () => {
    const loop = `sha256:${'2'.repeat(64)}`;
    registry.routes.set(blobPath(loop), (_req, res) => {
      res.writeHead(307, { location: blobPath(loop) });
      res.end();
    });
    await expect(client().getBlob({ digest: loop, size: 5 }, 100, 'the config')).rejects.toThrow(
      /more than 10 redirects/,
    );

    const storage = await startFakeRegistry();
    try {
      const data = Buffer.from('hello');
      const digest = sha256Of(data);
      storage.routes.set('/blob', serve(data));
      registry.routes.set('/v2/', (_req, res) => {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="x"' });
        res.end();
      });
      registry.routes.set(blobPath(digest), (_req, res) => {
        res.writeHead(307, { location: `http://localhost:${storage.port}/blob` });
        res.end();
      });
      const file = join(dir, 'blob');
      await client({ creds: 'u:p' }).downloadBlob({ digest, size: 5 }, file, 'layer 1/1');
      expect(registry.requests.find((r) => r.path === blobPath(digest))?.authorization).toMatch(
        /^Basic /,
      );
      expect(storage.requests[0]!.authorization).toBeUndefined();
    } finally {
      await storage.close();
    }
  });

  it.each([
    [
      'a blob with the wrong digest',
      Buffer.from('hello'),
      5,
      /has the digest sha256:2cf24dba.*, not sha256:3{64}/,
    ],
    [
      'a blob longer than its descriptor',
      Buffer.from('hello!'),
      5,
      /is longer than the 5 bytes its manifest gives/,
    ],
    ['a truncated blob', Buffer.from('hel'), 5, /ended after 3 of the 5 bytes/],
  ])('refuses %s, naming the blob and the registry', async (_what, body, size, why) => {
    const digest = `sha256:${'3'.repeat(64)}`;
    registry.routes.set(blobPath(digest), serve(body));
    const error = await client()
      .downloadBlob({ digest, size }, join(dir, 'blob'), 'layer 1/2 of r')
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'PILOT_DIGEST_MISMATCH' });
    expect((error as Error).message).toMatch(why);
    expect((error as Error).message).toContain('layer 1/2 of r');
    expect((error as Error).message).toContain(registry.host);
  });

  it('says the registry lacks an image, quoting its error', async () => {
    await expect(client().getManifest('nope')).rejects.toMatchObject({
      code: 'PILOT_IMAGE_UNKNOWN',
      message: `${registry.host} has no manifest team/app:nope: MANIFEST_UNKNOWN manifest unknown`,
    });
    expect(readdirSync(dir)).toEqual([]);
  });

  it('fetches URLs for the trust policy: absent is undefined', async () => {
    registry.routes.set('/sigstore/sig-1', serve(Buffer.from('SIG')));
    const c = client();
    expect((await c.fetchUrl(`http://${registry.host}/sigstore/sig-1`))?.toString()).toBe('SIG');
    expect(await c.fetchUrl(`http://${registry.host}/sigstore/sig-2`)).toBeUndefined();
    expect(await c.fetchUrl(`file://${dir}/none`)).toBeUndefined();
  });
});
