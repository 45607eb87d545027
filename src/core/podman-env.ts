/**
 * The environment a flake's podman options give the app: the `-e` entries as they
 * apply (a later one for the same name wins) and podman's `--env-file` format, read
 * at launch. Pure: the launcher reads the file, this reads its text.
 */
import { PilotError } from './errors.js';
import { quoteExcerpt } from './excerpt.js';
import type { PodmanEnv } from './podman-options.js';

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
