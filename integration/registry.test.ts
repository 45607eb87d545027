/**
 * Pulls from a real registry (Debian's docker-registry on 127.0.0.1, plain HTTP, basic
 * auth and TLS with a CA made here), images pushed with skopeo. What was fetched is
 * read from the registry's own access log: a pull fetches only what the store lacks.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildArchive, cli, examples, skipReason, TestRoot } from './harness.js';
import { REGISTRY_TOOLS, RegistryServer } from './registry-server.js';
import { inCi } from './requirements.js';

const skip = skipReason();
const missingTools = REGISTRY_TOOLS.filter(
  (tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0,
);
if (missingTools.length > 0 && inCi && skip === '') {
  throw new Error(`registry suite: ${missingTools.join(', ')} needed`);
}

const OCI_ACCEPT = 'application/vnd.oci.image.manifest.v1+json';
// The host's own trust policy is the trust suite's business: these pulls accept anything.
const policyDir = mkdtempSync(join(tmpdir(), 'pilot-registry-policy-'));
const acceptPolicy = join(policyDir, 'policy.json');
writeFileSync(acceptPolicy, '{"default": [{"type": "insecureAcceptAnything"}]}\n');
const insecure = ['--tls-verify=false', '--signature-policy', acceptPolicy];

interface ImageFacts {
  manifestDigest: string;
  config: string;
  layers: string[];
  diffIds: string[];
}

async function facts(registry: RegistryServer, path: string, tag: string): Promise<ImageFacts> {
  const base = `http://${registry.host}/v2/${path}`;
  const response = await fetch(`${base}/manifests/${tag}`, { headers: { accept: OCI_ACCEPT } });
  const manifest = await response.json();
  const config = await (await fetch(`${base}/blobs/${manifest.config.digest}`)).json();
  return {
    manifestDigest: response.headers.get('docker-content-digest')!,
    config: manifest.config.digest,
    layers: manifest.layers.map((l: { digest: string }) => l.digest),
    diffIds: config.rootfs.diff_ids,
  };
}

function layerPresent(root: TestRoot, diffId: string): boolean {
  return existsSync(join(root.dir, 'var/lib/pilot/layers', diffId.slice(7)));
}

describe.skipIf(skip !== '' || missingTools.length > 0)('pull from a registry', () => {
  let work: string;
  let plain: RegistryServer;
  let app: ImageFacts;
  let base: ImageFacts;
  const roots: TestRoot[] = [];
  const newRoot = () => {
    const root = new TestRoot('registry');
    roots.push(root);
    return root;
  };

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'pilot-registry-images-'));
    // The app image: the busybox base's own layer (byte for byte) under the hello layer.
    const baseLayer = join(work, 'base-layer.tar');
    const unpacked = join(work, 'base');
    mkdirSync(unpacked);
    spawnSync('tar', ['-xf', join(examples, 'busybox-base.tar'), '-C', unpacked]);
    const index = JSON.parse(spawnSync('cat', [join(unpacked, 'index.json')]).stdout.toString());
    const blob = (digest: string) => join(unpacked, 'blobs/sha256', digest.slice(7));
    const manifest = JSON.parse(
      spawnSync('cat', [blob(index.manifests[0].digest)]).stdout.toString(),
    );
    const gunzip = spawnSync('sh', [
      '-c',
      `gzip -dc "$0" > "$1"`,
      blob(manifest.layers[0].digest),
      baseLayer,
    ]);
    expect(gunzip.status).toBe(0);
    buildArchive(
      join(work, 'app.tar'),
      'localhost/pilot/registry-app:1',
      { Env: ['PATH=/usr/bin:/bin'], Cmd: ['/usr/bin/hello'] },
      [baseLayer, join(examples, 'layers/hello-delta')],
    );
    plain = await RegistryServer.start();
    plain.push(`oci-archive:${join(examples, 'busybox-base.tar')}`, 'pilot/base:1');
    plain.push(`oci-archive:${join(work, 'app.tar')}`, 'pilot/app:1');
    app = await facts(plain, 'pilot/app', '1');
    base = await facts(plain, 'pilot/base', '1');
    expect(app.diffIds[0]).toBe(base.diffIds[0]);
  }, 60_000);

  afterAll(() => {
    plain?.stop();
    for (const root of roots) root.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
    rmSync(policyDir, { recursive: true, force: true });
  });

  it('pulls an app whose base is present: only its own layer, config and manifest', () => {
    const root = newRoot();
    root.ok(['pull', plain.ref('pilot/base:1'), ...insecure, '--quiet']);
    const mark = plain.mark();
    const r = root.ok(['pull', plain.ref('pilot/app:1'), ...insecure, '--json']);
    const [result] = JSON.parse(r.stdout);
    expect(result).toMatchObject({
      id: app.config,
      from: 'registry',
      fetchedLayers: 1,
      newLayers: 1,
      reusedLayers: 1,
    });
    expect(plain.blobsFetched(mark).sort()).toEqual([app.config, app.layers[1]].sort());
    expect(plain.manifestsFetched(mark)).toEqual(['1']);
    // Pulled again: the manifest only (the config is in the store).
    const again = plain.mark();
    root.ok(['pull', plain.ref('pilot/app:1'), ...insecure, '--quiet']);
    expect(plain.blobsFetched(again)).toEqual([]);
    const images = JSON.parse(root.ok(['images', '--json']).stdout);
    const pulled = images.find((i: { id: string }) => i.id === app.config);
    expect(pulled).toMatchObject({
      names: [plain.ref('pilot/app:1')],
      pulled: { ref: plain.ref('pilot/app:1'), digest: app.manifestDigest },
      trust: { requirement: 'insecureAcceptAnything', rule: `default in ${acceptPolicy}` },
    });
    expect(root.ok(['images']).stdout).toMatch(/TRUST/);
    root.ok(['register', '--container', plain.ref('pilot/app:1'), '--app', '/usr/bin/hello']);
    expect(root.run('/usr/bin/hello', ['x']).stdout).toBe('hello from pilot\n[x]\n');
  });

  it('pulls by digest, and refuses a digest the registry does not have', () => {
    const root = newRoot();
    const pinned = `${plain.host}/pilot/app@${app.manifestDigest}`;
    const r = root.ok(['pull', pinned, ...insecure, '--quiet']);
    expect(r.stderr).toBe('');
    expect(JSON.parse(root.ok(['images', '--json']).stdout)[0]).toMatchObject({
      id: app.config,
      names: [pinned],
    });
    const wrong = root.pilot([
      'pull',
      `${plain.host}/pilot/app@sha256:${'0'.repeat(64)}`,
      ...insecure,
    ]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/has no manifest pilot\/app@sha256:0{64}/);
  });

  it("picks the host's platform from a multi-arch index, and names the platforms when none fits", async () => {
    plain.push(`oci-archive:${join(work, 'app.tar')}`, 'pilot/multi:amd64');
    plain.push(`oci-archive:${join(examples, 'busybox-base.tar')}`, 'pilot/multi:other');
    const entry = (digest: string, architecture: string) => ({
      mediaType: OCI_ACCEPT,
      digest,
      size: 0,
      platform: { os: 'linux', architecture },
    });
    const sizeOf = async (digest: string) =>
      Number(
        (
          await fetch(`http://${plain.host}/v2/pilot/multi/manifests/${digest}`, {
            method: 'HEAD',
            headers: { accept: OCI_ACCEPT },
          })
        ).headers.get('content-length'),
      );
    const put = async (tag: string, manifests: object[]) => {
      const response = await fetch(`http://${plain.host}/v2/pilot/multi/manifests/${tag}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/vnd.oci.image.index.v1+json' },
        body: JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.index.v1+json',
          manifests,
        }),
      });
      expect(response.status, await response.text()).toBe(201);
    };
    const appEntry = {
      ...entry(app.manifestDigest, 'amd64'),
      size: await sizeOf(app.manifestDigest),
    };
    const baseEntry = {
      ...entry(base.manifestDigest, 'arm64'),
      size: await sizeOf(base.manifestDigest),
    };
    await put('1', [baseEntry, appEntry]);
    await put('foreign', [
      baseEntry,
      { ...appEntry, platform: { os: 'linux', architecture: 's390x' } },
    ]);
    const root = newRoot();
    const mark = plain.mark();
    root.ok(['pull', plain.ref('pilot/multi:1'), ...insecure, '--quiet']);
    expect(plain.manifestsFetched(mark)).toEqual(['1', app.manifestDigest]);
    expect(JSON.parse(root.ok(['images', '--json']).stdout)[0].id).toBe(app.config);
    const none = root.pilot(['pull', plain.ref('pilot/multi:foreign'), ...insecure]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('has no image for linux/amd64; it has linux/arm64, linux/s390x');
  });

  it('register pulls a missing fully qualified image; --pull=never and short names do not', () => {
    const root = newRoot();
    const never = root.pilot([
      'register',
      '--container',
      plain.ref('pilot/app:1'),
      '--app',
      '/usr/bin/hello',
      '--pull=never',
    ]);
    expect(never.code).toBe(1);
    expect(never.stderr).toMatch(/is not in the store/);
    const short = root.pilot(['register', '--container', 'pilot/app:1', '--app', '/usr/bin/hello']);
    expect(short.code).toBe(1);
    expect(short.stderr).toMatch(/is not in the store/);
    // A registration refused anyway (a file in the way) asks the registry nothing.
    const inTheWay = join(root.dir, 'usr/bin/busy');
    mkdirSync(join(root.dir, 'usr/bin'), { recursive: true });
    writeFileSync(inTheWay, 'a real tool\n');
    const refusedMark = plain.mark();
    const refused = root.pilot([
      'register',
      '--container',
      plain.ref('pilot/app:1'),
      '--app',
      '/usr/bin/busy',
      ...insecure,
    ]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/exists and is not a pilot app link/);
    expect(plain.requests(refusedMark)).toEqual([]);
    const mark = plain.mark();
    root.ok([
      'register',
      '--container',
      plain.ref('pilot/app:1'),
      '--app',
      '/usr/bin/hello',
      ...insecure,
    ]);
    expect(plain.blobsFetched(mark).sort()).toEqual([app.config, ...app.layers].sort());
    expect(root.run('/usr/bin/hello').stdout).toBe('hello from pilot\n');
  });

  it('a pull killed mid-blob leaves nothing half-done; the rerun fetches only what is missing', async () => {
    // A proxy that passes everything through but stalls the base layer's blob halfway.
    const stalled: http.ServerResponse[] = [];
    let stalling = false;
    const proxy = http.createServer((req, res) => {
      const upstream = http.request(
        {
          host: '127.0.0.1',
          port: Number(plain.host.split(':')[1]),
          path: req.url,
          method: req.method,
          headers: req.headers,
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          if (!req.url?.endsWith(app.layers[0]!)) {
            answer.pipe(res);
            return;
          }
          let sent = 0;
          answer.on('data', (chunk: Buffer) => {
            if (sent >= 64 * 1024) return;
            res.write(chunk.subarray(0, 64 * 1024 - sent));
            sent += chunk.length;
            if (sent >= 64 * 1024) {
              stalling = true;
              stalled.push(res);
            }
          });
        },
      );
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const port = (proxy.address() as { port: number }).port;
    const root = newRoot();
    try {
      const child = spawn(
        process.execPath,
        [cli, 'pull', `127.0.0.1:${port}/pilot/app:1`, ...insecure, '--quiet'],
        {
          env: root.env(),
          stdio: 'ignore',
        },
      );
      const deadline = Date.now() + 20_000;
      while (!(stalling && layerPresent(root, app.diffIds[1]!)) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 25));
      }
      expect(stalling).toBe(true);
      expect(layerPresent(root, app.diffIds[1]!)).toBe(true);
      child.kill('SIGKILL');
      await new Promise((resolve) => child.on('exit', resolve));
    } finally {
      for (const res of stalled) res.destroy();
      proxy.close();
    }
    const store = join(root.dir, 'var/lib/pilot');
    expect(readdirSync(join(store, 'images')).filter((e) => e.endsWith('.json'))).toEqual([]);
    expect(readdirSync(join(store, 'refs'))).toEqual([]);
    expect(layerPresent(root, app.diffIds[0]!)).toBe(false);
    expect(readdirSync(join(store, 'tmp')).length).toBeGreaterThan(0);
    const mark = plain.mark();
    root.ok(['pull', plain.ref('pilot/app:1'), ...insecure, '--quiet']);
    expect(plain.blobsFetched(mark).sort()).toEqual([app.config, app.layers[0]].sort());
    // The killed pull's temp dir is gone.
    expect(readdirSync(join(store, 'tmp'))).toEqual([]);
    root.ok(['register', '--container', plain.ref('pilot/app:1'), '--app', '/usr/bin/hello']);
    expect(root.run('/usr/bin/hello').stdout).toBe('hello from pilot\n');
  });

  describe('basic auth', () => {
    let secured: RegistryServer;
    const auth = { user: 'pilot', password: 's3cret' };
    beforeAll(async () => {
      secured = await RegistryServer.start({ auth });
      secured.push(`oci-archive:${join(examples, 'busybox-base.tar')}`, 'pilot/base:1');
    });
    afterAll(() => secured?.stop());

    it('asks for a login, refuses a wrong password, takes --creds and auth files', () => {
      const root = newRoot();
      const ref = secured.ref('pilot/base:1');
      // No login anywhere: no auth file under this HOME or runtime dir.
      const noLogin = {
        REGISTRY_AUTH_FILE: join(work, 'none.json'),
        HOME: work,
        XDG_RUNTIME_DIR: work,
      };
      const anonymous = root.pilot(['pull', ref, ...insecure], { env: root.env(noLogin) });
      expect(anonymous.code).toBe(1);
      expect(anonymous.stderr).toContain(
        `${secured.host} wants a login to pull ${secured.host}/pilot/base`,
      );
      const wrong = root.pilot(['pull', ref, ...insecure, '--creds', 'pilot:wrong']);
      expect(wrong.code).toBe(1);
      expect(wrong.stderr).toContain(`${secured.host} refused the login of "pilot" (from --creds)`);
      expect(wrong.stderr).not.toMatch(/internal error| {4}at /);
      expect(existsSync(join(root.dir, 'var/lib/pilot/images'))).toBe(false);
      root.ok(['pull', ref, ...insecure, '--creds', `${auth.user}:${auth.password}`, '--quiet']);

      const authFile = join(work, 'auth.json');
      const encoded = Buffer.from(`${auth.user}:${auth.password}`).toString('base64');
      writeFileSync(authFile, JSON.stringify({ auths: { [secured.host]: { auth: encoded } } }));
      const viaEnv = newRoot();
      const fromEnv = viaEnv.pilot(['pull', ref, ...insecure, '--quiet'], {
        env: viaEnv.env({ ...noLogin, REGISTRY_AUTH_FILE: authFile }),
      });
      expect(fromEnv.code, fromEnv.stderr).toBe(0);
      const viaFlag = newRoot();
      const fromFlag = viaFlag.pilot(
        ['pull', ref, ...insecure, '--authfile', authFile, '--quiet'],
        {
          env: viaFlag.env(noLogin),
        },
      );
      expect(fromFlag.code, fromFlag.stderr).toBe(0);
    });
  });

  describe('TLS', () => {
    let tls: RegistryServer;
    beforeAll(async () => {
      tls = await RegistryServer.start({ tls: true });
      tls.push(`oci-archive:${join(examples, 'busybox-base.tar')}`, 'pilot/base:1');
    });
    afterAll(() => tls?.stop());

    it('verifies the certificate with --cert-dir, and says what to do without it', () => {
      const root = newRoot();
      const ref = tls.ref('pilot/base:1');
      const unverified = root.pilot(['pull', ref]);
      expect(unverified.code).toBe(1);
      expect(unverified.stderr).toContain(`cannot verify the TLS certificate of ${tls.host}`);
      expect(unverified.stderr).toContain('--cert-dir');
      expect(unverified.stderr).toContain('--tls-verify=false');
      root.ok(['pull', ref, '--cert-dir', tls.certDir!, '--quiet']);
      const other = newRoot();
      other.ok(['pull', ref, '--tls-verify=false', '--quiet']);
    });
  });
});
