/**
 * Image references as the containers tools read them (containers/image's docker
 * references, after distribution/reference): `[host[:port]/]path[:tag][@sha256:hex]`.
 * The first component names a registry only when it has a `.` or `:` or is `localhost`
 * ("fully qualified", DESIGN.md); otherwise the image is on docker.io, and a one-part
 * path there is under `library/`.
 */
import { PilotError } from '../../core/errors.js';
import { quoteExcerpt } from '../../core/excerpt.js';
import { isFullyQualified } from '../../core/image-record.js';

export const DOCKER_HUB = 'docker.io';
/** Where docker.io's registry API answers. */
export const DOCKER_HUB_API = 'registry-1.docker.io';

export interface RegistryReference {
  /** `host[:port]` as written ("docker.io" for Docker Hub). */
  registry: string;
  /** The path inside the registry: `team/app`, `library/busybox`. */
  repository: string;
  /** Undefined when only a digest was given. */
  tag: string | undefined;
  digest: string | undefined;
  /** Whether the user named the registry (or it is docker.io by default). */
  fullyQualified: boolean;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;
const HOST =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*$/;
const IPV6 = /^\[[a-fA-F0-9:.]+\]$/;

function invalidReference(ref: string, why: string): PilotError {
  return new PilotError(
    'PILOT_USAGE',
    `${quoteExcerpt(ref)} is not a valid image reference: ${why}`,
    { hint: 'use [REGISTRY/]PATH[:TAG][@sha256:DIGEST], e.g. registry.example.com/team/app:1.0' },
  );
}

function checkHost(ref: string, registry: string): void {
  const colon = registry.startsWith('[') ? registry.indexOf(']:') + 1 : registry.lastIndexOf(':');
  const host = colon > 0 ? registry.slice(0, colon) : registry;
  const port = colon > 0 ? registry.slice(colon + 1) : undefined;
  if (!HOST.test(host) && !IPV6.test(host)) {
    throw invalidReference(ref, `${quoteExcerpt(host)} is not a host name`);
  }
  if (port !== undefined && !(/^\d{1,5}$/.test(port) && Number(port) > 0 && Number(port) < 65536)) {
    throw invalidReference(ref, `${quoteExcerpt(port)} is not a port number`);
  }
}

/** Parses `ref`; throws a usage error that says what is wrong with it. */
export function parseReference(ref: string): RegistryReference {
  if (ref === '') throw invalidReference(ref, 'it is empty');
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) {
      throw invalidReference(ref, 'its "@" is not followed by sha256: and 64 hex digits');
    }
  }
  const lastSlash = rest.lastIndexOf('/');
  const lastColon = rest.lastIndexOf(':');
  let tag: string | undefined;
  if (lastColon > lastSlash) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
    if (!TAG.test(tag)) throw invalidReference(ref, `the tag ${quoteExcerpt(tag)} is not valid`);
  }
  const parts = rest.split('/');
  const fullyQualified = isFullyQualified(rest);
  let registry = DOCKER_HUB;
  if (fullyQualified) {
    registry = parts.shift()!;
    checkHost(ref, registry);
    if (registry === 'index.docker.io') registry = DOCKER_HUB;
  }
  if (parts.length === 0 || parts.some((part) => part === '')) {
    throw invalidReference(ref, 'it has no image path after the registry, or an empty component');
  }
  for (const part of parts) {
    if (!COMPONENT.test(part)) {
      throw invalidReference(
        ref,
        `the path component ${quoteExcerpt(part)} is not valid (lower-case letters, digits and single ".", "_", "__" or "-" between them)`,
      );
    }
  }
  if (registry === DOCKER_HUB && parts.length === 1) parts.unshift('library');
  const repository = parts.join('/');
  if (repository.length > 255) {
    throw invalidReference(ref, `its path has ${repository.length} characters (at most 255)`);
  }
  if (tag === undefined && digest === undefined) tag = 'latest';
  return { registry, repository, tag, digest, fullyQualified };
}

/** `registry/repository` plus `:tag` and/or `@digest`, as the user's ref reads in full. */
export function formatReference(reference: RegistryReference): string {
  const tag = reference.tag !== undefined ? `:${reference.tag}` : '';
  const digest = reference.digest !== undefined ? `@${reference.digest}` : '';
  return `${reference.registry}/${reference.repository}${tag}${digest}`;
}

/** The host the registry API answers on (docker.io's is registry-1.docker.io). */
export function apiHost(registry: string): string {
  return registry === DOCKER_HUB ? DOCKER_HUB_API : registry;
}
