/**
 * How a program pilot runs (zstd, tar, mount, rpm, podman, …) fails: one shape for both
 * runners, the execa one of the CLI (tool.ts) and the child_process one of the launch
 * path (tool-light.ts). The message says what the call was for, the exact command, and
 * how it ended (exit status, signal, timeout) with the tail of its stderr; a missing
 * program says so and names the Debian package that has it, so that a missing zstd never
 * reads as a corrupt archive.
 */
import { existsSync } from 'node:fs';
import { errnoOf, PilotError, type PilotErrorCode } from './errors.js';
import { escapeExcerpt, escapeName } from './excerpt.js';

/** The Debian package of each program pilot runs (`apt-get install PACKAGE`). */
export const TOOL_PACKAGES: Readonly<Record<string, string>> = {
  zstd: 'zstd',
  xz: 'xz-utils',
  tar: 'tar',
  mount: 'mount',
  umount: 'mount',
  du: 'coreutils',
  id: 'coreutils',
  sync: 'coreutils',
  mknod: 'coreutils',
  getent: 'libc-bin',
  getfattr: 'attr',
  setfattr: 'attr',
  rpm: 'rpm',
  rpmbuild: 'rpm',
  'dpkg-query': 'dpkg',
  'dpkg-deb': 'dpkg',
  podman: 'podman',
  skopeo: 'skopeo',
  gpgv: 'gpgv',
};

/** At most this much of a tool's stderr goes into a message: its last lines, its last bytes. */
const TAIL_LINES = 6;
const TAIL_CHARS = 1000;
/** A command line longer than this (overlay mounts name every layer) is cut in the message. */
const COMMAND_CHARS = 240;

/** What one run of a tool gave, as both runners see it. */
export interface ToolOutcome {
  argv: readonly string[];
  /** What the call is for, as the start of the message: "cannot decompress foo.tar.zst". */
  purpose?: string | undefined;
  /** The error of spawning it (ENOENT: not installed), when it never ran. */
  spawnError?: unknown;
  /** Its working directory: a missing one fails the spawn with ENOENT too. */
  cwd?: string | undefined;
  exitCode?: number | null | undefined;
  signal?: string | null | undefined;
  timedOut?: boolean | undefined;
  /** Milliseconds, for the timeout's message. */
  timeout?: number | undefined;
  /** Its output went past maxBuffer (the runner killed it). */
  overflowed?: boolean | undefined;
  stderr?: string | Uint8Array | undefined;
}

/** What a caller may say about a failure: the code and hint that fit its data. */
export interface ToolErrorOptions {
  /** The code of a tool that ran and failed (default PILOT_TOOL_FAILED). */
  code?: PilotErrorCode | undefined;
  hint?: string | undefined;
  /** Rewrites the tool's stderr before its tail is quoted (drops a name meaningless here). */
  stderrFilter?: ((stderr: string) => string) | undefined;
  /** What pilot exits with (default: 1; the launcher's own failures are 125). */
  exitCode?: number | undefined;
}

export interface ToolOptions extends ToolErrorOptions {
  /** What the call is for, the start of its error message: "cannot pull busybox". */
  purpose?: string | undefined;
  /** Its stdin (default: none). */
  input?: string | Uint8Array | undefined;
  /** Added to pilot's own environment. */
  env?: Readonly<Record<string, string | undefined>> | undefined;
  /** Milliseconds; the tool is killed after it (default: none). */
  timeout?: number | undefined;
  cwd?: string | undefined;
  /**
   * Exit statuses that answer a question rather than fail (`podman image exists`: 1);
   * 'any' for a probe that reports whatever status it got.
   */
  okExitCodes?: readonly number[] | 'any' | undefined;
  /** Bytes of stdout (or of any other pipe) past which the tool is stopped. */
  maxBuffer?: number | undefined;
  /** Pipes past stderr (gpgv's --status-fd 3): each is read as stdout is. */
  extraPipes?: number | undefined;
}

/** A failed tool: a PilotError that keeps how the tool ended for callers that branch on it. */
export class ToolError extends PilotError {
  readonly argv: readonly string[];
  /** The tool's exit status (`exitCode` is the one pilot exits with). */
  readonly status: number | undefined;
  readonly signal: string | undefined;
  readonly timedOut: boolean;
  /** Stopped for writing more than maxBuffer. */
  readonly overflowed: boolean;
  readonly missing: boolean;
  readonly stderr: string;

  constructor(
    code: PilotErrorCode,
    message: string,
    outcome: ToolOutcome,
    options: { hint?: string | undefined; exitCode?: number | undefined },
  ) {
    super(code, message, {
      hint: options.hint,
      cause: outcome.spawnError,
      ...(options.exitCode === undefined ? {} : { exitCode: options.exitCode }),
    });
    this.name = 'ToolError';
    this.argv = outcome.argv;
    this.status = outcome.exitCode ?? undefined;
    this.signal = outcome.signal ?? undefined;
    this.timedOut = outcome.timedOut === true;
    this.overflowed = outcome.overflowed === true;
    this.missing = code === 'PILOT_TOOL_MISSING';
    this.stderr = textOf(outcome.stderr);
  }
}

function textOf(data: string | Uint8Array | undefined): string {
  if (data === undefined) return '';
  return typeof data === 'string' ? data : Buffer.from(data).toString();
}

/** `argv` as a shell would read it back, cut to a readable length. */
export function commandLine(argv: readonly string[]): string {
  const words = argv.map((raw) => {
    const word = escapeName(raw); // a control character is shown, never sent to the terminal
    return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
  });
  const line = words.join(' ');
  return line.length > COMMAND_CHARS ? `${line.slice(0, COMMAND_CHARS)}…` : line;
}

/**
 * The last lines of a tool's stderr, escaped, at most TAIL_LINES lines and TAIL_CHARS
 * characters: what it said last is why it failed; a tool that writes megabytes of
 * warnings does not flood the message.
 */
export function stderrTail(stderr: string | Uint8Array | undefined): string {
  const text = textOf(stderr);
  const lines = text.slice(-4 * TAIL_CHARS).split('\n');
  const kept = lines
    .map((line) => line.trimEnd())
    .filter(Boolean)
    .slice(-TAIL_LINES)
    .map((line) => escapeExcerpt(line, TAIL_CHARS));
  let tail = kept.join('\n');
  if (tail.length > TAIL_CHARS) tail = `…${tail.slice(-TAIL_CHARS)}`;
  return tail;
}

/** How a tool that did not run is told: the program's name, and its package when known. */
function notInstalled(program: string): { message: string; hint: string } {
  const name = program.split('/').at(-1) ?? program;
  const pkg = TOOL_PACKAGES[name];
  if (program.includes('/')) {
    return {
      message: `${escapeExcerpt(program, COMMAND_CHARS)} does not exist`,
      hint: pkg
        ? `install ${pkg} (apt-get install ${pkg}), or check the path`
        : 'check the path, or reinstall pilot when it is one of its own files',
    };
  }
  return {
    message: pkg
      ? `${name} is not installed (apt-get install ${pkg})`
      : `${escapeExcerpt(name)} is not installed (not found in PATH)`,
    hint: `install ${pkg ?? name}; "pilot doctor" lists the tools pilot needs`,
  };
}

/** How a tool that ran ended, for the message: "exited with status 2", "was killed by SIGKILL". */
function howItEnded(outcome: ToolOutcome): string {
  if (outcome.timedOut) {
    const seconds = outcome.timeout === undefined ? '' : ` within ${outcome.timeout / 1000} s`;
    return `did not finish${seconds} and was stopped`;
  }
  if (outcome.overflowed) return 'wrote more output than pilot reads and was stopped';
  if (outcome.signal) return `was killed by ${outcome.signal}`;
  return `exited with status ${outcome.exitCode}`;
}

/** Whether `status` is one the caller allowed. */
export function allowedExit(status: number, ok: ToolOptions['okExitCodes']): boolean {
  return ok === 'any' || (ok ?? [0]).includes(status);
}

/** The PilotError for a tool that could not run or failed. */
export function toolError(outcome: ToolOutcome, options: ToolErrorOptions = {}): ToolError {
  const prefix = outcome.purpose ? `${outcome.purpose}: ` : '';
  const program = outcome.argv[0] ?? '';
  const errno = errnoOf(outcome.spawnError);
  if (outcome.spawnError !== undefined && errno === 'ENOENT' && outcome.cwd !== undefined) {
    if (!existsSync(outcome.cwd)) {
      return new ToolError(
        options.code ?? 'PILOT_TOOL_FAILED',
        `${prefix}cannot run ${commandLine([program])}: its working directory ${escapeExcerpt(outcome.cwd, COMMAND_CHARS)} does not exist`,
        outcome,
        options,
      );
    }
  }
  if (outcome.spawnError !== undefined && errno === 'ENOENT') {
    const { message, hint } = notInstalled(program);
    return new ToolError('PILOT_TOOL_MISSING', `${prefix}${message}`, outcome, {
      hint,
      exitCode: options.exitCode,
    });
  }
  if (outcome.spawnError !== undefined && !outcome.timedOut && !outcome.overflowed) {
    const why =
      errno === 'EACCES'
        ? 'permission denied (not executable)'
        : escapeExcerpt(String((outcome.spawnError as Error).message ?? outcome.spawnError), 200);
    return new ToolError(
      options.code ?? 'PILOT_TOOL_FAILED',
      `${prefix}cannot run ${commandLine([program])}: ${why}`,
      outcome,
      options,
    );
  }
  const stderr = textOf(outcome.stderr);
  const tail = stderrTail(options.stderrFilter ? options.stderrFilter(stderr) : stderr);
  const said =
    tail === ''
      ? ''
      : tail.includes('\n')
        ? `:\n    ${tail.replaceAll('\n', '\n    ')}`
        : `: ${tail}`;
  return new ToolError(
    options.code ?? 'PILOT_TOOL_FAILED',
    `${prefix}\`${commandLine(outcome.argv)}\` ${howItEnded(outcome)}${said}`,
    outcome,
    options,
  );
}
