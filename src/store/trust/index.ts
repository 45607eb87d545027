/**
 * The containers trust policy (policy.json + registries.d, GPG simple signing) for pulls:
 * `evaluateTrust(readTrustConfig(options), request)` before an image is stored.
 */
export { readTrustConfig, type TrustConfig, type TrustConfigOptions } from './config.js';
export { evaluateTrust, MAX_SIGNATURES } from './evaluate.js';
export type { TrustRequest, TrustVerdict } from './types.js';
