/**
 * The launch path's way to run a program (mount, umount, tar, zstd, rpm, getent, the
 * exec helper building a host layer, …): node:child_process, with the error shape of
 * the CLI's runTool (tool-error.ts). Why not execa here too: everything the launcher
 * bundle loads counts against its start-up, and importing execa costs ~75 ms of it
 * (more than a whole warm launch); this file costs nothing beyond what Node has loaded.
 * Only modules the launcher loads use it; everything else uses tool.ts.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { allowedExit, type ToolError, type ToolOptions, toolError } from './tool-error.js';

/** What a tool's stderr is kept of while it runs: its end, which says why it failed. */
const STDERR_KEPT = 64 * 1024;

export type LightToolOptions = Omit<ToolOptions, 'extraPipes'>;

export interface LightToolResult<Output> {
  exitCode: number;
  stdout: Output;
  stderr: string;
}

function environment(env: LightToolOptions['env']): NodeJS.ProcessEnv | undefined {
  if (env === undefined) return undefined;
  const merged: NodeJS.ProcessEnv = { ...process.env };
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) delete merged[key];
    else merged[key] = value;
  }
  return merged;
}

/** Runs `argv` to its end (synchronously: the launch path's callers are); as runTool. */
export function runToolLight<E extends 'utf8' | 'buffer' = 'utf8'>(
  argv: readonly string[],
  options: LightToolOptions & { encoding?: E } = {},
): LightToolResult<E extends 'buffer' ? Buffer : string> {
  const [program, ...args] = argv;
  const r = spawnSync(program ?? '', args, {
    input: options.input,
    env: environment(options.env),
    timeout: options.timeout,
    cwd: options.cwd,
    maxBuffer: options.maxBuffer ?? 64 << 20,
    stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  const errno = (r.error as NodeJS.ErrnoException | undefined)?.code;
  if (r.error !== undefined || r.status === null || !allowedExit(r.status, options.okExitCodes)) {
    throw toolError(
      {
        argv,
        purpose: options.purpose,
        cwd: options.cwd,
        spawnError:
          r.error !== undefined && errno !== 'ETIMEDOUT' && errno !== 'ENOBUFS'
            ? r.error
            : undefined,
        exitCode: r.status,
        signal: errno === 'ETIMEDOUT' || errno === 'ENOBUFS' ? undefined : r.signal,
        timedOut: errno === 'ETIMEDOUT',
        timeout: options.timeout,
        overflowed: errno === 'ENOBUFS',
        stderr: r.stderr ?? undefined,
      },
      options,
    );
  }
  const stdout = options.encoding === 'buffer' ? r.stdout : r.stdout.toString();
  return {
    exitCode: r.status,
    stdout: stdout as E extends 'buffer' ? Buffer : string,
    stderr: r.stderr.toString(),
  };
}

export interface StartedTool {
  child: ChildProcess;
  /** Settles when the tool has ended: resolved by an allowed exit status, else a ToolError. */
  exit: Promise<void>;
}

/**
 * Starts `argv` with piped stdin, stdout (or `stdout: 'ignore'`) and stderr, for callers
 * that stream (a decompressor, tar reading a layer); `exit` says how it ended, with the
 * tail of its stderr in the error. The caller owns stdin and stdout.
 */
export function startToolLight(
  argv: readonly string[],
  options: Omit<LightToolOptions, 'input' | 'timeout' | 'maxBuffer'> & {
    stdout?: 'pipe' | 'ignore';
  } = {},
): StartedTool {
  const [program, ...args] = argv;
  const child = spawn(program ?? '', args, {
    cwd: options.cwd,
    env: environment(options.env),
    stdio: ['pipe', options.stdout ?? 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-STDERR_KEPT);
  });
  const exit = new Promise<void>((resolve, reject) => {
    let spawnError: unknown;
    // A spawn failure (ENOENT) comes as 'error', then 'close' with a negative errno.
    child.on('error', (error) => {
      spawnError = error;
    });
    child.on('close', (code, signal) => {
      if (spawnError === undefined && code !== null && allowedExit(code, options.okExitCodes))
        return resolve();
      const failure: ToolError = toolError(
        {
          argv,
          purpose: options.purpose,
          cwd: options.cwd,
          spawnError,
          exitCode: spawnError === undefined ? code : undefined,
          signal,
          stderr,
        },
        options,
      );
      reject(failure);
    });
  });
  // Nobody may be waiting yet (a caller still feeding stdin): no unhandled rejection.
  exit.catch(() => {});
  return { child, exit };
}
