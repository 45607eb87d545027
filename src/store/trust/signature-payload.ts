/**
 * What a simple signature signs: the "atomic container signature" JSON
 * (containers-signature(5)). Read as strictly as the containers tools read it: exactly
 * the fields `critical` and `optional`, exactly `type`, `image` and `identity` in
 * `critical`, no repeated keys. A signature is only as good as the reading of what it
 * says, and a lenient reader is one a forger can aim at.
 */
import { createHash } from 'node:crypto';
import { scanJsonLayout } from './json-layout.js';

export const SIGNATURE_TYPE = 'atomic container signature';

export interface SignedClaims {
  manifestDigest: string;
  dockerReference: string;
}

const DIGEST = /^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$/;

function exactFields(
  value: unknown,
  where: string,
  keys: string[],
): Record<string, unknown> | string {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    return `${where} is not a JSON object`;
  const object = value as Record<string, unknown>;
  const extra = Object.keys(object).find((key) => !keys.includes(key));
  if (extra !== undefined) return `${where} has an unexpected field "${extra}"`;
  const missing = keys.find((key) => !Object.hasOwn(object, key));
  if (missing !== undefined) return `${where} has no field "${missing}"`;
  return object;
}

/** The claims of `payload`, or why it is not a container signature. */
export function parseSignedClaims(payload: Buffer): SignedClaims | string {
  const text = payload.toString('utf8');
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    return 'what it signs is not JSON';
  }
  if (scanJsonLayout(text).duplicate) return 'what it signs repeats a JSON key';
  const top = exactFields(document, 'the signed document', ['critical', 'optional']);
  if (typeof top === 'string') return top;
  const optional = top.optional;
  if (optional === null || typeof optional !== 'object' || Array.isArray(optional)) {
    return '"optional" is not a JSON object';
  }
  const critical = exactFields(top.critical, '"critical"', ['type', 'image', 'identity']);
  if (typeof critical === 'string') return critical;
  if (critical.type !== SIGNATURE_TYPE) {
    return `critical.type is ${JSON.stringify(critical.type)}, not "${SIGNATURE_TYPE}"`;
  }
  const image = exactFields(critical.image, 'critical.image', ['docker-manifest-digest']);
  if (typeof image === 'string') return image;
  const identity = exactFields(critical.identity, 'critical.identity', ['docker-reference']);
  if (typeof identity === 'string') return identity;
  const manifestDigest = image['docker-manifest-digest'];
  const dockerReference = identity['docker-reference'];
  if (typeof manifestDigest !== 'string' || !DIGEST.test(manifestDigest)) {
    return `critical.image["docker-manifest-digest"] is not a sha256 or sha512 digest`;
  }
  if (typeof dockerReference !== 'string')
    return 'critical.identity["docker-reference"] is not a string';
  return { manifestDigest, dockerReference };
}

/** Whether `manifest` hashes to `digest`, with the digest's own algorithm. */
export function manifestMatchesDigest(manifest: Buffer, digest: string): boolean {
  const [algorithm, hex] = digest.split(':');
  if ((algorithm !== 'sha256' && algorithm !== 'sha512') || hex === undefined) return false;
  return createHash(algorithm).update(manifest).digest('hex') === hex;
}
