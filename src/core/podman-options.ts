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
 *
 * This file reads the words (option names, clusters such as `-ti`, values); what each
 * value means is podman-option-values.ts, the mounts podman-mounts.ts, and the
 * environment they give the app podman-env.ts.
 */
import { isPilotError, PilotError } from './errors.js';
import { addMount, addTmpfs, addVolume } from './podman-mounts.js';
import { NOOP_FLAGS, NOOP_SHORT, OptionState, STDIO_REASON } from './podman-option-values.js';
import { expandPlaceholders, splitPodmanWords } from './podman-words.js';

// The environment the options give (podman-env.ts) is part of the same API.
export { envOverrides, parseEnvFile } from './podman-env.js';
export { SUPPORTED_OPTIONS } from './podman-option-values.js';
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

type Handler = (value: string, state: OptionState) => void;

/** Options with a value, by every name podman gives them. */
const VALUED: Record<string, Handler> = {
  '--env': (v, s) => s.addEnv(v),
  '--env-file': (v, s) => s.addEnvFile(v),
  '--volume': (v, s) => addVolume(s, v),
  '--mount': (v, s) => addMount(s, v),
  '--workdir': (v, s) => s.setWorkdir(v),
  '--entrypoint': (v, s) => s.setEntrypoint(v),
  '--user': (v, s) => s.setUser(v),
  '--network': (v, s) => s.setNetwork(v),
  '--net': (v, s) => s.setNetwork(v),
  '--cap-drop': (v, s) => s.addCaps(v, s.out.capDrop),
  '--cap-add': (v, s) => s.addCaps(v, s.out.capAdd),
  '--security-opt': (v, s) => s.securityOpt(v),
  '--tmpfs': (v, s) => addTmpfs(s, v),
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
  // Typed explicitly: TypeScript narrows after a `never` method only on a declared type.
  const state: OptionState = new OptionState(where, options.env === undefined, options.kept);
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
