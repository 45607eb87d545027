/**
 * Performs a launch plan: spawns the exec helper (which becomes the app by
 * execve, so the app is our direct child), with the caller's stdio, forwards
 * signals and reports how it ended. Node cannot execve itself; this is the one
 * process between the caller and the app.
 *
 * The helper's command line and environment are bytes (core/bytes.ts): spawn()
 * would encode them as UTF-8 and lose every byte of a caller's argument that is
 * not. So the helper starts with an empty environment and `--argv-fd 3`, and reads
 * its words, NUL-terminated, from that pipe: `--environ` for each variable of
 * `env` (the caller's; pilot-exec applies the environment rules, docs/plan.md), then `argv`.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { joinNul } from '../core/bytes.js';
import { formatError } from '../core/errors.js';
import { toolError } from '../core/tool-error.js';

export const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGWINCH'] as const;

/** The words the helper reads from its argv fd: the caller's environment as `--environ`, then `argv`. */
export function helperWords(
  argv: readonly string[],
  env: Readonly<Record<string, string>>,
): Buffer {
  const environ = Object.entries(env).flatMap(([key, value]) => ['--environ', `${key}=${value}`]);
  return joinNul([...environ, ...argv]);
}

/**
 * Runs `helper argv` with `env` and resolves with the launcher's exit code (the app's,
 * or 128+N). `onStart` gets the helper's pid, the app's to be, while the child cannot
 * have been reaped yet (its /proc entry, start time included, is still there).
 */
export function runHelper(
  helper: string,
  argv: readonly string[],
  env: Readonly<Record<string, string>>,
  onStart?: (pid: number) => void,
): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(helper, ['--argv-fd', '3'], {
      stdio: ['inherit', 'inherit', 'inherit', 'pipe'],
      env: {},
    });
    if (child.pid !== undefined) onStart?.(child.pid);
    const words = child.stdio[3] as NodeJS.WritableStream | null;
    // A helper that dies before it read everything closes the pipe (EPIPE): its own
    // exit status says why, the write error adds nothing.
    words?.on('error', () => {});
    words?.end(helperWords(argv, env));
    const handlers = new Map<string, () => void>();
    for (const signal of FORWARDED_SIGNALS) {
      const handler = () => {
        // A terminal's ^C / ^\ already reach the app, which shares our process
        // group; sending them again would deliver them twice.
        if ((signal === 'SIGINT' || signal === 'SIGQUIT') && process.stdin.isTTY) return;
        child.kill(signal);
      };
      handlers.set(signal, handler);
      process.on(signal, handler);
    }
    const finish = (code: number) => {
      for (const [signal, handler] of handlers) process.off(signal, handler);
      resolve(code);
    };
    child.on('error', (error) => {
      // The one spawn of the launch that is no tool run (stdio is the app's), failing alike.
      const failure = toolError({
        argv: [helper],
        purpose: 'cannot start the app',
        spawnError: error,
      });
      process.stderr.write(`${formatError(failure)}\n`);
      finish(126);
    });
    child.on('exit', (code, signal) => {
      if (signal) finish(128 + (constants.signals[signal] ?? 0));
      else finish(code ?? 125);
    });
  });
}
