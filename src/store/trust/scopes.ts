/**
 * The policy scopes of a docker reference (containers-policy.json(5)), always in the fully
 * expanded form (`docker.io/library/busybox:latest`, never `busybox`), which is what policy
 * scopes, registries.d keys and the identity inside a signature are written in. References
 * themselves are parsed by src/store/docker-reference.ts, the one parser pilot has.
 */
import { type DockerReference, referenceName } from '../docker-reference.js';

/**
 * The reference the policy judges for a pull: the digest wins over the tag when both are
 * given, because what is fetched, and so what is checked, is the pinned manifest (the
 * containers tools refuse references with both).
 */
export function judgedReference(pulled: DockerReference): DockerReference {
  if (pulled.digest !== undefined) return { ...pulled, tag: undefined };
  return { ...pulled, tag: pulled.tag ?? 'latest' };
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
