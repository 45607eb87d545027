/**
 * Docker image references, the one parser pilot has: pulls, the trust policy's scopes and
 * the identity inside a signature all read references through it, so a name means the
 * same to each. The grammar and the normalisation are containers/image's
 * (ParseNormalizedNamed, after github.com/distribution/reference):
 *
 *   [domain[:port]/]component(/component)*[:tag][@algorithm:hex]
 *
 * The first component is a domain when it has a "." or ":", is `localhost`, or has an
 * upper-case letter (which no path component may have); otherwise the image is on
 * docker.io, where a one-component path is under `library/`. `index.docker.io` is
 * docker.io. A signature made by the containers tools carries the normalised form, so
 * parsing anything less strictly, or normalising differently, would make signatures fail
 * to match (or, worse, match what they do not name).
 */
import { PilotError } from '../core/errors.js';
import { quoteExcerpt } from '../core/excerpt.js';

export const DOCKER_HUB = 'docker.io';
/** Where docker.io's registry API answers. */
export const DOCKER_HUB_API = 'registry-1.docker.io';

const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const DOMAIN_LABEL = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const HOST = `(?:${DOMAIN_LABEL}(?:\\.${DOMAIN_LABEL})*|\\[[a-fA-F0-9:]+\\])`;
const DOMAIN_RE = new RegExp(`^${HOST}(?::([0-9]+))?$`);
const COMPONENT_RE = new RegExp(`^${COMPONENT}$`);
const TAG_RE = /^[\w][\w.-]{0,127}$/;
/** The reference grammar's digest; go-digest then accepts only the algorithms below. */
const DIGEST_RE = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;
const DIGEST_HEX: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };
/** distribution's NameTotalLengthMax: the normalised `domain/path`. */
const MAX_NAME = 255;

export interface DockerReference {
  /** The registry host, with its port if it has one: `docker.io`, `127.0.0.1:5000`. */
  domain: string;
  /** The repository below the host: `library/busybox`, `team/app`. */
  path: string;
  /** Undefined when none was written (see withDefaultTag). */
  tag: string | undefined;
  digest: string | undefined;
}

/** `domain/path`, the repository without tag or digest. */
export function referenceName(ref: DockerReference): string {
  return `${ref.domain}/${ref.path}`;
}

/** The whole reference: `domain/path[:tag][@digest]`. */
export function referenceString(ref: DockerReference): string {
  const tag = ref.tag === undefined ? '' : `:${ref.tag}`;
  const digest = ref.digest === undefined ? '' : `@${ref.digest}`;
  return `${referenceName(ref)}${tag}${digest}`;
}

/** `:latest` when neither a tag nor a digest was written (containers/image's TagNameOnly). */
export function withDefaultTag(ref: DockerReference): DockerReference {
  return ref.tag === undefined && ref.digest === undefined ? { ...ref, tag: 'latest' } : ref;
}

/** The host the registry API answers on (docker.io's is registry-1.docker.io). */
export function apiHost(domain: string): string {
  return domain === DOCKER_HUB ? DOCKER_HUB_API : domain;
}

/** containers/image's splitDockerDomain. */
function splitDomain(name: string): { domain: string; path: string } {
  const slash = name.indexOf('/');
  const first = slash === -1 ? '' : name.slice(0, slash);
  const hasDomain =
    slash !== -1 && (/[.:]/.test(first) || first === 'localhost' || first.toLowerCase() !== first);
  let domain = hasDomain ? first : DOCKER_HUB;
  let path = hasDomain ? name.slice(slash + 1) : name;
  if (domain === 'index.docker.io') domain = DOCKER_HUB;
  if (domain === DOCKER_HUB && !path.includes('/')) path = `library/${path}`;
  return { domain, path };
}

function digestProblem(digest: string): string | undefined {
  if (!DIGEST_RE.test(digest)) return `${quoteExcerpt(digest)} after "@" is not a digest`;
  const [algorithm, hex] = digest.split(':') as [string, string];
  const length = DIGEST_HEX[algorithm];
  if (length === undefined) {
    return `the digest algorithm ${quoteExcerpt(algorithm)} is not sha256, sha384 or sha512`;
  }
  if (hex.length !== length || !/^[a-f0-9]+$/.test(hex)) {
    return `a ${algorithm} digest is ${length} lower-case hex digits`;
  }
  return undefined;
}

function domainProblem(domain: string): string | undefined {
  const match = DOMAIN_RE.exec(domain);
  if (!match) return `${quoteExcerpt(domain)} is not a registry host`;
  const port = match[1];
  if (port !== undefined && !(Number(port) > 0 && Number(port) < 65536)) {
    return `${quoteExcerpt(port)} is not a port number`;
  }
  return undefined;
}

/**
 * Parses `text` as containers/image's ParseNormalizedNamed does: a short name gets
 * `docker.io` (and `library/`). Returns why it is not a reference in place of one.
 */
export function parseDockerReference(text: string): DockerReference | string {
  if (text === '') return 'it is empty';
  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    const problem = digestProblem(digest);
    if (problem !== undefined) return problem;
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG_RE.test(tag)) return `the tag ${quoteExcerpt(tag)} is not valid`;
  }
  if (rest === '') return 'it has no repository name';
  if (/^[a-f0-9]{64}$/.test(rest)) return `${quoteExcerpt(rest)} is an image ID, not a name`;
  const { domain, path } = splitDomain(rest);
  const hostProblem = domainProblem(domain);
  if (hostProblem !== undefined) return hostProblem;
  const parts = path.split('/');
  if (parts.some((part) => part === '')) {
    return 'it has no image path after the registry, or an empty path component';
  }
  if (path !== path.toLowerCase()) return `repository name ${quoteExcerpt(path)} must be lowercase`;
  const bad = parts.find((part) => !COMPONENT_RE.test(part));
  if (bad !== undefined) {
    return `the path component ${quoteExcerpt(bad)} is not valid (lower-case letters and digits, with single ".", "_", "__" or "-" between them)`;
  }
  const length = domain.length + 1 + path.length;
  if (length > MAX_NAME) return `its name has ${length} characters (at most ${MAX_NAME})`;
  return { domain, path, tag, digest };
}

/**
 * The reference of an image to pull: parsed, `:latest` when neither tag nor digest is
 * written; a usage error that says what is wrong otherwise. A digest must be sha256, the
 * only one the registry client verifies blobs and manifests with.
 */
export function parsePullReference(text: string): DockerReference {
  const parsed = parseDockerReference(text);
  let why = typeof parsed === 'string' ? parsed : undefined;
  if (typeof parsed !== 'string' && parsed.digest?.startsWith('sha256:') === false) {
    why = 'pilot pulls by sha256 digests only';
  }
  if (why !== undefined || typeof parsed === 'string') {
    throw new PilotError(
      'PILOT_USAGE',
      `${quoteExcerpt(text)} is not a valid image reference: ${why}`,
      { hint: 'use [REGISTRY/]PATH[:TAG][@sha256:DIGEST], e.g. registry.example.com/team/app:1.0' },
    );
  }
  return withDefaultTag(parsed);
}
