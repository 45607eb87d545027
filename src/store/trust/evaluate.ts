/**
 * Whether the trust policy accepts an image a pull fetched, decided as the containers
 * tools decide it (containers-policy.json(5)): the requirements of the most specific
 * scope apply, all of them must accept, and signedBy accepts when at least one of the
 * image's simple signatures (read from the lookaside store registries.d names) is by a
 * trusted key, signs this very manifest and claims an identity the rule accepts.
 *
 * The caller stores the image only after this resolved; a rejection is a PilotError
 * (PILOT_TRUST_REJECTED) that names the policy file and rule, the image, the signature
 * URLs tried and why each one failed.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { errnoOf, PilotError } from '../../core/errors.js';
import { type DockerReference, referenceString } from '../docker-reference.js';
import type { TrustConfig } from './config.js';
import { verifyWithGpgv } from './gpgv.js';
import { describeIdentityRule, identityMatches } from './identity-match.js';
import { makeKeyring } from './openpgp.js';
import type { Requirement } from './policy.js';
import { lookasideBase, signatureUrl } from './registries-d.js';
import { judgedReference, policyIdentity, policyNamespaces } from './scopes.js';
import { manifestMatchesDigest, parseSignedClaims } from './signature-payload.js';
import type { TrustRequest, TrustVerdict } from './types.js';

/** The most signatures read per image (the containers tools read until the first gap). */
export const MAX_SIGNATURES = 16;
/** The containers tools' limit on one signature. */
const MAX_SIGNATURE_BYTES = 4 * 1024 * 1024;
const MANIFEST_DIGEST = /^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$/;

type SignedBy = Extract<Requirement, { type: 'signedBy' }>;

interface Rule {
  name: string; // 'default' or transports.docker["scope"]
  requirements: Requirement[];
}

interface FetchedSignature {
  url: string;
  bytes: Buffer;
}

/** The requirements for `ref`: the most specific docker scope, then "", then default. */
export function findRule(config: TrustConfig, ref: DockerReference): Rule {
  const scopes = config.policy.transports.get('docker');
  if (scopes) {
    for (const scope of [policyIdentity(ref), ...policyNamespaces(ref), '']) {
      const requirements = scopes.get(scope);
      if (requirements)
        return { name: `transports.docker[${JSON.stringify(scope)}]`, requirements };
    }
  }
  return { name: 'default', requirements: config.policy.default };
}

class Evaluation {
  private signatures: Promise<FetchedSignature[]> | undefined;
  readonly lookaside: { url: string; source: string };

  constructor(
    readonly config: TrustConfig,
    readonly request: TrustRequest,
    readonly ref: DockerReference,
    readonly rule: Rule,
  ) {
    this.lookaside = lookasideBase(config.registries, ref);
  }

  firstUrl(): string {
    return signatureUrl(this.lookaside.url, this.ref, this.request.manifestDigest, 1);
  }

  reject(index: number, requirement: Requirement, why: string, hint: string): PilotError {
    const { file } = this.config.policy;
    return new PilotError(
      'PILOT_TRUST_REJECTED',
      `${referenceString(this.ref)} is rejected by the trust policy ${file}, rule ${this.rule.name}[${index}] (${requirement.type}): ${why}`,
      { hint },
    );
  }

  /** signature-1, signature-2, … from the lookaside store, up to the first that is missing. */
  fetchSignatures(): Promise<FetchedSignature[]> {
    this.signatures ??= (async () => {
      const out: FetchedSignature[] = [];
      for (let index = 1; index <= MAX_SIGNATURES; index++) {
        const url = signatureUrl(this.lookaside.url, this.ref, this.request.manifestDigest, index);
        let bytes: Buffer | undefined;
        try {
          bytes = await this.request.fetch(url);
        } catch (error) {
          if (error instanceof PilotError) throw error;
          throw new PilotError(
            'PILOT_TRUST_REJECTED',
            `cannot read the signatures of ${referenceString(this.ref)}, which rule ${this.rule.name} of ${this.config.policy.file} requires, from ${url}: ${(error as Error).message ?? String(error)}`,
            { hint: `check the lookaside URL in ${this.lookaside.source}`, cause: error },
          );
        }
        if (bytes === undefined) break;
        out.push({ url, bytes });
      }
      return out;
    })();
    return this.signatures;
  }

  /** The policy's keys of `requirement` as one binary keyring. */
  keyring(index: number, requirement: SignedBy): Buffer {
    const { file } = this.config.policy;
    const where = `${file}, rule ${this.rule.name}[${index}]`;
    let sources: Buffer[];
    let names: string[];
    if ('data' in requirement.keys) [sources, names] = [[requirement.keys.data], ['keyData']];
    else {
      names = requirement.keys.paths;
      sources = names.map((path) => {
        try {
          return readFileSync(path);
        } catch (error) {
          const why = errnoOf(error) === 'ENOENT' ? 'does not exist' : (error as Error).message;
          throw new PilotError('PILOT_POLICY_INVALID', `${where}: key file ${path} ${why}`, {
            hint: `export the signer's public key there (gpg --export FINGERPRINT > ${path}), or fix keyPath in ${file}`,
            cause: error,
          });
        }
      });
    }
    const keyring = makeKeyring(sources, names);
    if (typeof keyring === 'string') {
      throw new PilotError('PILOT_POLICY_INVALID', `${where}: ${keyring}`, {
        hint: 'give an OpenPGP public key (gpg --export or gpg --armor --export output)',
      });
    }
    return keyring;
  }

  /** Why `signature` does not satisfy `requirement`, or the accepted key and identity. */
  async checkSignature(
    keyring: Buffer,
    requirement: SignedBy,
    signature: FetchedSignature,
  ): Promise<{ key: string; identity: string } | string> {
    if (signature.bytes.length > MAX_SIGNATURE_BYTES) {
      return `it is larger than ${MAX_SIGNATURE_BYTES} bytes`;
    }
    const verified = await verifyWithGpgv(this.config.gpgv, keyring, signature.bytes);
    if (!verified.ok) return verified.reason;
    const claims = parseSignedClaims(verified.payload);
    if (typeof claims === 'string') return `signed by ${verified.fingerprint}, but ${claims}`;
    if (!manifestMatchesDigest(this.request.manifest, claims.manifestDigest)) {
      return `it signs manifest ${claims.manifestDigest}, not this image's ${this.request.manifestDigest} (digest mismatch)`;
    }
    if (!identityMatches(requirement.signedIdentity, this.ref, claims.dockerReference)) {
      return `it names "${claims.dockerReference}", which signedIdentity ${describeIdentityRule(requirement.signedIdentity)} does not accept for ${referenceString(this.ref)} (identity mismatch)`;
    }
    return { key: verified.fingerprint, identity: claims.dockerReference };
  }

  async signedBy(index: number, requirement: SignedBy): Promise<{ key: string; identity: string }> {
    const hint = `sign the image (skopeo copy --sign-by FINGERPRINT …) and publish its signature under ${this.lookaside.url} (lookaside from ${this.lookaside.source}), or change the rule in ${this.config.policy.file}`;
    if (requirement.keyType !== 'GPGKeys') {
      throw this.reject(
        index,
        requirement,
        `keyType "${requirement.keyType}" is not supported by pilot (nor implemented by the containers tools); use "GPGKeys"`,
        `change the rule in ${this.config.policy.file}`,
      );
    }
    const keyring = this.keyring(index, requirement);
    const signatures = await this.fetchSignatures();
    if (signatures.length === 0) {
      throw this.reject(
        index,
        requirement,
        `a signature is required, but there is none at ${this.firstUrl()} (no signature)`,
        hint,
      );
    }
    const reasons: string[] = [];
    for (const signature of signatures) {
      const result = await this.checkSignature(keyring, requirement, signature);
      if (typeof result !== 'string') return result;
      reasons.push(`${signature.url}: ${result}`);
    }
    throw this.reject(index, requirement, `no signature is accepted: ${reasons.join('; ')}`, hint);
  }
}

/**
 * Decides whether `config`'s policy accepts the image of `request`. Resolves with how it
 * was accepted; throws PILOT_TRUST_REJECTED (or PILOT_POLICY_INVALID for a key the
 * policy names but cannot be read) when it is not.
 */
export async function evaluateTrust(
  config: TrustConfig,
  request: TrustRequest,
): Promise<TrustVerdict> {
  const ref = judgedReference(request.reference);
  // The digest builds the signature URL and is what signatures are compared with.
  const [algorithm] = request.manifestDigest.split(':');
  if (
    !MANIFEST_DIGEST.test(request.manifestDigest) ||
    createHash(algorithm!).update(request.manifest).digest('hex') !==
      request.manifestDigest.split(':')[1]
  ) {
    throw new PilotError(
      'PILOT_DIGEST_MISMATCH',
      `the manifest of ${referenceString(ref)} does not hash to ${request.manifestDigest}`,
      {
        hint: 'pull again; if it persists, the registry serves a manifest other than the one it names',
      },
    );
  }
  const rule = findRule(config, ref);
  const evaluation = new Evaluation(config, request, ref, rule);
  const keys: string[] = [];
  let identity: string | undefined;
  for (const [index, requirement] of rule.requirements.entries()) {
    switch (requirement.type) {
      case 'insecureAcceptAnything':
        break;
      case 'reject':
        throw evaluation.reject(
          index,
          requirement,
          'the rule rejects every image it applies to',
          `change the rule in ${config.policy.file} if images from here are to be trusted`,
        );
      case 'signedBy': {
        const accepted = await evaluation.signedBy(index, requirement);
        if (!keys.includes(accepted.key)) keys.push(accepted.key);
        identity ??= accepted.identity;
        break;
      }
      default:
        throw evaluation.reject(
          index,
          requirement,
          `${requirement.type} is not supported by pilot; use signedBy (GPG simple signing)`,
          `change the rule in ${config.policy.file}, or pull it with podman, which checks sigstore signatures, and load it from there`,
        );
    }
  }
  const types = [...new Set(rule.requirements.map((requirement) => requirement.type))];
  const signed = types.filter((type) => type !== 'insecureAcceptAnything');
  return {
    requirement: (signed.length > 0 ? signed : types).join('+'),
    rule: `${rule.name} in ${config.policy.file}`,
    ...(keys.length > 0 ? { keys } : {}),
    ...(identity !== undefined ? { identity } : {}),
  };
}
