/**
 * Image names read from archives (docker RepoTags, OCI ref annotations) and given by
 * users: which are valid, and why one is not, so that a name pilot cannot use is named
 * in a warning instead of dropped without a word.
 */
import { PilotError } from '../core/errors.js';
import { quoteExcerpt } from '../core/excerpt.js';
import { normalizeRef } from '../core/image-record.js';
import { isObject } from './image-config.js';

const REF_NAME = 'org.opencontainers.image.ref.name';
const CONTAINERD_NAME = 'io.containerd.image.name';

/** Loose check of an image reference: registry/path:tag or @digest, no spaces. */
const refPattern = /^[a-z0-9][a-z0-9._\-/:]*(?:@sha256:[a-f0-9]{64})?$/i;

export function validRef(ref: string): boolean {
  return refProblem(ref) === undefined;
}

/** Why `ref` is not a valid image name (for a warning or an error), or undefined. */
export function refProblem(ref: string): string | undefined {
  if (ref === '') return 'it is empty';
  if (ref.length > 512) return `it is ${ref.length} characters long (at most 512)`;
  if (ref.includes('//')) return 'it has an empty path component ("//")';
  if (!/^[a-z0-9]/i.test(ref))
    return `it starts with ${quoteExcerpt(ref[0]!)}, not a letter or digit`;
  const bad = /[^a-z0-9._\-/:@]/i.exec(ref);
  if (bad)
    return `it has the character ${quoteExcerpt(bad[0])} (names use letters, digits, ".", "_", "-", "/" and ":")`;
  if (!refPattern.test(ref)) return 'its "@" is not followed by a sha256 digest';
  return undefined;
}

/** `load --name NAME`: refused before anything is read, saying what is wrong with it. */
export function checkGivenName(name: string): void {
  if (name === '') {
    throw new PilotError('PILOT_USAGE', '--name is empty: it is the name the loaded image gets', {
      hint: 'give one, e.g. --name basepython:3.11, or leave --name out to keep the names the archive has',
    });
  }
  const problem = refProblem(name);
  if (problem !== undefined) {
    throw new PilotError(
      'PILOT_USAGE',
      `--name ${quoteExcerpt(name)} is not a valid image name: ${problem}`,
      { hint: 'e.g. --name basepython:3.11 or --name registry.example.com/team/app:1.0' },
    );
  }
}

/** Where a reader of an archive reports what it skipped (a name it cannot use). */
export type Warn = (message: string) => void;

/** The first `limit` warnings as they come, then one line that counts the rest. */
export function limitWarnings(warn: Warn, limit = 10): { warn: Warn; finish: () => void } {
  let count = 0;
  return {
    warn: (message) => {
      if (++count <= limit) warn(message);
    },
    finish: () => {
      if (count > limit) warn(`… and ${count - limit} more warning(s) like these`);
    },
  };
}

/** `a JSON number`, `null`, `a list`: what a value that should be a string is. */
export function jsonTypeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'an object' : `a JSON ${typeof value}`;
}

/** Names from an OCI index entry; a bare tag needs --name to become a name. */
export function ociNames(
  source: string,
  annotations: Record<string, string> | undefined,
  given: string | undefined,
  warn: Warn,
): string[] {
  const names: string[] = [];
  let bareTag: string | undefined;
  for (const key of [REF_NAME, CONTAINERD_NAME]) {
    const value = isObject(annotations) ? annotations[key] : undefined;
    if (typeof value !== 'string' || value === '') continue;
    const problem = refProblem(value);
    if (problem !== undefined) {
      warn(
        `${source}: index.json: ignoring the name ${quoteExcerpt(value)} (annotation ${key}): ${problem}; load with --name REF to name the image`,
      );
      continue;
    }
    if (value.includes('/') || value.includes(':')) names.push(normalizeRef(value));
    else if (key === REF_NAME) bareTag = value;
  }
  if (given !== undefined) {
    const hasTag = normalizeRef(given) === given || given.includes('@');
    names.push(bareTag && !hasTag ? `${given}:${bareTag}` : normalizeRef(given));
  }
  return names;
}

/** The names a docker-archive's RepoTags give an image (`configName` names it in warnings). */
export function repoTagNames(
  source: string,
  configName: string,
  tags: readonly unknown[],
  warn: Warn,
): string[] {
  const names: string[] = [];
  for (const tag of tags) {
    // docker save writes "<none>:<none>" for an image without a name: nothing to say.
    if (typeof tag === 'string' && tag.startsWith('<none>')) continue;
    const problem =
      typeof tag === 'string' ? refProblem(tag) : `it is ${jsonTypeOf(tag)}, not a string`;
    if (typeof tag === 'string' && problem === undefined) {
      names.push(normalizeRef(tag));
      continue;
    }
    const shown = typeof tag === 'string' ? ` ${quoteExcerpt(tag)}` : '';
    warn(
      `${source}: manifest.json: ignoring the RepoTags entry${shown} of ${configName}: ${problem}; load with --name REF to name the image`,
    );
  }
  return names;
}
