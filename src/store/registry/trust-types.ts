/**
 * The seam between a registry pull and the containers trust policy (src/store/trust/):
 * the pull hands the top-level manifest it fetched and verified to `trust` before it
 * fetches any blob or stores anything; a throw aborts the pull with nothing stored, a
 * verdict is kept in the image record.
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
  rule: string; // where it came from, e.g. "transports.docker[\"127.0.0.1:5000/team\"]"
  keys?: string[]; // fingerprints of the keys that verified a signature
  identity?: string; // the signed docker-reference
}
