/**
 * The last step of reading a flake: checks types, applies defaults, and warns (file and
 * line) about keys pilot does not know. Every value keeps the file and line it came
 * from (flake-document.ts), so that an error in a drop-in names the drop-in. The
 * decisions this applies (lists are YAML sequences, YAML 1.2 booleans, absolute paths,
 * `runtime.podman` checked here) are listed in flake-file.ts.
 */
import { PilotError } from './errors.js';
import { escapeExcerpt, quoteExcerpt } from './excerpt.js';
import {
  childPath,
  describe,
  type FlakeLocation,
  invalid,
  isMapping,
  type Mapping,
  type ParsedFlakeDocument,
  shownPath,
} from './flake-document.js';
import {
  type Flake,
  type FlakeRuntime,
  type FlakeWarning,
  HOST_FILES_POLICIES,
  type LoadedFlake,
} from './flake-model.js';
import { refTooLong } from './image-record.js';
import { parsePodmanOptions } from './podman-options.js';

const DIGEST = /^sha256:[a-f0-9]{64}$/;
/** A flake with thousands of unknown keys is not worth thousands of lines. */
const MAX_WARNINGS = 20;

/** The keys pilot knows; `'*'` allows any key below (the digests map). */
type KeySchema = { [key: string]: KeySchema | true | '*' };

const SCHEMA: KeySchema = {
  include: { tar: true, path: true },
  // flake-ctl (2.2.19 and 3.1.44) serializes its AppConfig whole: a container flake it
  // writes ends in `vm: ~`. podman-pilot ignores the section; so does pilot (a flake with
  // vm: and no container: is firecracker-pilot's, see validateFlake).
  vm: '*',
  container: {
    name: true,
    target_app_path: true,
    host_app_path: true,
    base_container: true,
    layers: true,
    check_host_dependencies: true,
    digests: '*',
    host_packages: true,
    host_files: true,
    runtime: { runas: true, resume: true, attach: true, podman: true },
  },
};

/** Small edit distance, for "did you mean" on misspelt keys. */
function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length]!;
}

class Validator {
  readonly warnings: FlakeWarning[] = [];

  constructor(private readonly doc: ParsedFlakeDocument) {}

  locate(path: string): FlakeLocation {
    // The nearest written ancestor: a missing key is reported where its parent is.
    for (let current = path; ; ) {
      const found = this.doc.provenance.get(current);
      if (found) return found;
      if (current === '') break;
      const dot = current.lastIndexOf('.');
      current = dot < 0 ? '' : current.slice(0, dot);
    }
    return { file: this.doc.files[0] ?? '(no flake file)', line: 1, keyLine: 1 };
  }

  get(path: string): unknown {
    let current: unknown = this.doc.value;
    for (const part of path.split('.')) {
      if (!isMapping(current) || !Object.hasOwn(current, part)) return undefined;
      current = current[part];
    }
    return current;
  }

  fail(path: string, message: string, hint?: string): never {
    const at = this.locate(path);
    throw invalid(at.file, at.line, `${shownPath(path)}: ${message}`, hint);
  }

  mapping(path: string): Mapping | undefined {
    const value = this.get(path);
    if (value === undefined || value === null) return undefined;
    if (!isMapping(value)) this.fail(path, `expected a mapping of keys, got ${describe(value)}`);
    return value;
  }

  string(path: string, options: { absolute?: boolean } = {}): string | undefined {
    const value = this.get(path);
    if (value === undefined || value === null) return undefined;
    return this.checkString(path, value, options);
  }

  checkString(path: string, value: unknown, options: { absolute?: boolean } = {}): string {
    if (typeof value !== 'string') {
      this.fail(
        path,
        `expected ${options.absolute ? 'an absolute path' : 'a string'}, got ${describe(value)}`,
        typeof value === 'number' || typeof value === 'boolean' ? 'quote the value' : undefined,
      );
    }
    if (value === '') this.fail(path, 'must not be empty');
    if (value.includes('\0')) this.fail(path, 'must not contain a NUL character');
    if (options.absolute && !value.startsWith('/')) {
      this.fail(
        path,
        `expected an absolute path (starting with "/"), got ${quoteExcerpt(value)}`,
        path.startsWith('include.')
          ? 'flake-pilot resolves a relative include against the caller\'s working directory at launch, so whoever controls that directory would choose what the app contains; pilot does not: write the absolute path ("pilot register" and "pilot migrate" make it absolute)'
          : undefined,
      );
    }
    return value;
  }

  boolean(path: string, fallback: boolean): boolean {
    const value = this.get(path);
    if (value === undefined || value === null) return fallback;
    if (typeof value !== 'boolean') {
      this.fail(
        path,
        `expected true or false, got ${describe(value)}`,
        'write true or false, unquoted',
      );
    }
    return value;
  }

  list(path: string, options: { absolute?: boolean; allowEmptyItems?: boolean } = {}): string[] {
    const value = this.get(path);
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) {
      const key = path.slice(path.lastIndexOf('.') + 1);
      this.fail(
        path,
        `expected a list of ${options.absolute ? 'absolute paths' : 'strings'}, got ${describe(value)}`,
        typeof value === 'string'
          ? `write a YAML list, e.g. "${key}: [${quoteExcerpt(value, 40)}]"`
          : undefined,
      );
    }
    return value.map((item, index) => {
      const itemPath = childPath(path, index);
      if (options.allowEmptyItems && item === '') return '';
      return this.checkString(itemPath, item, options);
    });
  }

  oneOf<T extends string>(path: string, choices: readonly T[], fallback: T): T {
    const value = this.get(path);
    if (value === undefined || value === null) return fallback;
    if (typeof value !== 'string' || !(choices as readonly string[]).includes(value)) {
      this.fail(
        path,
        `expected one of ${choices.join(', ')}, got ${describe(value)}`,
        `write e.g. "${path.slice(path.lastIndexOf('.') + 1)}: ${choices[choices.length - 1]}"`,
      );
    }
    return value as T;
  }

  digests(path: string): Record<string, string> {
    const map = this.mapping(path);
    if (!map) return {};
    const entries: [string, string][] = [];
    for (const [ref, digest] of Object.entries(map)) {
      const child = childPath(path, ref);
      if (typeof digest !== 'string' || !DIGEST.test(digest)) {
        this.fail(child, `expected a digest "sha256:<64 hex digits>", got ${describe(digest)}`);
      }
      entries.push([ref, digest]);
    }
    // fromEntries defines own properties: a ref can never reach Object.prototype.
    return Object.fromEntries(entries);
  }

  runas(path: string): string | undefined {
    const value = this.get(path);
    if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0)
      return String(value);
    return this.string(path);
  }

  warnUnknown(value: unknown, schema: KeySchema, path: string): void {
    if (!isMapping(value)) return;
    for (const key of Object.keys(value)) {
      const child = childPath(path, key);
      const known = Object.hasOwn(schema, key) ? schema[key] : undefined;
      if (known === undefined) {
        const at = this.locate(child);
        const suggestion = Object.keys(schema).find((name) => editDistance(name, key) <= 2);
        this.warnings.push({
          file: at.file,
          line: at.keyLine,
          message:
            `unknown key "${escapeExcerpt(child)}" is ignored` +
            (suggestion ? ` (did you mean "${escapeExcerpt(childPath(path, suggestion))}"?)` : ''),
        });
      } else if (typeof known === 'object') {
        this.warnUnknown(value[key], known, child);
      }
    }
  }
}

/** Checks types, applies defaults, and warns (file and line) about keys pilot does not know. */
export function validateFlake(doc: ParsedFlakeDocument): LoadedFlake {
  const check = new Validator(doc);
  check.warnings.push(...(doc.warnings ?? []));
  if (!isMapping(doc.value)) {
    check.fail('', `the top level must be a mapping, not ${describe(doc.value)}`);
  }
  check.mapping('include');
  check.mapping('container');
  check.mapping('container.runtime');

  const name = check.string('container.name');
  // flake-ctl writes a firecracker flake with `container: ~` (its unused member).
  const absent = (value: unknown) => value === undefined || value === null;
  if (name === undefined && absent(check.get('container')) && !absent(check.get('vm'))) {
    const at = check.locate('vm');
    throw new PilotError(
      'PILOT_ENGINE_MISSING',
      `${at.file}:${at.keyLine}: a firecracker-pilot flake ("vm:"): this host has no firecracker engine; pilot runs container flakes only`,
      {
        hint: 'run it on a host with firecracker-pilot, or register the app from a container image with "pilot register"',
        exitCode: 127,
      },
    );
  }
  if (name === undefined) {
    const at = check.locate('container');
    throw invalid(
      at.file,
      at.keyLine,
      'container.name is required (the image to run)',
      'add "container:" with "name: IMAGE" to the flake',
    );
  }

  const runtime: FlakeRuntime = {
    resume: check.boolean('container.runtime.resume', false),
    attach: check.boolean('container.runtime.attach', false),
    podman: check.list('container.runtime.podman', { allowEmptyItems: true }),
  };
  // Broken quoting and options pilot cannot honour are found here, where the file and
  // line are known; the launch refuses such a flake (exit 125) before anything runs.
  const podmanAt = runtime.podman.map((_item, index) => {
    const at = check.locate(`container.runtime.podman.${index}`);
    return `${at.file}:${at.line}`;
  });
  parsePodmanOptions(runtime.podman, {
    where: (index) => podmanAt[index]!,
    kept: runtime.resume || runtime.attach,
  });
  const runas = check.runas('container.runtime.runas');
  if (runas !== undefined) runtime.runas = runas;

  const flake: Flake = {
    include: {
      tar: check.list('include.tar', { absolute: true }),
      path: check.list('include.path', { absolute: true }),
    },
    container: {
      name,
      layers: check.list('container.layers'),
      check_host_dependencies: check.boolean('container.check_host_dependencies', false),
      digests: check.digests('container.digests'),
      host_packages: check.list('container.host_packages'),
      host_files: check.oneOf('container.host_files', HOST_FILES_POLICIES, 'skip_missing'),
      runtime,
    },
  };
  const target = check.string('container.target_app_path', { absolute: true });
  if (target !== undefined) flake.container.target_app_path = target;
  const hostAppPath = check.string('container.host_app_path', { absolute: true });
  if (hostAppPath !== undefined) flake.container.host_app_path = hostAppPath;
  const base = check.string('container.base_container');
  if (base !== undefined) flake.container.base_container = base;

  // A name the store cannot hold can never resolve: say so here, with file:line.
  const refs: [string, string][] = [['container.name', name]];
  if (base !== undefined) refs.push(['container.base_container', base]);
  for (const [i, layer] of flake.container.layers.entries())
    refs.push([`container.layers.${i}`, layer]);
  for (const [path, ref] of refs) {
    const why = refTooLong(ref);
    if (why !== undefined)
      check.fail(path, why, 'name a shorter image ("pilot images" lists them)');
  }

  check.warnUnknown(doc.value, SCHEMA, '');
  return { flake, warnings: fewWarnings(check.warnings), podmanAt };
}

/** Warnings as a reader can take them in: the first MAX_WARNINGS, then how many more. */
function fewWarnings(warnings: FlakeWarning[]): FlakeWarning[] {
  if (warnings.length <= MAX_WARNINGS) return warnings;
  const rest = warnings[MAX_WARNINGS]!;
  return [
    ...warnings.slice(0, MAX_WARNINGS),
    { ...rest, message: `${warnings.length - MAX_WARNINGS} more warnings like these` },
  ];
}
