/**
 * `node:crypto`, loaded on first use. A static import makes every process that loads the
 * module pay 3-10 ms to build Node's crypto module (WebCrypto, KeyObject and the rest),
 * the launcher included, which on its warm path needs neither a file's digest nor a
 * random name (core/sha256.ts hashes its short cache keys).
 */
import { createRequire as requireFrom } from 'node:module';

type NodeCrypto = typeof import('node:crypto');
let loaded: NodeCrypto | undefined;

export function nodeCrypto(): NodeCrypto {
  loaded ??= requireFrom(import.meta.url)('node:crypto') as NodeCrypto;
  return loaded;
}
