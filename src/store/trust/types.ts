/**
 * What a pull hands the trust policy, and what it gets back when the image is accepted
 * (the verdict is kept in the image record, so its shape lives with the record).
 */
import type { TrustVerdict } from '../../core/image-record.js';

export type { TrustVerdict };

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
