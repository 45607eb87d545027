/**
 * What a pull hands the trust policy, and what it gets back when the image is accepted
 * (the verdict is kept in the image record, so its shape lives with the record).
 */
import type { TrustVerdict } from '../../core/image-record.js';
import type { DockerReference } from '../docker-reference.js';

export type { TrustVerdict };

export interface TrustRequest {
  /** The image pulled, as parsed (its digest is the pin the user gave, if any). */
  reference: DockerReference;
  manifest: Buffer; // top-level manifest bytes as fetched (index or image manifest)
  manifestDigest: string; // "sha256:…" of those bytes
  /** GET a URL (http, https or file) with the pull's TLS settings; undefined on 404/ENOENT. */
  fetch(url: string): Promise<Buffer | undefined>;
}
