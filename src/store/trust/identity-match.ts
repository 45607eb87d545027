/**
 * signedIdentity: which `docker-reference` a signature may claim for the image being
 * pulled (containers-policy.json(5)). Both sides are compared in the fully expanded form,
 * so a signature naming `busybox:latest` claims `docker.io/library/busybox:latest`.
 */

import {
  type DockerReference,
  parseDockerReference,
  referenceName,
  referenceString,
} from '../docker-reference.js';
import type { IdentityRule } from './policy.js';

function nameOnly(ref: DockerReference): boolean {
  return ref.tag === undefined && ref.digest === undefined;
}

/**
 * matchRepoDigestOrExact: a tag must be signed exactly; an image pulled by digest only
 * needs a signature for the same repository (the digest itself is checked separately).
 */
function repoDigestOrExact(intended: DockerReference, signed: DockerReference): boolean {
  if (nameOnly(signed)) return false;
  if (intended.tag !== undefined) return referenceString(signed) === referenceString(intended);
  if (intended.digest !== undefined) return referenceName(signed) === referenceName(intended);
  return false;
}

/** `ref` with `prefix` (a host or repository namespace) replaced by `signedPrefix`, if it starts with it. */
function remap(
  ref: DockerReference,
  prefix: string,
  signedPrefix: string,
): DockerReference | undefined {
  const name = referenceName(ref);
  if (name !== prefix && !name.startsWith(`${prefix}/`)) return ref;
  const remapped = parseDockerReference(signedPrefix + referenceString(ref).slice(prefix.length));
  return typeof remapped === 'string' ? undefined : remapped;
}

/** Whether a signature claiming `claimed` is accepted for the image `intended` under `rule`. */
export function identityMatches(
  rule: IdentityRule,
  intended: DockerReference,
  claimed: string,
): boolean {
  const signed = parseDockerReference(claimed);
  if (typeof signed === 'string') return false;
  switch (rule.type) {
    case 'matchExact':
      return !nameOnly(signed) && referenceString(signed) === referenceString(intended);
    case 'matchRepoDigestOrExact':
      return repoDigestOrExact(intended, signed);
    case 'matchRepository':
      return referenceName(signed) === referenceName(intended);
    case 'exactReference': {
      const wanted = parseDockerReference(rule.dockerReference);
      if (typeof wanted === 'string' || nameOnly(wanted) || nameOnly(signed)) return false;
      return referenceString(signed) === referenceString(wanted);
    }
    case 'exactRepository': {
      const wanted = parseDockerReference(rule.dockerRepository);
      return typeof wanted !== 'string' && referenceName(signed) === referenceName(wanted);
    }
    case 'remapIdentity': {
      const remapped = remap(intended, rule.prefix, rule.signedPrefix);
      return remapped !== undefined && repoDigestOrExact(remapped, signed);
    }
  }
}

/** The rule as a message names it: `matchRepoDigestOrExact`, `exactReference "host/repo:tag"`. */
export function describeIdentityRule(rule: IdentityRule): string {
  switch (rule.type) {
    case 'exactReference':
      return `exactReference "${rule.dockerReference}"`;
    case 'exactRepository':
      return `exactRepository "${rule.dockerRepository}"`;
    case 'remapIdentity':
      return `remapIdentity "${rule.prefix}" → "${rule.signedPrefix}"`;
    default:
      return rule.type;
  }
}
