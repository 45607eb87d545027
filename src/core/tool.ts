/**
 * The one way the CLI runs a program (podman, skopeo, gpgv, rpmbuild, dpkg-deb, getfattr,
 * …): `runTool(argv, options)` on execa. A tool that is missing, exits with a status the
 * caller did not allow, dies of a signal, overruns its timeout or its output limit is a
 * ToolError (tool-error.ts): the command, how it ended, the tail of its stderr, and the
 * package to install when it is missing. Nothing the launcher loads imports this file:
 * execa costs the launcher's start-up ~75 ms; the launch path has tool-light.ts, which
 * fails the same way.
 */
import { execa, execaSync } from 'execa';
import { allowedExit, type ToolOptions, toolError } from './tool-error.js';

export type { ToolOptions } from './tool-error.js';

export interface ToolResult<Output> {
  exitCode: number;
  stdout: Output;
  stderr: string;
  /** The pipes past stderr (options.extraPipes), as bytes. */
  extra: Buffer[];
}

type Encoding = 'utf8' | 'buffer';
type OutputOf<E extends Encoding> = E extends 'buffer' ? Buffer : string;

interface ExecaOutcome {
  failed: boolean;
  exitCode?: number | undefined;
  signal?: string | undefined;
  timedOut: boolean;
  isMaxBuffer: boolean;
  cause?: unknown;
  stdout?: unknown;
  stderr?: unknown;
  stdio: readonly unknown[];
}

function execaOptions(options: ToolOptions, encoding: Encoding) {
  const extra = options.extraPipes ?? 0;
  return {
    reject: false,
    input: options.input,
    env: options.env,
    timeout: options.timeout,
    cwd: options.cwd,
    maxBuffer: options.maxBuffer,
    encoding,
    // Bytes stay as the tool wrote them (a signed payload); text loses its last newline.
    stripFinalNewline: encoding === 'utf8',
    stdio: [
      options.input === undefined ? 'ignore' : 'pipe',
      'pipe',
      'pipe',
      ...Array(extra).fill('pipe'),
    ],
  } as const;
}

function settle<E extends Encoding>(
  argv: readonly string[],
  options: ToolOptions,
  result: ExecaOutcome,
): ToolResult<OutputOf<E>> {
  const stderr = bytesOrText(result.stderr);
  if (result.exitCode === undefined || !allowedExit(result.exitCode, options.okExitCodes)) {
    throw toolError(
      {
        argv,
        purpose: options.purpose,
        cwd: options.cwd,
        // execa reports a spawn failure (ENOENT, EACCES) as a result with no exit status.
        spawnError:
          result.exitCode === undefined && !result.signal && !result.timedOut && !result.isMaxBuffer
            ? (result.cause ?? result)
            : undefined,
        exitCode: result.exitCode,
        signal: result.signal,
        timedOut: result.timedOut,
        timeout: options.timeout,
        overflowed: result.isMaxBuffer,
        stderr,
      },
      options,
    );
  }
  return {
    exitCode: result.exitCode,
    stdout: (typeof result.stdout === 'string'
      ? result.stdout
      : Buffer.from(result.stdout as Uint8Array)) as OutputOf<E>,
    stderr: typeof stderr === 'string' ? stderr : Buffer.from(stderr).toString(),
    extra: result.stdio.slice(3).map((pipe) => Buffer.from((pipe ?? []) as Uint8Array)),
  };
}

function bytesOrText(data: unknown): string | Uint8Array {
  if (typeof data === 'string' || data instanceof Uint8Array) return data;
  return '';
}

/** Runs `argv` to its end; its stdout as text (or bytes with `encoding: 'buffer'`). */
export async function runTool<E extends Encoding = 'utf8'>(
  argv: readonly string[],
  options: ToolOptions & { encoding?: E } = {},
): Promise<ToolResult<OutputOf<E>>> {
  const [program, ...args] = argv;
  const result = await execa(
    program ?? '',
    args,
    execaOptions(options, options.encoding ?? 'utf8'),
  );
  return settle<E>(argv, options, result as unknown as ExecaOutcome);
}

/** runTool for the few callers that cannot wait (a synchronous command handler). */
export function runToolSync<E extends Encoding = 'utf8'>(
  argv: readonly string[],
  options: ToolOptions & { encoding?: E } = {},
): ToolResult<OutputOf<E>> {
  const [program, ...args] = argv;
  const result = execaSync(program ?? '', args, execaOptions(options, options.encoding ?? 'utf8'));
  return settle<E>(argv, options, result as unknown as ExecaOutcome);
}
