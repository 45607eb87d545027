/**
 * What one podman option's value means, for every option but the mounts
 * (podman-mounts.ts): the state the reading of a `runtime.podman` list builds, its
 * refusals (each names the option and where it is written), and the names podman
 * accepts for capabilities and sizes.
 */
import { PilotError } from './errors.js';
import { quoteExcerpt } from './excerpt.js';
import type { ItemLocator, PodmanOptions } from './podman-options.js';
import { startsWithPlaceholder } from './podman-words.js';

/** The capabilities Linux 6.1 knows (bit order). */
export const CAPABILITIES = [
  'CHOWN',
  'DAC_OVERRIDE',
  'DAC_READ_SEARCH',
  'FOWNER',
  'FSETID',
  'KILL',
  'SETGID',
  'SETUID',
  'SETPCAP',
  'LINUX_IMMUTABLE',
  'NET_BIND_SERVICE',
  'NET_BROADCAST',
  'NET_ADMIN',
  'NET_RAW',
  'IPC_LOCK',
  'IPC_OWNER',
  'SYS_MODULE',
  'SYS_RAWIO',
  'SYS_CHROOT',
  'SYS_PTRACE',
  'SYS_PACCT',
  'SYS_ADMIN',
  'SYS_BOOT',
  'SYS_NICE',
  'SYS_RESOURCE',
  'SYS_TIME',
  'SYS_TTY_CONFIG',
  'MKNOD',
  'LEASE',
  'AUDIT_WRITE',
  'AUDIT_CONTROL',
  'SETFCAP',
  'MAC_OVERRIDE',
  'MAC_ADMIN',
  'SYSLOG',
  'WAKE_ALARM',
  'BLOCK_SUSPEND',
  'AUDIT_READ',
  'PERFMON',
  'BPF',
  'CHECKPOINT_RESTORE',
].map((name) => `CAP_${name}`);

/** What `register` lists when it refuses an option. */
export const SUPPORTED_OPTIONS = [
  '-e/--env NAME[=VALUE]',
  '--env-file FILE',
  '-v/--volume SRC:DST[:ro]',
  '--mount type=bind|tmpfs,...',
  '-w/--workdir DIR',
  '--entrypoint CMD',
  '-u/--user USER[:GROUP]',
  '--read-only',
  '--network/--net none|host',
  '--cap-drop/--cap-add CAP',
  '--security-opt no-new-privileges',
  '--tmpfs DIR[:OPTIONS]',
  '--hostname NAME',
  '--storage-opt size=N',
  'no-ops: -t, -i, --rm, --security-opt label=disable',
];

export const STDIO_REASON = "stdio is always the caller's own";
export const NOOP_FLAGS: Record<string, string> = {
  '--tty': STDIO_REASON,
  '--interactive': STDIO_REASON,
  '--rm': 'every call gets a fresh writable layer, removed when it ends',
};
export const NOOP_SHORT: Record<string, string> = { t: STDIO_REASON, i: STDIO_REASON };

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
  t: 1024 ** 4,
};

/** `10G`, `512m`, `1024`: bytes, or undefined when it is not a size. */
export function parseSize(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)([bkmgt]?)b?$/i.exec(text.trim());
  if (!match) return undefined;
  const bytes = Math.floor(Number(match[1]) * SIZE_UNITS[match[2]!.toLowerCase()]!);
  return bytes > 0 && Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** The options read so far, and where the one being read is written. */
export class OptionState {
  readonly out: PodmanOptions = {
    env: [],
    envFiles: [],
    envFileAt: [],
    volumes: [],
    tmpfs: [],
    readOnly: false,
    network: 'host',
    capDrop: [],
    capAdd: [],
    noNewPrivileges: false,
    noops: [],
  };
  /** The option being read, as written, and its item. */
  written = '';
  item = 0;

  constructor(
    private readonly where: ItemLocator,
    /** Checking without the caller's environment: placeholders count as absolute paths. */
    readonly unexpanded: boolean,
    private readonly kept = false,
  ) {}

  fail(message: string, hint?: string): never {
    const place = this.where(this.item);
    throw new PilotError(
      'PILOT_FLAKE_INVALID',
      `${place}: podman option ${quoteExcerpt(this.written)}: ${message}`,
      {
        hint:
          hint ??
          (place.startsWith('--opt')
            ? 'change or leave out that --opt'
            : 'change or remove the option in the flake'),
      },
    );
  }

  absolute(path: string, what: string): string {
    if (path.startsWith('/') || (this.unexpanded && startsWithPlaceholder(path))) return path;
    this.failUnset(path, what);
    return this.fail(`${what} must be an absolute path, got ${quoteExcerpt(path)}`);
  }

  /** A path that starts with an unset placeholder (`%NAME` became `$NAME`) says so. */
  failUnset(path: string, what: string): void {
    const unset = /^\$([A-Z]+)/.exec(path)?.[1];
    if (unset === undefined) return;
    this.fail(
      `${what} ${quoteExcerpt(path)} is no absolute path: %${unset} is not set in the caller's environment`,
      `set ${unset} before running the app, or change the option in the flake`,
    );
  }

  addEnv(value: string): void {
    const equals = value.indexOf('=');
    const name = equals < 0 ? value : value.slice(0, equals);
    if (name === '' || name.includes('\0')) this.fail('a variable needs a name (NAME=VALUE)');
    if (equals < 0) this.out.env.push({ name, fromCaller: true });
    else this.out.env.push({ name, value: value.slice(equals + 1) });
  }

  addEnvFile(path: string): void {
    this.out.envFiles.push(this.absolute(path, 'the env file'));
    this.out.envFileAt.push(this.where(this.item));
  }

  setWorkdir(value: string): void {
    this.out.workdir = this.absolute(value, 'the working directory');
  }

  setEntrypoint(value: string): void {
    this.out.entrypoint = parseEntrypoint(value);
  }

  setUser(value: string): void {
    const colon = value.indexOf(':');
    const user = colon < 0 ? value : value.slice(0, colon);
    const group = colon < 0 ? undefined : value.slice(colon + 1);
    const name = /^[A-Za-z0-9_.][A-Za-z0-9_.-]*\$?$|^%[A-Z]+$/;
    if (!name.test(user) || (group !== undefined && !name.test(group))) {
      this.fail('expected USER[:GROUP], each a name or a number');
    }
    this.out.user = group === undefined ? { user } : { user, group };
  }

  setNetwork(value: string): void {
    if (value === 'none' || value === 'host') {
      this.out.network = value;
      return;
    }
    this.fail(
      `network ${quoteExcerpt(value)} is not supported`,
      'use --network none (only loopback) or host (the default)',
    );
  }

  addCaps(value: string, into: string[]): void {
    for (const raw of value.split(',')) {
      const upper = raw.trim().toUpperCase();
      if (upper === 'ALL') {
        into.push('ALL');
        continue;
      }
      const name = upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
      if (!CAPABILITIES.includes(name)) this.fail(`${quoteExcerpt(raw)} is not a capability`);
      into.push(name);
    }
  }

  securityOpt(value: string): void {
    const normalized = value.replace(':', '=');
    if (normalized === 'no-new-privileges' || normalized === 'no-new-privileges=true') {
      this.out.noNewPrivileges = true;
    } else if (normalized === 'no-new-privileges=false') {
      this.out.noNewPrivileges = false;
    } else if (normalized === 'label=disable') {
      this.out.noops.push({ option: this.written, reason: 'pilot applies no SELinux labels' });
    } else {
      this.fail(
        `${quoteExcerpt(value)} is not supported`,
        'pilot supports --security-opt no-new-privileges and label=disable',
      );
    }
  }

  setHostname(value: string): void {
    if (value === '' || Buffer.byteLength(value) > 64) this.fail('a host name has 1 to 64 bytes');
    this.out.hostname = value;
  }

  storageOpt(value: string): void {
    const equals = value.indexOf('=');
    const bytes = parseSize(value.slice(equals + 1));
    if (value.slice(0, equals) !== 'size' || bytes === undefined) {
      this.fail('pilot supports --storage-opt size=N (e.g. 10G) only');
    }
    if (this.kept) {
      this.out.noops.push({
        option: this.written,
        reason:
          'a resume or attach instance keeps its writable layer on disk, where pilot sets no size',
      });
    } else {
      this.out.storageSize = bytes;
    }
  }

  flag(name: string, value: string | undefined): void {
    const on = value === undefined || value === 'true';
    if (value !== undefined && value !== 'true' && value !== 'false') {
      this.fail(`expected ${name}, ${name}=true or ${name}=false`);
    }
    if (name === '--read-only') this.out.readOnly = on;
    else this.out.noops.push({ option: this.written, reason: NOOP_FLAGS[name]! });
  }

  refuse(name: string): never {
    const grants = [
      '--privileged',
      '--pid',
      '--ipc',
      '--device',
      '--userns',
      '--uts',
      '--cgroupns',
    ];
    return this.fail(
      grants.includes(name)
        ? 'is not supported: it would give the app more than its caller has'
        : 'is not supported by pilot',
      `pilot supports: ${SUPPORTED_OPTIONS.join(', ')}`,
    );
  }
}

/** podman: a JSON array of strings is the command with its arguments; anything else is one word. */
function parseEntrypoint(value: string): string[] {
  if (value === '') return [];
  if (value.startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(value);
      if (Array.isArray(parsed) && parsed.every((word) => typeof word === 'string')) {
        return parsed as string[];
      }
    } catch {
      // Not JSON: podman takes the string as the program itself, and so do we.
    }
  }
  return [value];
}
