/**
 * What a flake's `runtime.podman` list asks for, with podman's meaning (DESIGN.md,
 * "Flake files"). Every option is either honoured by pilot's sandbox, accepted as a
 * no-op with the reason, or refused with an error that names the option and where it
 * is written: nothing is dropped silently. Pure: no environment (the caller's values
 * come in as `env`), no file system.
 *
 * Items are split into words (podman-words.ts); `%NAME` placeholders are expanded in
 * every word from `env` when it is given. Without `env` (checking a flake before any
 * launch) a placeholder stands for an absolute path, so that `-v %HOME/x:/x` passes.
 */
import { isPilotError, PilotError } from './errors.js';
import { escapeExcerpt, quoteExcerpt } from './excerpt.js';
import { expandPlaceholders, splitPodmanWords, startsWithPlaceholder } from './podman-words.js';

export { splitPodmanWords } from './podman-words.js';

/** `-e NAME=VALUE`, or `-e NAME` / `-e PREFIX*` (the caller's value at each call). */
export type PodmanEnv = { name: string; value: string } | { name: string; fromCaller: true };

export interface PodmanVolume {
  source: string;
  target: string;
  readOnly: boolean;
  /** Extra mount flags podman's volume options ask for. */
  flags: ('nosuid' | 'nodev' | 'noexec')[];
  /** The option as written, for messages. */
  written: string;
}

export interface PodmanTmpfs {
  target: string;
  /** tmpfs options in pilot-exec's form (comma-separated; may be empty). */
  options: string;
}

export interface PodmanUser {
  /** A user name or a uid, as written. */
  user: string;
  group?: string;
}

export interface PodmanNoop {
  option: string;
  reason: string;
}

export interface PodmanOptions {
  /** Environment entries in order (a later entry for the same name wins). */
  env: PodmanEnv[];
  /** `--env-file` paths, read at launch; `-e` entries win over them, as in podman. */
  envFiles: string[];
  /** Where each env file is named ("file:line"), for a launch that cannot read it. */
  envFileAt: string[];
  volumes: PodmanVolume[];
  tmpfs: PodmanTmpfs[];
  workdir?: string;
  /** Replaces the image's Entrypoint; `[]` (from `--entrypoint ""`) clears it. */
  entrypoint?: string[];
  user?: PodmanUser;
  readOnly: boolean;
  network: 'host' | 'none';
  /** Capability names as `CAP_X`, or `ALL`, in the order given. */
  capDrop: string[];
  capAdd: string[];
  noNewPrivileges: boolean;
  hostname?: string;
  /** `--storage-opt size=N`: bytes of the app's writable layer. */
  storageSize?: number;
  /** Options accepted without effect, with the reason. */
  noops: PodmanNoop[];
}

/** Where item `index` of the list is written ("file:line", or "--opt 2"), for messages. */
export type ItemLocator = (index: number) => string;

export interface ParseOptions {
  /** The caller's environment: `%NAME` placeholders are expanded from it. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Collects each placeholder's name and the value it was given (undefined: unset). */
  used?: Map<string, string | undefined>;
  where?: ItemLocator;
  /**
   * The flake keeps an instance (resume/attach): its writable layer lives on disk, so
   * `--storage-opt size` is shown as a no-op (flake-pilot's own resume flakes carry it).
   */
  kept?: boolean;
}

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

const STDIO_REASON = "stdio is always the caller's own";
const NOOP_FLAGS: Record<string, string> = {
  '--tty': STDIO_REASON,
  '--interactive': STDIO_REASON,
  '--rm': 'every call gets a fresh writable layer, removed when it ends',
};
const NOOP_SHORT: Record<string, string> = { t: STDIO_REASON, i: STDIO_REASON };

type Handler = (value: string, state: State) => void;

/** Options with a value, by every name podman gives them. */
const VALUED: Record<string, Handler> = {
  '--env': (v, s) => s.addEnv(v),
  '--env-file': (v, s) => s.addEnvFile(v),
  '--volume': (v, s) => s.addVolume(v),
  '--mount': (v, s) => s.addMount(v),
  '--workdir': (v, s) => s.setWorkdir(v),
  '--entrypoint': (v, s) => s.setEntrypoint(v),
  '--user': (v, s) => s.setUser(v),
  '--network': (v, s) => s.setNetwork(v),
  '--net': (v, s) => s.setNetwork(v),
  '--cap-drop': (v, s) => s.addCaps(v, s.out.capDrop),
  '--cap-add': (v, s) => s.addCaps(v, s.out.capAdd),
  '--security-opt': (v, s) => s.securityOpt(v),
  '--tmpfs': (v, s) => s.addTmpfs(v),
  '--hostname': (v, s) => s.setHostname(v),
  '--storage-opt': (v, s) => s.storageOpt(v),
};
const SHORT_VALUED: Record<string, string> = {
  e: '--env',
  v: '--volume',
  w: '--workdir',
  u: '--user',
  h: '--hostname',
};
/** Boolean options (pflag takes `--read-only=false` too). */
const BOOLEAN = new Set(['--read-only', ...Object.keys(NOOP_FLAGS)]);

/** podman run flags without a value, so that a refused one does not swallow the next word. */
const OTHER_FLAGS = new Set([
  '--privileged',
  '--init',
  '--read-only-tmpfs',
  '--detach',
  '--replace',
  '--rmi',
  '--no-hosts',
  '--no-healthcheck',
  '--quiet',
  '--sig-proxy',
  '--http-proxy',
  '--env-host',
  '--oom-kill-disable',
  '--publish-all',
  '--passwd',
  '--tls-verify',
]);

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

class State {
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
    private readonly unexpanded: boolean,
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

  addVolume(spec: string): void {
    const parts = spec.split(':');
    if (parts.length < 2 || parts.length > 3) {
      this.fail(
        parts.length === 1
          ? 'an anonymous volume needs podman storage; pilot binds host paths only (SRC:DST)'
          : 'expected SRC:DST[:OPTIONS]',
      );
    }
    const [source, target, optionText] = parts as [string, string, string | undefined];
    if (!source.startsWith('/') && !(this.unexpanded && startsWithPlaceholder(source))) {
      this.failUnset(source, 'the source');
      const dst = escapeExcerpt(target, 40);
      // podman reads a word without "/" or a leading "." as the name of a volume it keeps.
      if (source.startsWith('.') || source.includes('/')) {
        this.fail(
          `the source ${quoteExcerpt(source)} is a relative path; pilot binds a host path given from "/" (an app runs from any directory)`,
          `write the whole path, e.g. -v /srv/data:${dst}, or start it with %HOME for the caller's home`,
        );
      }
      this.fail(
        `${quoteExcerpt(source)} is a named volume; pilot keeps no volumes and binds host paths only (an absolute SRC)`,
        `bind a host directory instead, e.g. -v /srv/${escapeExcerpt(source, 40)}:${dst}`,
      );
    }
    this.absolute(target, 'the volume target');
    const volume: PodmanVolume = {
      source,
      target,
      readOnly: false,
      flags: [],
      written: this.written,
    };
    for (const option of optionText ? optionText.split(',') : []) {
      this.volumeOption(volume, option);
    }
    this.out.volumes.push(volume);
  }

  private volumeOption(volume: PodmanVolume, option: string): void {
    switch (option) {
      case 'ro':
      case 'rw':
        volume.readOnly = option === 'ro';
        return;
      case 'nosuid':
      case 'nodev':
      case 'noexec':
        if (!volume.flags.includes(option)) volume.flags.push(option);
        return;
      // SELinux relabelling, the kind of bind (always recursive here), the host's own
      // flags and private propagation (every mount of the app is private) change nothing.
      case 'z':
      case 'Z':
      case 'rbind':
      case 'suid':
      case 'dev':
      case 'exec':
      case 'private':
      case 'rprivate':
        return;
      default:
        this.fail(
          `volume option ${quoteExcerpt(option)} is not supported`,
          'pilot supports ro, rw, nosuid, nodev, noexec (z, Z, rbind, private are accepted)',
        );
    }
  }

  addMount(spec: string): void {
    const fields = new Map<string, string>();
    for (const field of spec.split(',')) {
      const equals = field.indexOf('=');
      const key = (equals < 0 ? field : field.slice(0, equals)).trim();
      fields.set(key, equals < 0 ? 'true' : field.slice(equals + 1));
    }
    const type = fields.get('type');
    fields.delete('type');
    const take = (...keys: string[]): string | undefined => {
      let found: string | undefined;
      for (const key of keys) {
        if (fields.has(key)) found = fields.get(key);
        fields.delete(key);
      }
      return found;
    };
    const target = take('target', 'destination', 'dst');
    if (target === undefined) this.fail('--mount needs target=DIR');
    if (type === 'bind') {
      const source = take('source', 'src');
      if (source === undefined) this.fail('a bind mount needs source=PATH');
      const readOnly = take('readonly', 'ro');
      const volume: PodmanVolume = {
        source: this.absolute(source, 'the bind source'),
        target: this.absolute(target, 'the mount target'),
        readOnly: readOnly !== undefined && readOnly !== 'false' && readOnly !== '0',
        flags: [],
        written: this.written,
      };
      const propagation = take('bind-propagation');
      if (propagation !== undefined && !['private', 'rprivate'].includes(propagation)) {
        this.fail(
          `bind-propagation=${escapeExcerpt(propagation)}: every mount of the app is private`,
        );
      }
      take('relabel', 'z', 'Z');
      this.noMoreFields(fields);
      this.out.volumes.push(volume);
    } else if (type === 'tmpfs') {
      const options: string[] = [];
      const size = take('tmpfs-size');
      const mode = take('tmpfs-mode');
      if (size !== undefined) options.push(`size=${this.tmpfsSize(size)}`);
      if (mode !== undefined) options.push(`mode=${this.tmpfsMode(mode)}`);
      const readOnly = take('readonly', 'ro');
      if (readOnly !== undefined && readOnly !== 'false') options.push('ro');
      this.noMoreFields(fields);
      this.out.tmpfs.push({
        target: this.absolute(target, 'the tmpfs target'),
        options: options.join(','),
      });
    } else {
      this.fail(
        `type=${type === undefined ? '(none)' : escapeExcerpt(type)} is not supported`,
        'pilot supports --mount type=bind and type=tmpfs (volumes and images need podman storage)',
      );
    }
  }

  private noMoreFields(fields: Map<string, string>): void {
    const [first] = fields.keys();
    if (first !== undefined) this.fail(`${quoteExcerpt(first)} is not supported in --mount`);
  }

  private tmpfsSize(text: string): string {
    if (/^\d+%$/.test(text)) return text;
    const bytes = parseSize(text);
    if (bytes === undefined) this.fail(`size ${quoteExcerpt(text)} is not a size (e.g. 64m)`);
    return String(bytes);
  }

  private tmpfsMode(text: string): string {
    if (!/^[0-7]{1,4}$/.test(text)) this.fail(`mode ${quoteExcerpt(text)} is not an octal mode`);
    return text;
  }

  addTmpfs(spec: string): void {
    const colon = spec.indexOf(':');
    const target = colon < 0 ? spec : spec.slice(0, colon);
    const options: string[] = [];
    for (const option of colon < 0 ? [] : spec.slice(colon + 1).split(',')) {
      const equals = option.indexOf('=');
      const key = equals < 0 ? option : option.slice(0, equals);
      const value = option.slice(equals + 1);
      if (option === '') continue;
      if (['ro', 'rw', 'exec', 'noexec', 'nosuid', 'nodev'].includes(option)) options.push(option);
      else if (key === 'size') options.push(`size=${this.tmpfsSize(value)}`);
      else if (key === 'mode') options.push(`mode=${this.tmpfsMode(value)}`);
      else if ((key === 'nr_inodes' || key === 'uid' || key === 'gid') && /^\d+$/.test(value)) {
        options.push(option);
      } else if (option === 'suid' || option === 'dev') {
        this.fail(`"${option}" would let the app gain what its caller does not have`);
      } else {
        this.fail(
          `tmpfs option ${quoteExcerpt(option)} is not supported`,
          'pilot supports size, mode, nr_inodes, uid, gid, ro, rw, exec, noexec, nosuid, nodev',
        );
      }
    }
    this.out.tmpfs.push({
      target: this.absolute(target, 'the tmpfs target'),
      options: options.join(','),
    });
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

interface Word {
  text: string;
  item: number;
}

/** Every item's words, with the item each came from; placeholders expanded when `env` is given. */
function wordsOf(items: readonly string[], options: ParseOptions, where: ItemLocator): Word[] {
  const words: Word[] = [];
  items.forEach((item, index) => {
    let split: string[];
    try {
      split = splitPodmanWords(item);
    } catch (error) {
      // Broken quoting is reported where the item is written, like every other refusal.
      if (!isPilotError(error)) throw error;
      throw new PilotError(error.code, `${where(index)}: ${error.message}`, {
        ...(error.hint === undefined ? {} : { hint: error.hint }),
      });
    }
    for (const text of split) {
      words.push({
        text: options.env ? expandPlaceholders(text, options.env, options.used) : text,
        item: index,
      });
    }
  });
  return words;
}

export function parsePodmanOptions(
  items: readonly string[],
  options: ParseOptions = {},
): PodmanOptions {
  const where = options.where ?? ((index: number) => `runtime.podman item ${index + 1}`);
  const state: State = new State(where, options.env === undefined, options.kept);
  const words = wordsOf(items, options, where);
  const next = (index: number): Word | undefined => words[index + 1];

  for (let index = 0; index < words.length; index++) {
    const word = words[index]!;
    state.item = word.item;
    state.written = word.text;
    const text = word.text;
    if (text.startsWith('--') && text.length > 2) {
      const equals = text.indexOf('=');
      const name = equals < 0 ? text : text.slice(0, equals);
      let value = equals < 0 ? undefined : text.slice(equals + 1);
      if (BOOLEAN.has(name)) {
        state.flag(name, value);
        continue;
      }
      const handler = Object.hasOwn(VALUED, name) ? VALUED[name] : undefined;
      if (
        value === undefined &&
        (handler || (!OTHER_FLAGS.has(name) && !next(index)?.text.startsWith('-')))
      ) {
        const following = next(index);
        if (following) {
          index++;
          value = following.text;
          state.written = `${text} ${value}`;
        }
      }
      if (!handler) state.refuse(name);
      if (value === undefined) state.fail('needs a value');
      handler(value, state);
    } else if (text.startsWith('-') && text.length > 1) {
      // A cluster such as -ti, where the last letter may take a value (-te A=1, -itv/a:/b).
      const body = text.slice(1);
      const flags: string[] = [];
      for (let k = 0; k < body.length; k++) {
        const letter = body[k]!;
        const long = Object.hasOwn(SHORT_VALUED, letter) ? SHORT_VALUED[letter] : undefined;
        if (long) {
          // pflag accepts -eA=B, -e=A=B and -e A=B.
          let value: string | undefined = body.slice(k + 1);
          if (value.startsWith('=')) value = value.slice(1);
          else if (value === '') {
            value = next(index)?.text;
            if (value !== undefined) {
              index++;
              state.written = `${text} ${value}`;
            }
          }
          if (value === undefined) state.fail('needs a value');
          VALUED[long]!(value, state);
          break;
        }
        if (!Object.hasOwn(NOOP_SHORT, letter)) {
          state.written = text;
          state.refuse(`-${letter}`);
        }
        flags.push(letter);
      }
      if (flags.length > 0) {
        state.out.noops.push({ option: `-${flags.join('')}`, reason: STDIO_REASON });
      }
    } else {
      state.fail('is not an option (a stray value?)');
    }
  }
  return state.out;
}

/** The `-e` entries as the final values and the names passed from the caller, later winning. */
export function envOverrides(env: readonly PodmanEnv[]): {
  values: Record<string, string>;
  fromCaller: string[];
} {
  const last = new Map<string, PodmanEnv>();
  for (const entry of env) {
    last.delete(entry.name);
    last.set(entry.name, entry);
  }
  const values: Record<string, string> = {};
  const fromCaller: string[] = [];
  for (const entry of last.values()) {
    if ('value' in entry) values[entry.name] = entry.value;
    else fromCaller.push(entry.name);
  }
  return { values, fromCaller };
}

/**
 * An `--env-file` as podman reads it: `NAME=VALUE` (the value as written, no quotes
 * removed), `NAME` or `PREFIX*` (the caller's value); blank lines and `#` comments are
 * skipped, leading blanks ignored. `file` names the file in messages.
 */
export function parseEnvFile(text: string, file: string): PodmanEnv[] {
  const entries: PodmanEnv[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = raw.replace(/^[ \t\r\n\v\f]+/, '').replace(/\r$/, '');
    if (line === '' || line.startsWith('#')) return;
    const equals = line.indexOf('=');
    const name = equals < 0 ? line : line.slice(0, equals);
    if (name === '' || /\s/.test(name)) {
      throw new PilotError(
        'PILOT_FLAKE_INVALID',
        `${file}:${index + 1}: ${quoteExcerpt(line)} is not NAME=VALUE`,
        { hint: 'fix the env file: one NAME=VALUE or NAME per line' },
      );
    }
    entries.push(equals < 0 ? { name, fromCaller: true } : { name, value: line.slice(equals + 1) });
  });
  return entries;
}
