/**
 * Real signatures for the trust tests: GnuPG keys made in a private GNUPGHOME, a
 * one-layer OCI image written here, signed by `skopeo copy --sign-by` (simple signing,
 * the `signature-1` skopeo writes into a dir: image), served as a lookaside store from a
 * directory, through file:// URLs and through a tiny local HTTP server.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeTar } from '../../../src/store/tar-write.js';
import type { TrustRequest } from '../../../src/store/trust/types.js';

function has(command: string): boolean {
  try {
    execFileSync(command, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Why the signing tests cannot run here, or null. Outside CI they are skipped with this. */
export const missingTools =
  ['gpg', 'gpgv', 'skopeo']
    .filter((tool) => !has(tool))
    .map((tool) => `${tool} is not installed`)[0] ?? null;

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

export interface SignedImage {
  manifest: Buffer;
  digest: string; // sha256:…
  signature: Buffer;
}

export interface Key {
  fingerprint: string;
  binary: string; // file with `gpg --export`
  armored: string; // file with `gpg --armor --export`
}

export class SigningFixture {
  readonly dir = mkdtempSync(join(tmpdir(), 'pilot-trust-'));
  readonly home = join(this.dir, 'gnupg');
  readonly lookaside = join(this.dir, 'lookaside');
  private server: Server | undefined;
  httpBase = '';

  constructor() {
    mkdirSync(this.home, { mode: 0o700 });
    mkdirSync(this.lookaside);
  }

  private gpg(args: string[]): Buffer {
    return execFileSync('gpg', ['--batch', '--homedir', this.home, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  }

  makeKey(name: string): Key {
    const uid = `${name} <${name}@pilot.invalid>`;
    this.gpg(['--passphrase', '', '--quick-gen-key', uid, 'ed25519', 'sign', 'never']);
    const colons = this.gpg(['--with-colons', '--list-keys', uid]).toString();
    const fingerprint = /^fpr:+([0-9A-F]{40}):/m.exec(colons)![1]!;
    const binary = join(this.dir, `${name}.gpg`);
    const armored = join(this.dir, `${name}.asc`);
    writeFileSync(binary, this.gpg(['--export', fingerprint]));
    writeFileSync(armored, this.gpg(['--armor', '--export', fingerprint]));
    return { fingerprint, binary, armored };
  }

  /** A one-layer OCI layout whose layer holds /hello with `content`. */
  private writeLayout(name: string, content: string): string {
    const layout = join(this.dir, `layout-${name}`);
    mkdirSync(join(layout, 'blobs/sha256'), { recursive: true });
    const blob = (data: Buffer | string) => {
      writeFileSync(join(layout, 'blobs/sha256', sha256(data)), data);
      return { digest: `sha256:${sha256(data)}`, size: Buffer.byteLength(data) };
    };
    const layer = encodeTar([{ path: 'hello', body: `${content}\n`, mode: 0o644 }]);
    const layerBlob = blob(layer);
    const config = blob(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        config: { Cmd: ['/hello'] },
        rootfs: { type: 'layers', diff_ids: [layerBlob.digest] },
      }),
    );
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layerBlob }],
    });
    const manifestBlob = blob(manifest);
    writeFileSync(
      join(layout, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        manifests: [
          {
            mediaType: 'application/vnd.oci.image.manifest.v1+json',
            ...manifestBlob,
            annotations: { 'org.opencontainers.image.ref.name': 'latest' },
          },
        ],
      }),
    );
    writeFileSync(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    return layout;
  }

  /** Signs a fresh image (layer content `content`) with `key`, claiming `identity`. */
  signImage(name: string, content: string, key: Key, identity: string): SignedImage {
    const layout = this.writeLayout(name, content);
    const out = join(this.dir, `signed-${name}`);
    execFileSync(
      'skopeo',
      [
        'copy',
        '--quiet',
        '--sign-by',
        key.fingerprint,
        '--sign-identity',
        identity,
        `oci:${layout}:latest`,
        `dir:${out}`,
      ],
      { env: { ...process.env, GNUPGHOME: this.home }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const manifest = readFileSync(join(out, 'manifest.json'));
    return {
      manifest,
      digest: `sha256:${sha256(manifest)}`,
      signature: readFileSync(join(out, 'signature-1')),
    };
  }

  /** Publishes `signatures` as signature-1, -2, … of `repository`@`digest` (replacing any). */
  publish(repository: string, digest: string, signatures: Buffer[]): string {
    const dir = join(this.lookaside, `${repository}@${digest.replace(':', '=')}`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    for (const [index, signature] of signatures.entries()) {
      writeFileSync(join(dir, `signature-${index + 1}`), signature);
    }
    return dir;
  }

  /** Serves the lookaside directory over HTTP on 127.0.0.1; counts the requests. */
  async serve(): Promise<string[]> {
    const requests: string[] = [];
    this.server = createServer((request, response) => {
      requests.push(request.url ?? '');
      try {
        const path = decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname);
        if (path.includes('..')) throw new Error('no');
        response.end(readFileSync(join(this.lookaside, path)));
      } catch {
        response.statusCode = 404;
        response.end();
      }
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    this.httpBase = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    return requests;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) =>
      this.server ? this.server.close(() => resolve()) : resolve(),
    );
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** What a pull's fetch does: file:// reads, http(s) GETs; undefined for a missing one. */
export async function fetchUrl(url: string): Promise<Buffer | undefined> {
  if (url.startsWith('file:')) {
    try {
      return readFileSync(new URL(url));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }
  const response = await fetch(url);
  if (response.status === 404) return undefined;
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return Buffer.from(await response.arrayBuffer());
}

export function request(
  image: SignedImage,
  registry: string,
  repository: string,
  pin: { tag?: string; digest?: string },
): TrustRequest {
  return {
    reference: { domain: registry, path: repository, tag: pin.tag, digest: pin.digest },
    manifest: image.manifest,
    manifestDigest: image.digest,
    fetch: fetchUrl,
  };
}
