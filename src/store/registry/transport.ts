/**
 * HTTP(S) for the registry client, on node:http/node:https: TLS with the system CAs
 * plus a containers-style certificate directory (`*.crt` CAs, `*.cert`/`*.key` client
 * pairs; `--cert-dir D`, else the containers tools' certs.d directories of HOST[:PORT],
 * ../containers-config.ts), redirects (blob GETs go to storage elsewhere; the
 * Authorization header never follows to another host), an idle timeout, and bodies
 * read within a limit that is enforced while streaming.
 */
import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { rootCertificates } from 'node:tls';
import { errnoOf, PilotError } from '../../core/errors.js';
import { quoteExcerpt } from '../../core/excerpt.js';
import { certDirSearch, containersDirs } from '../containers-config.js';

export const SYSTEM_CA_FILE = '/etc/ssl/certs/ca-certificates.crt';
/** Redirects one request may follow (Go's http client, which the containers tools use, stops at 10). */
export const MAX_REDIRECTS = 10;
/** Idle time after which a request is given up. */
export const DEFAULT_TIMEOUT_MS = 60_000;

export interface TlsOptions {
  /** false: the registry's certificate is not checked, and plain HTTP is tried when HTTPS fails. */
  verify: boolean;
  /** `--cert-dir D`: CAs and client certificates of the registry (replaces the default dirs). */
  certDir?: string | undefined;
}

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The URL that answered (after redirects). */
  url: URL;
  body: Readable;
}

export interface RequestOptions {
  method?: 'GET' | 'HEAD';
  headers?: Record<string, string>;
  /** Sent to the first host only; dropped when a redirect leads elsewhere. */
  authorization?: string | undefined;
}

interface TlsMaterial {
  ca: string[];
  cert?: Buffer;
  key?: Buffer;
}

function listDirSafe(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch (error) {
    if (errnoOf(error) === 'ENOENT' || errnoOf(error) === 'ENOTDIR') return [];
    throw error;
  }
}

/** System CAs plus what the cert dirs give for `hostPort`. */
export function loadTlsMaterial(hostPort: string, certDir?: string): TlsMaterial {
  let system: string[];
  try {
    system = [readFileSync(SYSTEM_CA_FILE, 'utf8')];
  } catch {
    system = [...rootCertificates];
  }
  const material: TlsMaterial = { ca: system };
  const dirs = certDir !== undefined ? [certDir] : certDirSearch(containersDirs(), hostPort);
  if (certDir !== undefined && listDirSafe(certDir).length === 0) {
    throw new PilotError('PILOT_USAGE', `--cert-dir ${certDir} is missing or empty`, {
      hint: "give a directory with the registry's CA as NAME.crt (and a client pair NAME.cert + NAME.key if it wants one)",
    });
  }
  for (const dir of dirs) {
    for (const name of listDirSafe(dir)) {
      const file = join(dir, name);
      if (name.endsWith('.crt')) material.ca.push(readFileSync(file, 'utf8'));
      else if (name.endsWith('.cert')) {
        const keyFile = join(dir, `${name.slice(0, -5)}.key`);
        let key: Buffer;
        try {
          key = readFileSync(keyFile);
        } catch {
          throw new PilotError('PILOT_USAGE', `${file} has no key ${keyFile}`, {
            hint: 'a client certificate NAME.cert needs its key NAME.key beside it',
          });
        }
        material.cert = readFileSync(file);
        material.key = key;
      } else if (name.endsWith('.key')) {
        const certFile = join(dir, `${name.slice(0, -4)}.cert`);
        if (!listDirSafe(dir).includes(`${name.slice(0, -4)}.cert`)) {
          throw new PilotError('PILOT_USAGE', `${file} has no certificate ${certFile}`, {
            hint: 'a client key NAME.key needs its certificate NAME.cert beside it',
          });
        }
      }
    }
  }
  return material;
}

/** TLS failures that a CA (--cert-dir) or --tls-verify=false would settle. */
const CERT_ERRORS = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
]);

export function isCertificateError(error: unknown): boolean {
  return CERT_ERRORS.has(errnoOf(error) ?? '');
}

/** An error before any answer: connection refused, DNS, TLS handshake, timeout. */
export class ConnectError extends Error {
  constructor(
    readonly url: URL,
    readonly original: unknown,
  ) {
    super(`${url.origin}: ${(original as Error).message}`);
  }
}

/** One HTTP(S) client for one pull: TLS material per host, read once. */
export class Transport {
  private readonly material = new Map<string, TlsMaterial>();

  constructor(
    /** `host[:port]` whose --tls-verify and --cert-dir these are. */
    readonly registryHost: string,
    readonly tls: TlsOptions,
    readonly timeoutMs = DEFAULT_TIMEOUT_MS,
  ) {}

  private tlsFor(url: URL): https.RequestOptions {
    const host = url.host;
    const ours = host === this.registryHost;
    let material = this.material.get(host);
    if (!material) {
      material = loadTlsMaterial(host, ours ? this.tls.certDir : undefined);
      this.material.set(host, material);
    }
    return {
      ca: material.ca,
      ...(material.cert ? { cert: material.cert, key: material.key } : {}),
      rejectUnauthorized: !(ours && !this.tls.verify),
    };
  }

  /** One request, following redirects; the caller reads (or destroys) the body. */
  async request(url: URL, options: RequestOptions = {}): Promise<HttpResponse> {
    let current = url;
    let authorization = options.authorization;
    for (let hop = 0; ; hop++) {
      const response = await this.once(current, options, authorization);
      const location = response.headers.location;
      if (response.status < 300 || response.status >= 400 || response.status === 304 || !location) {
        return response;
      }
      response.body.resume();
      if (hop >= MAX_REDIRECTS) {
        throw new PilotError(
          'PILOT_PULL_FAILED',
          `${url.href}: more than ${MAX_REDIRECTS} redirects (the last to ${quoteExcerpt(location)})`,
          { hint: 'the registry or its storage redirects in a loop; tell its operator' },
        );
      }
      const next = new URL(location, current);
      if (next.protocol !== 'https:' && next.protocol !== 'http:') {
        throw new PilotError(
          'PILOT_PULL_FAILED',
          `${url.href}: redirected to ${quoteExcerpt(location)}`,
          {
            hint: 'the registry redirects to something that is not HTTP(S); tell its operator',
          },
        );
      }
      // Credentials for the registry are not the storage's business.
      if (next.host !== current.host) authorization = undefined;
      current = next;
    }
  }

  private once(
    url: URL,
    options: RequestOptions,
    authorization: string | undefined,
  ): Promise<HttpResponse> {
    const headers: Record<string, string> = {
      'user-agent': 'pilot',
      ...options.headers,
      ...(authorization ? { authorization } : {}),
    };
    const secure = url.protocol === 'https:';
    const requestOptions: https.RequestOptions = {
      method: options.method ?? 'GET',
      headers,
      ...(secure ? this.tlsFor(url) : {}),
    };
    return new Promise((resolve, reject) => {
      const request = (secure ? https : http).request(url, requestOptions, (response) => {
        response.setTimeout(this.timeoutMs, () =>
          response.destroy(
            new PilotError(
              'PILOT_REGISTRY_UNREACHABLE',
              `${url.href}: no data for ${this.timeoutMs / 1000} s`,
              { hint: 'the registry stopped sending; try again' },
            ),
          ),
        );
        resolve({
          status: response.statusCode ?? 0,
          headers: response.headers,
          url,
          body: response,
        });
      });
      request.setTimeout(this.timeoutMs, () =>
        request.destroy(
          Object.assign(new Error(`no answer in ${this.timeoutMs / 1000} s`), {
            code: 'ETIMEDOUT',
          }),
        ),
      );
      request.on('error', (error) => reject(new ConnectError(url, error)));
      request.end();
    });
  }
}

function tooBig(what: string, url: URL, size: number | string, limit: number): PilotError {
  return new PilotError(
    'PILOT_IMAGE_INVALID',
    `${what} from ${url.href} has ${size} bytes; pilot reads manifests and configs of at most ${limit} bytes`,
    {
      hint: 'a real manifest or config has a few kilobytes: the registry serves something else; tell its operator',
    },
  );
}

/** The whole body, refused as soon as it passes `limit` bytes (never buffered past it). */
export async function readBody(
  response: HttpResponse,
  limit: number,
  what: string,
): Promise<Buffer> {
  const declared = Number(response.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    response.body.destroy();
    throw tooBig(what, response.url, declared, limit);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of response.body) {
      size += (chunk as Buffer).length;
      if (size > limit) throw tooBig(what, response.url, `more than ${limit}`, limit);
      chunks.push(chunk as Buffer);
    }
  } finally {
    response.body.destroy();
  }
  return Buffer.concat(chunks);
}
