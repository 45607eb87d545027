/**
 * The caller's arguments, environment and cwd, byte for byte (see core/bytes.ts).
 * `process.argv`, `process.env` and `process.cwd()` have already lost every byte
 * that is not UTF-8; the kernel still has them: /proc/self/cmdline and
 * /proc/self/environ as this process was exec'd, and the cwd's link.
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { decodeBytes, splitNul } from '../core/bytes.js';
import { errnoOf, PilotError } from '../core/errors.js';

export interface CallerBytes {
  args: string[];
  env: Record<string, string>;
  cwd: string;
  /** The cwd was removed: `cwd` is where it was (the app runs in it all the same). */
  cwdDeleted: boolean;
}

/**
 * `lossyArgs` are `process.argv.slice(2)`: the raw arguments are the same number of
 * words at the end of the command line (node's own options come before the script).
 * Where /proc cannot be read or does not agree with Node, Node's values are used.
 */
export function callerBytes(
  lossyArgs: readonly string[],
  lossyEnv: NodeJS.ProcessEnv,
  lossyCwd: () => string,
): CallerBytes {
  const cwd = callerCwd(lossyCwd, () => readlinkSync('/proc/self/cwd', { encoding: 'buffer' }));
  return { args: rawArgs(lossyArgs), env: rawEnv(lossyEnv), ...cwd };
}

function readProc(name: string): Buffer | undefined {
  try {
    return readFileSync(`/proc/self/${name}`);
  } catch {
    return undefined;
  }
}

/** Lossy decoding, as Node does it: the check that a raw word is the one Node saw. */
function lossy(word: string): string {
  return Buffer.from(word, 'utf8').toString('utf8');
}

function rawArgs(lossyArgs: readonly string[]): string[] {
  const cmdline = readProc('cmdline');
  if (!cmdline || lossyArgs.length === 0) return [...lossyArgs];
  const words = splitNul(cmdline);
  const raw = words.slice(words.length - lossyArgs.length);
  if (raw.length !== lossyArgs.length || raw.some((word, i) => lossy(word) !== lossyArgs[i])) {
    return [...lossyArgs];
  }
  return raw;
}

/**
 * The environment this process was started with, minus what Node's code has
 * deleted since (the launcher drops PILOT_LAUNCH_AS). The first of two entries
 * with the same name wins, as getenv(3) has it; an entry without `=` is dropped.
 */
function rawEnv(lossyEnv: NodeJS.ProcessEnv): Record<string, string> {
  const environ = readProc('environ');
  const env: Record<string, string> = {};
  if (!environ) {
    for (const [key, value] of Object.entries(lossyEnv)) if (value !== undefined) env[key] = value;
    return env;
  }
  const kept = new Set(Object.keys(lossyEnv));
  for (const entry of splitNul(environ)) {
    const eq = entry.indexOf('=');
    if (eq <= 0) continue;
    const key = entry.slice(0, eq);
    if (!Object.hasOwn(env, key) && kept.has(lossy(key))) env[key] = entry.slice(eq + 1);
  }
  return env;
}

const DELETED = ' (deleted)';

/**
 * The cwd's bytes from its link. A directory removed while the caller works in it is
 * still its cwd (a native program runs there: empty, getcwd() fails with ENOENT); Node's
 * process.cwd() then fails with ENOENT and the link reads "PATH (deleted)". The app runs
 * in it too (the exec helper holds it by descriptor, --rbind-cwd): `cwd` is PATH, for
 * messages and the bind's name. A live directory whose name ends in " (deleted)" is told
 * apart by process.cwd() working.
 */
export function callerCwd(
  lossyCwd: () => string,
  readLink: () => Buffer,
): { cwd: string; cwdDeleted: boolean } {
  let lossy: string | undefined;
  let failure: unknown;
  try {
    lossy = lossyCwd();
  } catch (error) {
    failure = error;
  }
  let link: string | undefined;
  try {
    link = decodeBytes(readLink());
  } catch {
    // no /proc: Node's view
  }
  if (lossy !== undefined) {
    return { cwd: link?.startsWith('/') ? link : lossy, cwdDeleted: false };
  }
  if (errnoOf(failure) === 'ENOENT' && link?.startsWith('/') && link.endsWith(DELETED)) {
    return { cwd: link.slice(0, -DELETED.length), cwdDeleted: true };
  }
  throw new PilotError(
    'PILOT_RUNTIME',
    `cannot tell the working directory: ${errnoOf(failure) === 'ENOENT' ? 'it was deleted, and /proc/self/cwd does not say where it was' : (failure as Error).message}`,
    {
      hint: 'change to an existing directory and run the app again',
      exitCode: 125,
      cause: failure,
    },
  );
}
