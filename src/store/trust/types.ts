/**
 * What a pull hands the trust policy, and what it gets back when the image is accepted.
 * The pull side declares the same shapes (src/store/registry/trust-types.ts); one
 * re-exports the other once both are merged.
 */

export interface TrustRequest {
  registry: string; // "127.0.0.1:5000", "docker.io"
  repository: string; // "library/busybox", "team/app"
  tag: string | undefined;
  digest: string | undefined; // the pin the user gave, if any
  manifest: Buffer; // top-level manifest bytes as fetched (index or image manifest)
  manifestDigest: string; // "sha256:…" of those bytes
  /** GET a URL (http, https or file) with the pull's TLS settings; undefined on 404/ENOENT. */
  fetch(url: string): Promise<Buffer | undefined>;
}

export interface TrustVerdict {
  requirement: string; // "insecureAcceptAnything" | "signedBy" | … as policy.json names it
  rule: string; // where it came from, e.g. 'transports.docker["127.0.0.1:5000/team"]'
  keys?: string[]; // fingerprints of the keys that verified a signature
  identity?: string; // the signed docker-reference
}
