/**
 * Deterministic fault points, for the tests that kill a command at each of its commit
 * points in turn (test/cli/fault-points.test.ts) instead of after a guessed delay.
 *
 *   PILOT_FAULT_LOG=FILE   append "N what" for every point this process reaches
 *   PILOT_FAULT_AT=N       SIGKILL this process when it reaches its Nth point
 *
 * A point sits just before each step that changes what readers see (a rename, link or
 * unlink into place), so that killing at point N leaves exactly the state after N-1
 * commits plus whatever temp entries step N had prepared. Without either variable a
 * point costs one environment lookup. The variables only ever end the process that
 * reads them, so a caller can hurt nobody but itself with them.
 */
import { appendFileSync } from 'node:fs';

let reached = 0;

export function faultPoint(what: string): void {
  const at = process.env.PILOT_FAULT_AT;
  const log = process.env.PILOT_FAULT_LOG;
  if (at === undefined && log === undefined) return;
  reached++;
  if (log) appendFileSync(log, `${reached} ${what.replace(/\s+/g, ' ')}\n`);
  if (at !== undefined && Number(at) === reached) process.kill(process.pid, 'SIGKILL');
}
