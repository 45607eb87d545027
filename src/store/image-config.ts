/**
 * The parts of an image config pilot uses (Env, Entrypoint, Cmd, WorkingDir, User,
 * StopSignal, Labels), checked against the types the OCI image spec gives them. The
 * config is JSON anyone can write: a field of another type is refused here, by name,
 * where the archive is read, instead of failing later in the launcher (`Env: 5` is not
 * iterable) or, worse, being read as something else (`Entrypoint: "sh"` ran `s`).
 */
import { PilotError } from '../core/errors.js';
import type { ImageConfig } from '../core/image-record.js';

export function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

const isString = (value: unknown): value is string => typeof value === 'string';
const isStrings = (value: unknown): value is string[] =>
  Array.isArray(value) && value.every(isString);

/** Each key with what it must be; `null` is what Docker writes for an unset list or map. */
const FIELDS: Record<keyof ImageConfig, { check: (value: unknown) => boolean; want: string }> = {
  Env: { check: isStrings, want: 'a list of strings' },
  Entrypoint: { check: (v) => v === null || isStrings(v), want: 'a list of strings or null' },
  Cmd: { check: (v) => v === null || isStrings(v), want: 'a list of strings or null' },
  WorkingDir: { check: isString, want: 'a string' },
  User: { check: isString, want: 'a string' },
  StopSignal: { check: isString, want: 'a string' },
  Labels: {
    check: (v) => v === null || (isObject(v) && Object.values(v).every(isString)),
    want: 'a mapping of strings or null',
  },
};

function describeJson(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'a mapping' : `a ${typeof value}`;
}

/**
 * The fields pilot uses from `raw.config` (absent or null: none). `where` names the config
 * in messages, e.g. `image.tar: image config blobs/sha256/ab…`.
 */
export function pickImageConfig(where: string, config: unknown): ImageConfig {
  if (config === undefined || config === null) return {};
  if (!isObject(config)) {
    throw invalidConfig(where, `"config" is ${describeJson(config)}, not a mapping`);
  }
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(FIELDS)) {
    const value = config[key];
    // null for a list or map Docker left unset; for a string, read as unset too.
    if (value === undefined || (value === null && !field.check(null))) continue;
    if (!field.check(value)) {
      throw invalidConfig(where, `config.${key} is ${describeJson(value)}, not ${field.want}`);
    }
    out[key] = value;
  }
  return out as ImageConfig;
}

function invalidConfig(where: string, why: string): PilotError {
  return new PilotError('PILOT_IMAGE_INVALID', `${where}: ${why}`, {
    hint: 'the image config does not follow the OCI image spec; rebuild the image with a standard tool (podman, buildah, docker)',
  });
}
