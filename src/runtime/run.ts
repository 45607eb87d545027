/**
 * Performs a launch plan: spawns the exec helper (which becomes the app by
 * execve, so the app is our direct child), with the caller's stdio, forwards
 * signals and reports how it ended. Node cannot execve itself; this is the one
 * process between the caller and the app.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';

export const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGWINCH'] as const;

/**
 * Runs `helper argv` and resolves with the launcher's exit code (the app's, or 128+N).
 * `onStart` gets the helper's pid, the app's to be, while the child cannot have been
 * reaped yet (its /proc entry, start time included, is still there).
 */
export function runHelper(
  helper: string,
  argv: readonly string[],
  onStart?: (pid: number) => void,
): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(helper, argv, { stdio: 'inherit' });
    if (child.pid !== undefined) onStart?.(child.pid);
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
      process.stderr.write(`pilot: cannot start ${helper}: ${error.message}\n`);
      finish(126);
    });
    child.on('exit', (code, signal) => {
      if (signal) finish(128 + (constants.signals[signal] ?? 0));
      else finish(code ?? 125);
    });
  });
}
