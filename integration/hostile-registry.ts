/**
 * A registry that lies, for the bad-input tests of `pilot pull`: it serves one image (an
 * OCI layout unpacked from an example archive) under the distribution API's paths and
 * breaks it in one chosen way. Docker's own `docker-registry` checks what it is given,
 * so a hostile server has to be written; everything it serves is real image data.
 */

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type Fault =
  /** Serves the image as it is. */
  | 'none'
  /** Every layer blob has one byte changed (same size, another digest). */
  | 'blob-digest'
  /** Every layer blob ends halfway, with a Content-Length of the whole. */
  | 'blob-truncated'
  /** Every layer blob has a byte appended (size and digest wrong). */
  | 'blob-longer'
  /** The config blob has one byte changed. */
  | 'config-digest'
  /** Blob requests redirect to themselves, forever. */
  | 'redirect-loop'
  /** The manifest is 50 MB of JSON whitespace around the real one (streamed, never buffered). */
  | 'huge-manifest'
  /** The manifest's body differs from the digest it is asked for (a pin). */
  | 'manifest-digest'
  /** The manifest is not JSON. */
  | 'manifest-garbage';

export interface HostileRegistry {
  /** `127.0.0.1:PORT` */
  host: string;
  /** The image's reference: `127.0.0.1:PORT/hostile/app:1`. */
  ref: string;
  /** The digest of the manifest as it should be. */
  manifestDigest: string;
  /** Blob digests of the layers. */
  layers: string[];
  configDigest: string;
  /** Paths asked for, in order ("GET /v2/…"). */
  requests: string[];
  setFault(fault: Fault): void;
  close(): Promise<void>;
}

const HUGE = 50 * 1024 * 1024;

interface Layout {
  dir: string;
  manifest: Buffer;
  mediaType: string;
  manifestDigest: string;
  configDigest: string;
  layers: string[];
}

function unpack(archive: string): Layout {
  const dir = mkdtempSync(join(tmpdir(), 'pilot-hostile-'));
  const untar = spawnSync('tar', ['-xf', archive, '-C', dir], { encoding: 'utf8' });
  if (untar.status !== 0) throw new Error(`tar -xf ${archive}: ${untar.stderr}`);
  const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as {
    manifests: { digest: string; mediaType?: string }[];
  };
  const top = index.manifests[0];
  if (!top) throw new Error(`${archive}: index.json names no manifest`);
  const manifest = readFileSync(join(dir, 'blobs', top.digest.replace(':', '/')));
  const parsed = JSON.parse(manifest.toString('utf8')) as {
    mediaType?: string;
    config: { digest: string };
    layers: { digest: string }[];
  };
  return {
    dir,
    manifest,
    mediaType: parsed.mediaType ?? top.mediaType ?? 'application/vnd.oci.image.manifest.v1+json',
    manifestDigest: top.digest,
    configDigest: parsed.config.digest,
    layers: parsed.layers.map((layer) => layer.digest),
  };
}

function flipped(data: Buffer): Buffer {
  const copy = Buffer.from(data);
  const at = Math.floor(copy.length / 2);
  copy[at] = (copy[at] ?? 0) ^ 0xff;
  return copy;
}

function sendHuge(res: ServerResponse, manifest: Buffer, mediaType: string): void {
  const pad = HUGE - manifest.length;
  res.writeHead(200, { 'Content-Type': mediaType, 'Content-Length': String(HUGE) });
  const chunk = Buffer.alloc(1024 * 1024, 0x20);
  let left = pad;
  const more = (): void => {
    while (left > 0) {
      const piece = left >= chunk.length ? chunk : chunk.subarray(0, left);
      left -= piece.length;
      if (!res.write(piece)) {
        res.once('drain', more);
        return;
      }
    }
    res.end(manifest);
  };
  res.on('close', () => {
    left = 0;
  });
  more();
}

/** Starts the server on 127.0.0.1 with a free port, serving `archive` (an oci-archive). */
export async function startHostileRegistry(archive: string): Promise<HostileRegistry> {
  const layout = unpack(archive);
  let fault: Fault = 'none';
  const requests: string[] = [];
  const blob = (digest: string): Buffer =>
    readFileSync(join(layout.dir, 'blobs', digest.replace(':', '/')));

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '/';
    requests.push(`${req.method} ${url}`);
    const send = (status: number, body: Buffer | string, type = 'application/json') => {
      const data = typeof body === 'string' ? Buffer.from(body) : body;
      res.writeHead(status, { 'Content-Type': type, 'Content-Length': String(data.length) });
      res.end(req.method === 'HEAD' ? undefined : data);
    };
    if (url === '/v2/' || url === '/v2') return send(200, '{}');
    const manifestMatch = /^\/v2\/hostile\/app\/manifests\/([^/?]+)$/.exec(url);
    if (manifestMatch) {
      const ref = decodeURIComponent(manifestMatch[1]!);
      if (ref !== '1' && ref !== layout.manifestDigest) {
        return send(404, '{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}');
      }
      res.setHeader('Docker-Content-Digest', layout.manifestDigest);
      if (fault === 'huge-manifest' && req.method !== 'HEAD') {
        return sendHuge(res, layout.manifest, layout.mediaType);
      }
      if (fault === 'manifest-garbage') return send(200, 'this is not json {', layout.mediaType);
      if (fault === 'manifest-digest') {
        // Valid JSON, another digest: one more space before the end.
        const text = layout.manifest.toString('utf8');
        return send(200, `${text.replace(/}\s*$/, ' }')}`, layout.mediaType);
      }
      return send(200, layout.manifest, layout.mediaType);
    }
    const blobMatch = /^\/v2\/hostile\/app\/blobs\/(sha256:[0-9a-f]{64})$/.exec(url);
    if (blobMatch) {
      const digest = blobMatch[1]!;
      let data: Buffer;
      try {
        data = blob(digest);
      } catch {
        return send(404, '{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown"}]}');
      }
      const isLayer = layout.layers.includes(digest);
      if (fault === 'redirect-loop') {
        res.writeHead(307, { Location: url, 'Content-Length': '0' });
        return void res.end();
      }
      if (isLayer && fault === 'blob-digest')
        return send(200, flipped(data), 'application/octet-stream');
      if (isLayer && fault === 'blob-longer') {
        return send(200, Buffer.concat([data, Buffer.from('x')]), 'application/octet-stream');
      }
      if (!isLayer && digest === layout.configDigest && fault === 'config-digest') {
        return send(200, flipped(data), 'application/octet-stream');
      }
      if (isLayer && fault === 'blob-truncated') {
        res.writeHead(200, {
          'Content-Type': 'application/octet-stream',
          'Content-Length': String(data.length),
        });
        res.write(data.subarray(0, Math.floor(data.length / 2)));
        // The connection dies mid-body, as a proxy's would.
        setTimeout(() => res.destroy(), 20);
        return;
      }
      return send(200, data, 'application/octet-stream');
    }
    send(404, '{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known"}]}');
  };

  const server: Server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const host = `127.0.0.1:${port}`;
  return {
    host,
    ref: `${host}/hostile/app:1`,
    manifestDigest: layout.manifestDigest,
    layers: layout.layers,
    configDigest: layout.configDigest,
    requests,
    setFault(next) {
      fault = next;
      requests.length = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          rmSync(layout.dir, { recursive: true, force: true });
          resolve();
        });
      }),
  };
}

/** sha256 of `data` as a digest string (for tests that check what was served). */
export function digestOf(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}
