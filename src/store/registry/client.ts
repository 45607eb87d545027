/**
 * One registry, one repository, one pull: finds the scheme (HTTPS; plain HTTP too when
 * --tls-verify=false), answers the registry's challenge (Basic, or a Bearer token per
 * scope, cached for the pull), and GETs manifests and blobs. Every blob is streamed
 * through sha256 into a file and refused on the first byte past its size.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { errnoOf, PilotError } from '../../core/errors.js';
import { escapeExcerpt } from '../../core/excerpt.js';
import { apiHost, type DockerReference } from '../docker-reference.js';
import { type Credentials, findCredentials } from './auth-files.js';
import { digestMismatch, streamBlob } from './blob.js';
import { type Challenge, parseChallenges, pickChallenge } from './challenge.js';
import { MANIFEST_ACCEPT, MAX_MANIFEST_BYTES } from './manifest.js';
import { basicAuthorization, requestToken } from './token.js';
import {
  ConnectError,
  type HttpResponse,
  isCertificateError,
  readBody,
  Transport,
} from './transport.js';

export interface ClientOptions {
  /** false: certificates are not checked and plain HTTP is tried (`--tls-verify=false`). */
  tlsVerify?: boolean | undefined;
  certDir?: string | undefined;
  creds?: string | undefined;
  authFile?: string | undefined;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number | undefined;
}

export interface FetchedManifest {
  bytes: Buffer;
  contentType: string | undefined;
  digest: string;
}

export function sha256Of(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export class RegistryClient {
  readonly transport: Transport;
  /** `https://host` or `http://host` once connected. */
  private base: URL | undefined;
  private challenge: Challenge | undefined;
  private readonly tokens = new Map<string, string>();
  private credentials: Credentials | undefined | null = null;

  constructor(
    readonly reference: DockerReference,
    readonly options: ClientOptions = {},
  ) {
    this.transport = new Transport(
      apiHost(reference.domain),
      { verify: options.tlsVerify ?? true, certDir: options.certDir },
      options.timeoutMs,
    );
  }

  get registry(): string {
    return this.reference.domain;
  }

  private login(): Credentials | undefined {
    if (this.credentials === null) {
      this.credentials = findCredentials(this.reference.domain, this.reference.path, {
        creds: this.options.creds,
        authFile: this.options.authFile,
        env: this.options.env,
      });
    }
    return this.credentials;
  }

  /** Pings `/v2/`: which scheme answers, and what login it asks for. */
  async connect(): Promise<void> {
    const host = apiHost(this.reference.domain);
    const schemes = this.transport.tls.verify ? ['https:'] : ['https:', 'http:'];
    const failures: string[] = [];
    for (const scheme of schemes) {
      const url = new URL(`${scheme}//${host}/v2/`);
      let response: HttpResponse;
      try {
        response = await this.transport.request(url);
      } catch (error) {
        if (!(error instanceof ConnectError)) throw error;
        failures.push(
          `${url.href}: ${error.original instanceof Error ? error.original.message : String(error.original)}`,
        );
        if (scheme === 'https:' && this.transport.tls.verify) throw this.connectFailure(url, error);
        continue;
      }
      response.body.resume();
      if (response.status === 200 || response.status === 401) {
        this.base = new URL(`${scheme}//${host}`);
        if (response.status === 401)
          this.challenge = pickChallenge(parseChallenges(response.headers['www-authenticate']));
        return;
      }
      throw new PilotError(
        'PILOT_PULL_FAILED',
        `${url.href} answered ${response.status}: ${this.reference.domain} is not a container registry (no /v2/ API)`,
        { hint: 'check the registry name and port' },
      );
    }
    throw new PilotError(
      'PILOT_REGISTRY_UNREACHABLE',
      `cannot reach the registry ${this.reference.domain}:\n  ${failures.join('\n  ')}`,
      { hint: 'check that the registry runs and its name and port are right' },
    );
  }

  private connectFailure(url: URL, error: ConnectError): PilotError {
    const code = errnoOf(error.original);
    const why = error.original instanceof Error ? error.original.message : String(error.original);
    if (isCertificateError(error.original)) {
      return new PilotError(
        'PILOT_REGISTRY_TLS',
        `cannot verify the TLS certificate of ${url.host} (${why})`,
        {
          hint: `give its CA with --cert-dir DIR (DIR/ca.crt; or put it in /etc/containers/certs.d/${url.host}/), or, for a registry you trust without a certificate, --tls-verify=false`,
        },
      );
    }
    if (
      code === 'EPROTO' ||
      code === 'ERR_SSL_WRONG_VERSION_NUMBER' ||
      /wrong version number|packet length too long/i.test(why)
    ) {
      return new PilotError(
        'PILOT_REGISTRY_TLS',
        `${url.host} does not answer TLS (${/wrong version number/i.test(why) ? 'its answer is not a TLS record' : why.split('\n')[0]}); it may be a plain-HTTP registry`,
        {
          hint: 'pull from a plain-HTTP registry with --tls-verify=false (HTTP is then tried after HTTPS), or give it a certificate',
        },
      );
    }
    return new PilotError(
      'PILOT_REGISTRY_UNREACHABLE',
      `cannot reach the registry at ${url.href}: ${why}`,
      {
        hint: 'check that the registry runs and its name and port are right',
      },
    );
  }

  private get scope(): string {
    return `repository:${this.reference.path}:pull`;
  }

  private async authorization(): Promise<string | undefined> {
    const challenge = this.challenge;
    if (!challenge) return undefined;
    const login = this.login();
    if (challenge.scheme === 'basic') {
      return login ? basicAuthorization(login) : undefined;
    }
    const scope = challenge.params.scope ?? this.scope;
    let token = this.tokens.get(scope);
    if (token === undefined) {
      token = await this.fetchToken(challenge, scope, login);
      this.tokens.set(scope, token);
    }
    return `Bearer ${token}`;
  }

  private async fetchToken(
    challenge: Challenge,
    scope: string,
    login: Credentials | undefined,
  ): Promise<string> {
    const answer = await requestToken(this.transport, this.registry, challenge, scope, login);
    if (answer.refused) throw this.authFailure(login);
    return answer.token;
  }

  private authFailure(login: Credentials | undefined): PilotError {
    const what = `${this.registry}/${this.reference.path}`;
    if (login) {
      return new PilotError(
        'PILOT_REGISTRY_AUTH',
        `${this.registry} refused the login of "${escapeExcerpt(login.username)}" (from ${login.origin}) for ${what}`,
        {
          hint: `check the user name and password (--creds USER:PASSWORD, or "podman login ${this.registry}" to update the auth file)`,
        },
      );
    }
    return new PilotError('PILOT_REGISTRY_AUTH', `${this.registry} wants a login to pull ${what}`, {
      hint: `log in ("podman login ${this.registry}" writes an auth file pilot reads), or give --creds USER:PASSWORD or --authfile FILE`,
    });
  }

  /** GET a path of the registry API, with the login it asks for (one retry after a 401). */
  private async get(path: string, headers: Record<string, string> = {}): Promise<HttpResponse> {
    if (!this.base) await this.connect();
    const url = new URL(path, this.base);
    for (let attempt = 0; ; attempt++) {
      let response: HttpResponse;
      try {
        response = await this.transport.request(url, {
          headers,
          authorization: await this.authorization(),
        });
      } catch (error) {
        if (error instanceof ConnectError) throw this.connectFailure(url, error);
        throw error;
      }
      if (response.status !== 401) return response;
      response.body.resume();
      const challenge = pickChallenge(parseChallenges(response.headers['www-authenticate']));
      const retry =
        attempt === 0 &&
        challenge !== undefined &&
        // A new challenge (another scope, or none was known): answer it once.
        (this.challenge === undefined ||
          challenge.params.scope !== this.challenge.params.scope ||
          challenge.scheme !== this.challenge.scheme);
      if (!retry) throw this.authFailure(this.login());
      this.challenge = challenge;
    }
  }

  private async failure(response: HttpResponse, what: string): Promise<PilotError> {
    let detail = '';
    try {
      const body = JSON.parse(
        (await readBody(response, 64 * 1024, 'the error answer')).toString('utf8'),
      );
      const first = body?.errors?.[0];
      if (first?.message)
        detail = `: ${escapeExcerpt(String(first.code ?? ''))} ${escapeExcerpt(String(first.message))}`;
    } catch {
      // no JSON error document: the status says it
    }
    if (response.status === 404) {
      return new PilotError('PILOT_IMAGE_UNKNOWN', `${this.registry} has no ${what}${detail}`, {
        hint: 'check the name, tag or digest ("skopeo list-tags docker://REGISTRY/PATH" lists the tags)',
      });
    }
    if (response.status === 403) {
      const login = this.login();
      return new PilotError(
        'PILOT_REGISTRY_AUTH',
        `${this.registry} denies ${login ? `"${escapeExcerpt(login.username)}"` : 'anonymous'} access to ${what}${detail}`,
        { hint: 'log in as a user who may pull it (--creds USER:PASSWORD, --authfile FILE)' },
      );
    }
    return new PilotError(
      'PILOT_PULL_FAILED',
      `${this.registry} answered ${response.status} for ${what}${detail}`,
      {
        hint: 'try again; if it persists, tell the registry operator',
      },
    );
  }

  private blobPath(digest: string): string {
    return `/v2/${this.reference.path}/blobs/${digest}`;
  }

  /** A manifest by tag or digest; `digest` is the sha256 of the bytes as fetched. */
  async getManifest(tagOrDigest: string): Promise<FetchedManifest> {
    const what = `manifest ${this.reference.path}:${tagOrDigest}`.replace(':sha256:', '@sha256:');
    const response = await this.get(`/v2/${this.reference.path}/manifests/${tagOrDigest}`, {
      accept: MANIFEST_ACCEPT,
    });
    if (response.status !== 200) throw await this.failure(response, what);
    const bytes = await readBody(response, MAX_MANIFEST_BYTES, `the ${what}`);
    const digest = sha256Of(bytes);
    if (tagOrDigest.startsWith('sha256:') && digest !== tagOrDigest) {
      throw digestMismatch(`the ${what}`, this.registry, digest, tagOrDigest);
    }
    const header = response.headers['docker-content-digest'];
    if (typeof header === 'string' && header.startsWith('sha256:') && header !== digest) {
      throw digestMismatch(
        `the ${what}`,
        this.registry,
        digest,
        `${header} (its Docker-Content-Digest)`,
      );
    }
    return { bytes, contentType: response.headers['content-type'], digest };
  }

  /** A small blob (a config) in memory, verified. */
  async getBlob(
    descriptor: { digest: string; size: number },
    limit: number,
    what: string,
  ): Promise<Buffer> {
    const response = await this.get(this.blobPath(descriptor.digest));
    if (response.status !== 200) throw await this.failure(response, `${what} ${descriptor.digest}`);
    const bytes = await readBody(
      response,
      Math.min(limit, descriptor.size),
      `the ${what} ${descriptor.digest}`,
    );
    const digest = sha256Of(bytes);
    if (digest !== descriptor.digest)
      throw digestMismatch(`the ${what}`, this.registry, digest, descriptor.digest);
    return bytes;
  }

  /**
   * Streams a blob into `file` (created, never reused) through sha256: refused on the
   * first byte past `descriptor.size`, when it ends short, or when its digest differs.
   */
  async downloadBlob(
    descriptor: { digest: string; size: number },
    file: string,
    what: string,
    onBytes?: (bytes: number) => void,
  ): Promise<void> {
    const response = await this.get(this.blobPath(descriptor.digest));
    if (response.status !== 200)
      throw await this.failure(response, `${what} (blob ${descriptor.digest})`);
    await streamBlob(response.body, descriptor, file, {
      what,
      registry: this.registry,
      onBytes,
    });
  }

  /** For the trust policy: a URL (http, https, file) with this pull's TLS settings; undefined when absent. */
  async fetchUrl(href: string): Promise<Buffer | undefined> {
    const url = new URL(href);
    if (url.protocol === 'file:') {
      try {
        const data = readFileSync(fileURLToPath(url));
        if (data.length > MAX_MANIFEST_BYTES) {
          throw new PilotError(
            'PILOT_IMAGE_INVALID',
            `${href} has ${data.length} bytes (at most ${MAX_MANIFEST_BYTES})`,
          );
        }
        return data;
      } catch (error) {
        if (errnoOf(error) === 'ENOENT') return undefined;
        throw error;
      }
    }
    let response: HttpResponse;
    try {
      response = await this.transport.request(url);
    } catch (error) {
      if (error instanceof ConnectError) throw this.connectFailure(url, error);
      throw error;
    }
    if (response.status === 404) {
      response.body.resume();
      return undefined;
    }
    if (response.status !== 200) {
      response.body.resume();
      throw new PilotError('PILOT_PULL_FAILED', `${url.href} answered ${response.status}`, {
        hint: 'check the lookaside URL of registries.d, and that its server runs',
      });
    }
    return readBody(response, MAX_MANIFEST_BYTES, url.href);
  }
}
