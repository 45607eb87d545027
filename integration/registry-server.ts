/**
 * Debian's distribution registry (`docker-registry serve CONFIG`) for the registry
 * suite: on 127.0.0.1 with a free port, storage and config in a mktemp dir, plain
 * HTTP, basic auth (htpasswd -B) or TLS with a CA made here (openssl). Images go in
 * with `skopeo copy`; what was fetched is read back from the registry's own access log.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const REGISTRY_TOOLS = ['docker-registry', 'skopeo', 'htpasswd', 'openssl'];

export interface RegistryOptions {
  /** Basic auth with this user and password (htpasswd -B). */
  auth?: { user: string; password: string };
  /** TLS with a certificate of a CA made for this registry; `certDir` holds its ca.crt. */
  tls?: boolean;
}

export interface LoggedRequest {
  method: string;
  path: string;
  status: number;
  bytes: number;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.on('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

function run(command: string, args: string[], cwd?: string): void {
  const r = spawnSync(command, args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')}: ${r.stderr}`);
}

export class RegistryServer {
  readonly dir: string;
  host = '';
  /** With `tls`: a directory with the CA (ca.crt), as --cert-dir takes it. */
  certDir: string | undefined;
  private child: ChildProcess | undefined;
  private readonly logFile: string;

  private constructor(readonly options: RegistryOptions) {
    this.dir = mkdtempSync(join(tmpdir(), 'pilot-registry-'));
    this.logFile = join(this.dir, 'registry.log');
  }

  static async start(options: RegistryOptions = {}): Promise<RegistryServer> {
    const server = new RegistryServer(options);
    try {
      await server.launch();
    } catch (error) {
      server.stop();
      throw error;
    }
    return server;
  }

  private makeCertificates(): { cert: string; key: string } {
    const dir = join(this.dir, 'pki');
    const certDir = join(this.dir, 'certs');
    execFileSync('mkdir', ['-p', dir, certDir]);
    const days = ['-days', '2'];
    run(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        'ca.key',
        '-out',
        'ca.crt',
        ...days,
        '-subj',
        '/CN=pilot test CA',
      ],
      dir,
    );
    run(
      'openssl',
      [
        'req',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        'server.key',
        '-out',
        'server.csr',
        '-subj',
        '/CN=127.0.0.1',
      ],
      dir,
    );
    writeFileSync(join(dir, 'ext'), 'subjectAltName=IP:127.0.0.1\n');
    run(
      'openssl',
      [
        'x509',
        '-req',
        '-in',
        'server.csr',
        '-CA',
        'ca.crt',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-out',
        'server.crt',
        ...days,
        '-extfile',
        'ext',
      ],
      dir,
    );
    writeFileSync(join(certDir, 'ca.crt'), readFileSync(join(dir, 'ca.crt')));
    this.certDir = certDir;
    return { cert: join(dir, 'server.crt'), key: join(dir, 'server.key') };
  }

  private async launch(): Promise<void> {
    const port = await freePort();
    this.host = `127.0.0.1:${port}`;
    const lines = [
      'version: 0.1',
      'log:',
      '  level: error',
      '  accesslog:',
      '    disabled: false',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${join(this.dir, 'data')}`,
      '  delete:',
      '    enabled: true',
      'http:',
      `  addr: ${this.host}`,
    ];
    if (this.options.tls) {
      const { cert, key } = this.makeCertificates();
      lines.push('  tls:', `    certificate: ${cert}`, `    key: ${key}`);
    }
    if (this.options.auth) {
      const { user, password } = this.options.auth;
      const htpasswd = spawnSync('htpasswd', ['-Bbn', user, password], { encoding: 'utf8' });
      if (htpasswd.status !== 0) throw new Error(`htpasswd: ${htpasswd.stderr}`);
      writeFileSync(join(this.dir, 'htpasswd'), htpasswd.stdout);
      lines.push(
        'auth:',
        '  htpasswd:',
        '    realm: pilot-test',
        `    path: ${join(this.dir, 'htpasswd')}`,
      );
    }
    const config = join(this.dir, 'config.yml');
    writeFileSync(config, `${lines.join('\n')}\n`);
    const log = openSync(this.logFile, 'a');
    this.child = spawn('docker-registry', ['serve', config], { stdio: ['ignore', log, log] });
    for (let i = 0; i < 200; i++) {
      if (await listening(port)) return;
      if (this.child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`the registry did not start:\n${readFileSync(this.logFile, 'utf8')}`);
  }

  /** skopeo flags to reach this registry as a destination or source. */
  private skopeoFlags(side: 'dest' | 'src'): string[] {
    const flags = [`--${side}-tls-verify=${this.options.tls ? 'true' : 'false'}`];
    if (this.certDir) flags.push(`--${side}-cert-dir`, this.certDir);
    if (this.options.auth)
      flags.push(`--${side}-creds`, `${this.options.auth.user}:${this.options.auth.password}`);
    return flags;
  }

  /** Pushes `source` (a skopeo transport: `oci-archive:FILE`) as `PATH:TAG`. */
  push(source: string, pathTag: string, extra: string[] = []): void {
    run('skopeo', [
      'copy',
      '--quiet',
      ...this.skopeoFlags('dest'),
      ...extra,
      source,
      `docker://${this.host}/${pathTag}`,
    ]);
  }

  /** `HOST/PATH:TAG` of this registry. */
  ref(pathTag: string): string {
    return `${this.host}/${pathTag}`;
  }

  /** Access-log lines so far (a mark for `requests(since)`). */
  mark(): number {
    return this.requests().length;
  }

  /** The requests the registry logged (access log: `"GET /v2/… HTTP/1.1" 200 1234`). */
  requests(since = 0): LoggedRequest[] {
    const out: LoggedRequest[] = [];
    for (const line of readFileSync(this.logFile, 'utf8').split('\n')) {
      const match = /"(GET|HEAD|PUT|POST|PATCH|DELETE) (\S+) HTTP\/[\d.]+" (\d{3}) (\d+)/.exec(
        line,
      );
      if (match)
        out.push({
          method: match[1]!,
          path: match[2]!,
          status: Number(match[3]),
          bytes: Number(match[4]),
        });
    }
    return out.slice(since);
  }

  /** Digests of the blobs fetched (GET, 200) since `mark`. */
  blobsFetched(since = 0): string[] {
    return this.requests(since)
      .filter((r) => r.method === 'GET' && r.status === 200 && r.path.includes('/blobs/sha256:'))
      .map((r) => r.path.slice(r.path.indexOf('/blobs/') + 7));
  }

  /** Manifest GETs (200) since `mark`: tags or digests. */
  manifestsFetched(since = 0): string[] {
    return this.requests(since)
      .filter((r) => r.method === 'GET' && r.status === 200 && r.path.includes('/manifests/'))
      .map((r) => r.path.slice(r.path.indexOf('/manifests/') + 11));
  }

  stop(): void {
    this.child?.kill();
    this.child = undefined;
    if (this.dir.startsWith(join(tmpdir(), 'pilot-registry-'))) {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }
}
