/**
 * registries.d (containers-registries.d(5)): where the signatures of an image live. Every
 * `*.yaml` file of the directory is read and merged; a scope (or `default-docker`) given
 * in two files is an error, as it is for the containers tools, because which one would
 * win depends on the order a directory happens to list. Sections are read strictly:
 * an unknown key is more likely a misspelt `lookaside` than a setting of another tool.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isMap, isScalar, LineCounter, type Node, parseDocument } from 'yaml';
import { errnoOf, PilotError } from '../../core/errors.js';
import type { DockerReference } from '../docker-reference.js';
import { policyIdentity, policyNamespaces } from './scopes.js';

export interface LookasideSection {
  /** The URL signatures are read from (`lookaside`, or the older `sigstore`), if set. */
  lookaside: string | undefined;
  /** `FILE:LINE` of the section, for messages. */
  source: string;
}

export interface RegistriesConfig {
  /** The directory read, or undefined when there was none. */
  dir: string | undefined;
  defaultDocker: LookasideSection | undefined;
  docker: Map<string, LookasideSection>;
  /** Where signatures are read when no section names a lookaside (a file:// URL). */
  builtinLookaside: string;
}

const SECTION_KEYS = [
  'lookaside',
  'lookaside-staging',
  'sigstore',
  'sigstore-staging',
  'use-sigstore-attachments',
];

const HINT =
  'fix the file (see containers-registries.d(5)), or name another directory with --registries.d DIR';

function invalid(message: string): PilotError {
  return new PilotError('PILOT_POLICY_INVALID', message, { hint: HINT });
}

/** Reads one section (`lookaside: URL` …) of `file`. */
function readSection(
  file: string,
  node: Node | null,
  lines: LineCounter,
  where: string,
): LookasideSection {
  const lineOf = (n: Node | null | undefined) => lines.linePos(n?.range?.[0] ?? 0).line;
  const source = `${file}:${lineOf(node)}`;
  if (node === null || (isScalar(node) && node.value === null))
    return { lookaside: undefined, source };
  if (!isMap(node)) throw invalid(`${source}: ${where} must be a mapping of lookaside: URL`);
  const values = new Map<string, unknown>();
  for (const pair of node.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : '';
    const at = `${file}:${lineOf(pair.key as Node)}`;
    if (!SECTION_KEYS.includes(key)) {
      throw invalid(`${at}: ${where}: unknown key "${key}" (known: ${SECTION_KEYS.join(', ')})`);
    }
    const value = isScalar(pair.value) ? pair.value.value : undefined;
    const wanted = key === 'use-sigstore-attachments' ? 'boolean' : 'string';
    if (typeof value !== wanted) throw invalid(`${at}: ${where}.${key} must be a ${wanted}`);
    if (wanted === 'string') {
      let url: URL | undefined;
      try {
        url = new URL(value as string);
      } catch {
        url = undefined;
      }
      if (url === undefined || !['file:', 'http:', 'https:'].includes(url.protocol)) {
        throw invalid(
          `${at}: ${where}.${key}: "${value}" is not a file://, http:// or https:// URL`,
        );
      }
    }
    values.set(key, value);
  }
  const lookaside = (values.get('lookaside') ?? values.get('sigstore')) as string | undefined;
  return { lookaside, source };
}

function mergeFile(config: RegistriesConfig, file: string, text: string): void {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const first = doc.errors[0];
  if (first) {
    const line = first.linePos?.[0].line ?? lines.linePos(first.pos[0]).line;
    throw invalid(`${file}:${line}: not valid YAML: ${first.message.split('\n')[0]}`);
  }
  const root = doc.contents;
  if (root === null || (isScalar(root) && root.value === null)) return; // an empty file (comments only)
  if (!isMap(root))
    throw invalid(`${file}: must be a mapping with "docker" and/or "default-docker"`);
  for (const pair of root.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : '';
    const line = lines.linePos((pair.key as Node | null)?.range?.[0] ?? 0).line;
    if (key === 'default-docker') {
      if (config.defaultDocker) {
        throw invalid(
          `${file}:${line}: "default-docker" is also defined at ${config.defaultDocker.source}`,
        );
      }
      config.defaultDocker = readSection(file, pair.value as Node | null, lines, 'default-docker');
    } else if (key === 'docker') {
      const scopes = pair.value as Node | null;
      if (scopes === null || (isScalar(scopes) && scopes.value === null)) continue;
      if (!isMap(scopes)) throw invalid(`${file}:${line}: "docker" must be a mapping of scopes`);
      for (const item of scopes.items) {
        const scope = isScalar(item.key) ? String(item.key.value) : '';
        const where = `docker["${scope}"]`;
        const earlier = config.docker.get(scope);
        const section = readSection(file, item.value as Node | null, lines, where);
        if (earlier)
          throw invalid(`${section.source}: ${where} is also defined at ${earlier.source}`);
        config.docker.set(scope, section);
      }
    } else {
      throw invalid(`${file}:${line}: unknown key "${key}" (known: docker, default-docker)`);
    }
  }
}

/**
 * Reads and merges every `*.yaml` of `dir`. A directory that does not exist is an empty
 * configuration, unless `required` (the user named it).
 */
export function readRegistriesDir(
  dir: string,
  required: boolean,
  builtinLookaside: string,
): RegistriesConfig {
  const config: RegistriesConfig = {
    dir,
    defaultDocker: undefined,
    docker: new Map(),
    builtinLookaside,
  };
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT' && !required) return { ...config, dir: undefined };
    if (errnoOf(error) === 'ENOENT' || errnoOf(error) === 'ENOTDIR') {
      throw invalid(`registries.d directory ${dir} does not exist or is not a directory`);
    }
    throw invalid(`cannot read registries.d directory ${dir}: ${(error as Error).message}`);
  }
  for (const name of names.filter((entry) => entry.endsWith('.yaml')).sort()) {
    const file = join(dir, name);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') continue; // removed while we listed
      throw invalid(`cannot read ${file}: ${(error as Error).message}`);
    }
    mergeFile(config, file, text);
  }
  return config;
}

/**
 * The lookaside base URL for `ref` and the section it came from: the most specific
 * matching scope that sets one, then `default-docker`, then the built-in directory.
 */
export function lookasideBase(
  config: RegistriesConfig,
  ref: DockerReference,
): { url: string; source: string } {
  for (const scope of [policyIdentity(ref), ...policyNamespaces(ref)]) {
    const section = config.docker.get(scope);
    if (section?.lookaside)
      return { url: section.lookaside, source: `${section.source} (docker["${scope}"])` };
  }
  if (config.defaultDocker?.lookaside) {
    return {
      url: config.defaultDocker.lookaside,
      source: `${config.defaultDocker.source} (default-docker)`,
    };
  }
  return {
    url: config.builtinLookaside,
    source: 'the built-in default (no registries.d entry names a lookaside)',
  };
}

/** `BASE/REPO@ALGO=HEX/signature-N` (N from 1), where simple signatures are stored. */
export function signatureUrl(
  base: string,
  ref: DockerReference,
  manifestDigest: string,
  index: number,
): string {
  const [algorithm, hex] = manifestDigest.split(':');
  return `${base.replace(/\/+$/, '')}/${ref.path}@${algorithm}=${hex}/signature-${index}`;
}
