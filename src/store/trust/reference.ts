/**
 * Docker references as the trust policy compares them: always in the fully expanded form
 * (`docker.io/library/busybox:latest`, never `busybox`), which is what policy scopes,
 * registries.d keys and the identity inside a signature are written in. The grammar is
 * the distribution project's (github.com/distribution/reference), and so is the
 * normalisation of short names (`busybox` → `docker.io/library/busybox`), because a
 * signature made by the containers tools carries whatever they normalised.
 */

const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const DOMAIN_LABEL = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const HOST = `(?:${DOMAIN_LABEL}(?:\\.${DOMAIN_LABEL})*|\\[[a-fA-F0-9:]+\\])`;
const DOMAIN = `${HOST}(?::[0-9]+)?`;
const PATH = `${COMPONENT}(?:/${COMPONENT})*`;

const DOMAIN_RE = new RegExp(`^${DOMAIN}$`);
const PATH_RE = new RegExp(`^${PATH}$`);
const TAG_RE = /^[\w][\w.-]{0,127}$/;
const DIGEST_RE = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;
const MAX_NAME = 255;
const DEFAULT_DOMAIN = 'docker.io';

export interface DockerReference {
  /** The registry host, with its port if it has one: `docker.io`, `127.0.0.1:5000`. */
  domain: string;
  /** The repository below the host: `library/busybox`. */
  path: string;
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

/** Splits `name` into host and repository the way docker does for names without a host. */
function splitDomain(name: string): { domain: string; path: string } {
  const slash = name.indexOf('/');
  const first = slash === -1 ? '' : name.slice(0, slash);
  const hasDomain =
    slash !== -1 &&
    (first.includes('.') ||
      first.includes(':') ||
      first === 'localhost' ||
      first.toLowerCase() !== first);
  let domain = hasDomain ? first : DEFAULT_DOMAIN;
  let path = hasDomain ? name.slice(slash + 1) : name;
  if (domain === 'index.docker.io') domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && !path.includes('/')) path = `library/${path}`;
  return { domain, path };
}

/**
 * Parses `text` like the containers tools' ParseNormalizedNamed: a short name gets
 * `docker.io` and `library/`. Returns why it is not a reference in place of one.
 */
export function parseDockerReference(text: string): DockerReference | string {
  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST_RE.test(digest)) return `"${digest}" is not a valid digest`;
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG_RE.test(tag)) return `"${tag}" is not a valid tag`;
  }
  if (rest === '') return `"${text}" is not a valid image reference`;
  if (rest.length > MAX_NAME) return `the repository name is longer than ${MAX_NAME} characters`;
  if (/^[a-f0-9]{64}$/.test(rest)) return `"${rest}" is an image ID, not a repository name`;
  const { domain, path } = splitDomain(rest);
  if (!DOMAIN_RE.test(domain)) return `"${domain}" is not a valid registry host`;
  if (path !== path.toLowerCase()) return `repository name "${path}" must be lowercase`;
  if (!PATH_RE.test(path)) return `"${text}" is not a valid image reference`;
  return { domain, path, tag, digest };
}

/**
 * The reference of the image a pull fetches, from the parts the pull knows. The digest
 * wins over the tag when both are given: what is fetched, and so what is checked, is
 * the pinned manifest (the containers tools refuse references with both).
 */
export function requestReference(parts: {
  registry: string;
  repository: string;
  tag: string | undefined;
  digest: string | undefined;
}): DockerReference | string {
  const suffix = parts.digest !== undefined ? `@${parts.digest}` : `:${parts.tag ?? 'latest'}`;
  return parseDockerReference(`${parts.registry}/${parts.repository}${suffix}`);
}

/** The most specific policy scope of `ref`: `host/repo:tag` or `host/repo@digest`. */
export function policyIdentity(ref: DockerReference): string {
  return ref.digest !== undefined
    ? `${referenceName(ref)}@${ref.digest}`
    : `${referenceName(ref)}:${ref.tag ?? 'latest'}`;
}

/**
 * The less specific scopes, most specific first: the repository, each parent namespace,
 * the host (with its port), then `*.domain` wildcards of the host without its port.
 */
export function policyNamespaces(ref: DockerReference): string[] {
  const out: string[] = [];
  let name = referenceName(ref);
  for (;;) {
    out.push(name);
    const slash = name.lastIndexOf('/');
    if (slash === -1) break;
    name = name.slice(0, slash);
  }
  let host = ref.domain.startsWith('[') ? '' : ref.domain.replace(/:[0-9]+$/, '');
  for (let dot = host.indexOf('.'); dot !== -1; dot = host.indexOf('.')) {
    host = host.slice(dot + 1);
    out.push(`*.${host}`);
  }
  return out;
}
