/**
 * policy.json, read as strictly as the containers tools read it (containers-policy.json(5)):
 * unknown or repeated fields, unknown requirement types, an empty requirement list or a
 * missing "default" make the whole file invalid, because a policy that is read
 * differently than its author meant is a hole. Every error names the file, the line and
 * column, and the place in the policy (`transports.docker["host/repo"][0].keyType`).
 *
 * Requirements pilot knows but cannot check (sigstoreSigned, signedBaseLayer, keyType
 * values other than GPGKeys) are parsed here and refused when an image meets them: a
 * host policy that uses them for some other scope still serves every other pull.
 */
import { PilotError } from '../../core/errors.js';
import { positionIn } from '../../core/excerpt.js';
import { parseJsonText } from '../../core/json-error.js';
import { parseDockerReference } from '../docker-reference.js';
import { describeJsonPath, type JsonPath, scanJsonLayout } from './json-layout.js';

export type IdentityRule =
  | { type: 'matchExact' }
  | { type: 'matchRepoDigestOrExact' }
  | { type: 'matchRepository' }
  | { type: 'exactReference'; dockerReference: string }
  | { type: 'exactRepository'; dockerRepository: string }
  | { type: 'remapIdentity'; prefix: string; signedPrefix: string };

/** Where signedBy's keys come from: exactly one of keyPath, keyPaths, keyData. */
export type KeySource = { paths: string[] } | { data: Buffer };

export type Requirement =
  | { type: 'insecureAcceptAnything' }
  | { type: 'reject' }
  | { type: 'signedBy'; keyType: string; keys: KeySource; signedIdentity: IdentityRule }
  | { type: 'signedBaseLayer' }
  | { type: 'sigstoreSigned' };

export interface Policy {
  file: string;
  default: Requirement[];
  /** transport name → scope → requirements. */
  transports: Map<string, Map<string, Requirement[]>>;
}

const POLICY_HINT =
  'fix the file (see containers-policy.json(5)), or name another policy with --signature-policy FILE';

const KEY_TYPES = ['GPGKeys', 'signedByGPGKeys', 'X509Certificates', 'signedByX509CAs'];
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
// A host[:port], or a repository namespace below one (remapIdentity's prefixes).
const REMAP_PREFIX =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;

type Json = unknown;

/** A place in the policy; scopes (`transports.T[scope]`) are always quoted. */
function describePolicyPath(path: JsonPath): string {
  return describeJsonPath(path, path[0] === 'transports' ? [2] : []);
}

class PolicyReader {
  constructor(
    private readonly file: string,
    private readonly text: string,
    private readonly offsetOf: (path: JsonPath) => number | undefined,
  ) {}

  fail(path: JsonPath, what: string): never {
    // The value's own position, or its parent's when it is missing.
    let offset: number | undefined;
    for (let depth = path.length; offset === undefined && depth >= 0; depth--) {
      offset = this.offsetOf(path.slice(0, depth));
    }
    const at = positionIn(this.text, offset ?? 0);
    throw new PilotError(
      'PILOT_POLICY_INVALID',
      `${this.file}:${at.line}:${at.column}: ${describePolicyPath(path)}: ${what}`,
      { hint: POLICY_HINT },
    );
  }

  object(value: Json, path: JsonPath): Record<string, Json> {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      this.fail(path, 'must be a JSON object');
    }
    return value as Record<string, Json>;
  }

  /** The object at `path` with only `allowed` keys, every one of `required` present. */
  fields(
    value: Json,
    path: JsonPath,
    allowed: string[],
    required: string[] = [],
  ): Record<string, Json> {
    const object = this.object(value, path);
    for (const key of Object.keys(object)) {
      if (!allowed.includes(key))
        this.fail([...path, key], `unknown field "${key}" (allowed here: ${allowed.join(', ')})`);
    }
    for (const key of required) {
      if (!Object.hasOwn(object, key)) this.fail(path, `"${key}" is missing`);
    }
    return object;
  }

  string(value: Json, path: JsonPath): string {
    if (typeof value !== 'string') this.fail(path, 'must be a string');
    return value;
  }

  requirements(value: Json, path: JsonPath): Requirement[] {
    if (!Array.isArray(value)) this.fail(path, 'must be a list of requirements');
    if (value.length === 0) {
      this.fail(
        path,
        'the list of requirements must not be empty (use [{"type": "reject"}] or [{"type": "insecureAcceptAnything"}])',
      );
    }
    return value.map((item, index) => this.requirement(item, [...path, index]));
  }

  requirement(value: Json, path: JsonPath): Requirement {
    const type = this.string(this.object(value, path).type, [...path, 'type']);
    switch (type) {
      case 'insecureAcceptAnything':
      case 'reject':
        this.fields(value, path, ['type']);
        return { type };
      case 'signedBy':
        return this.signedBy(value, path);
      case 'signedBaseLayer':
        this.fields(value, path, ['type', 'baseLayerIdentity'], ['baseLayerIdentity']);
        return { type };
      case 'sigstoreSigned':
        // Its many fields are checked by the tools that implement it; pilot refuses it when used.
        return { type };
      default:
        this.fail(
          [...path, 'type'],
          `unknown requirement type "${type}" (known: insecureAcceptAnything, reject, signedBy, sigstoreSigned, signedBaseLayer)`,
        );
    }
  }

  signedBy(value: Json, path: JsonPath): Requirement {
    const allowed = ['type', 'keyType', 'keyPath', 'keyPaths', 'keyData', 'signedIdentity'];
    const object = this.fields(value, path, allowed, ['keyType']);
    const keyType = this.string(object.keyType, [...path, 'keyType']);
    if (!KEY_TYPES.includes(keyType)) {
      this.fail([...path, 'keyType'], `unknown keyType "${keyType}" (use "GPGKeys")`);
    }
    const sources = ['keyPath', 'keyPaths', 'keyData'].filter((key) => Object.hasOwn(object, key));
    if (sources.length !== 1) {
      this.fail(
        path,
        `exactly one of keyPath, keyPaths and keyData must be given, ${sources.length === 0 ? 'none is' : `found ${sources.join(' and ')}`}`,
      );
    }
    let keys: KeySource;
    if (sources[0] === 'keyPath') {
      const keyPath = this.string(object.keyPath, [...path, 'keyPath']);
      if (keyPath === '') this.fail([...path, 'keyPath'], 'must not be empty');
      keys = { paths: [keyPath] };
    } else if (sources[0] === 'keyPaths') {
      const list = object.keyPaths;
      if (!Array.isArray(list) || list.length === 0)
        this.fail([...path, 'keyPaths'], 'must be a non-empty list of file names');
      keys = { paths: list.map((item, index) => this.string(item, [...path, 'keyPaths', index])) };
    } else {
      const data = this.string(object.keyData, [...path, 'keyData']);
      if (data === '' || !BASE64.test(data))
        this.fail(
          [...path, 'keyData'],
          'must be base64 (of a keyring: gpg --export KEY | base64 -w0)',
        );
      keys = { data: Buffer.from(data, 'base64') };
    }
    const signedIdentity =
      object.signedIdentity === undefined
        ? ({ type: 'matchRepoDigestOrExact' } as const)
        : this.identity(object.signedIdentity, [...path, 'signedIdentity']);
    return { type: 'signedBy', keyType, keys, signedIdentity };
  }

  /** The one reference an exactReference or exactRepository rule names, checked. */
  reference(
    value: Json,
    path: JsonPath,
    field: 'dockerReference' | 'dockerRepository',
    tagged: boolean,
  ): string {
    const object = this.fields(value, path, ['type', field], [field]);
    const at = [...path, field];
    const text = this.string(object[field], at);
    const parsed = parseDockerReference(text);
    if (typeof parsed === 'string') this.fail(at, parsed);
    if (tagged && parsed.tag === undefined && parsed.digest === undefined) {
      this.fail(at, `"${text}" has neither a tag nor a digest`);
    }
    return text;
  }

  identity(value: Json, path: JsonPath): IdentityRule {
    const type = this.string(this.object(value, path).type, [...path, 'type']);
    switch (type) {
      case 'matchExact':
      case 'matchRepoDigestOrExact':
      case 'matchRepository':
        this.fields(value, path, ['type']);
        return { type };
      case 'exactReference': {
        const dockerReference = this.reference(value, path, 'dockerReference', true);
        return { type, dockerReference };
      }
      case 'exactRepository': {
        const dockerRepository = this.reference(value, path, 'dockerRepository', false);
        return { type, dockerRepository };
      }
      case 'remapIdentity': {
        const object = this.fields(
          value,
          path,
          ['type', 'prefix', 'signedPrefix'],
          ['prefix', 'signedPrefix'],
        );
        const prefix = this.string(object.prefix, [...path, 'prefix']);
        const signedPrefix = this.string(object.signedPrefix, [...path, 'signedPrefix']);
        for (const [key, text] of [
          ['prefix', prefix],
          ['signedPrefix', signedPrefix],
        ] as const) {
          if (!REMAP_PREFIX.test(text))
            this.fail(
              [...path, key],
              `"${text}" is not a host[:port] or a repository namespace in the fully expanded form (e.g. "docker.io/library")`,
            );
        }
        return { type, prefix, signedPrefix };
      }
      default:
        this.fail(
          [...path, 'type'],
          `unknown signedIdentity type "${type}" (known: matchRepoDigestOrExact, matchExact, matchRepository, exactReference, exactRepository, remapIdentity)`,
        );
    }
  }
}

/** Parses the text of policy.json, the file `file`. */
export function parsePolicy(file: string, text: string): Policy {
  const document = parseJsonText(
    text,
    file,
    (why) => new PilotError('PILOT_POLICY_INVALID', why, { hint: POLICY_HINT }),
  ) as Json;
  const layout = scanJsonLayout(text);
  const reader = new PolicyReader(file, text, layout.offsetOf);
  if (layout.duplicate) {
    const { path, offset } = layout.duplicate;
    const at = positionIn(text, offset);
    throw new PilotError(
      'PILOT_POLICY_INVALID',
      `${file}:${at.line}:${at.column}: ${describePolicyPath(path)}: the key is given twice`,
      { hint: POLICY_HINT },
    );
  }
  const top = reader.fields(document, [], ['default', 'transports']);
  if (!Object.hasOwn(top, 'default')) {
    throw new PilotError('PILOT_POLICY_INVALID', `${file}: the "default" policy is missing`, {
      hint: `add "default": [{"type": "reject"}] (or insecureAcceptAnything) at the top level; ${POLICY_HINT}`,
    });
  }
  const policy: Policy = {
    file,
    default: reader.requirements(top.default, ['default']),
    transports: new Map(),
  };
  if (top.transports !== undefined) {
    const transports = reader.object(top.transports, ['transports']);
    for (const [transport, scopes] of Object.entries(transports)) {
      const map = new Map<string, Requirement[]>();
      for (const [scope, list] of Object.entries(
        reader.object(scopes, ['transports', transport]),
      )) {
        map.set(scope, reader.requirements(list, ['transports', transport, scope]));
      }
      policy.transports.set(transport, map);
    }
  }
  return policy;
}
