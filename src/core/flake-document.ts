/**
 * Flake documents: one file's text as plain data that remembers where each value is
 * written (parseFlakeSource), and the main file merged with its drop-ins
 * (mergeFlakeDocuments). The steps between reading (flake-read.ts) and validating
 * (flake-validate.ts) in the pipeline flake-file.ts describes; both pure.
 *
 * The text is counted while it is read (yaml-bounded.ts: the `yaml` package's lexer,
 * parser and composer as one pipeline with a token budget), after the size and nesting
 * checks of yaml-limits.ts; aliases find their anchors in one walk.
 *
 * The launcher imports this on every app start: node built-ins, `yaml` and src/core only.
 */
import { isAlias, isMap, isScalar, isSeq, LineCounter, type Node as YamlNode } from 'yaml';
import { PilotError } from './errors.js';
import { escapeExcerpt, quoteExcerpt } from './excerpt.js';
import type { FlakeSource } from './flake-read.js';
import { aliasTargets, parseBoundedDocument } from './yaml-bounded.js';
import { excessiveNestingLine, MAX_FLAKE_BYTES, MAX_SCANNED_NESTING } from './yaml-limits.js';

export interface FlakeLocation {
  file: string;
  /** 1-based line where the value is written. */
  line: number;
  /** 1-based line where its key is written (equal to `line` for the document and list items). */
  keyLine: number;
}

/**
 * One parsed (or merged) flake document before validation. `value` is plain data:
 * mappings are null-prototype objects (a key such as `__proto__` stays an ordinary key),
 * sequences are arrays, scalars are JS scalars. `provenance` maps a dotted key path
 * (`''` for the document, `container.layers.0` for a list item) to where it is written.
 */
export interface ParsedFlakeDocument {
  value: unknown;
  provenance: Map<string, FlakeLocation>;
  files: string[];
  /** What reading found but did not refuse (a key repeated in one mapping), with file and line. */
  warnings?: { file: string; line: number; message: string }[];
}

export type Mapping = Record<string, unknown>;

/** Aliases may nest or even refer to themselves; stop long before the stack does. */
const MAX_DEPTH = 32;
const MAX_NODES = 10_000;
/** Counted before the values are built (yaml-bounded.ts): about three per `key: value`. */
const MAX_TOKENS = 4 * MAX_NODES;

// ---------------------------------------------------------------------------------------
// Parsing

export function isMapping(value: unknown): value is Mapping {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

export function childPath(parent: string, key: string | number): string {
  return parent === '' ? String(key) : `${parent}.${key}`;
}

/** A key path in a message: keys come from the file, so they are escaped and cut short. */
export function shownPath(path: string): string {
  return path === '' ? 'document' : escapeExcerpt(path);
}

export function invalid(file: string, line: number, message: string, hint?: string): PilotError {
  return new PilotError(
    'PILOT_FLAKE_INVALID',
    `${file}:${line}: ${message}`,
    hint === undefined ? {} : { hint },
  );
}

/** Turns one file's text into plain data plus the line of every value and key. */
export function parseFlakeSource(source: FlakeSource): ParsedFlakeDocument {
  const { file, text } = source;
  const bytes = Buffer.byteLength(text);
  if (bytes > MAX_FLAKE_BYTES) {
    throw invalid(
      file,
      1,
      `the file has ${bytes} bytes; a flake file has at most ${MAX_FLAKE_BYTES}`,
      'a flake names images and options in a few lines; check that this is the flake file meant',
    );
  }
  const deepLine = excessiveNestingLine(text);
  if (deepLine !== undefined) {
    throw invalid(
      file,
      deepLine,
      `nested more than ${MAX_SCANNED_NESTING} levels deep; a flake needs a handful`,
      'fix the brackets and indentation of the flake file',
    );
  }
  const lineCounter = new LineCounter();
  const lineAt = (offset: number | undefined): number =>
    offset === undefined ? 1 : lineCounter.linePos(offset).line;
  // Counted while it is read; repeated keys are found by convert() below in one lookup
  // each (the library's own check compares each key with every earlier one).
  const doc = parseBoundedDocument(text, {
    lineCounter,
    maxTokens: MAX_TOKENS,
    tooMany: (offset) =>
      invalid(
        file,
        lineAt(offset),
        `too many keys and values: more than ${MAX_TOKENS} YAML tokens (each key, value, ":", "-" and "," counts); a flake needs a few dozen`,
        'check that this is the flake file meant',
      ),
  });
  const targets = aliasTargets(doc);

  const first = doc.errors[0];
  if (first) {
    const line = first.linePos?.[0].line ?? lineAt(first.pos[0]);
    const reason =
      first.code === 'MULTIPLE_DOCS'
        ? 'a flake file holds one document, this one has a second one ("---")'
        : escapeExcerpt(
            first.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, ''),
            160,
          );
    throw invalid(file, line, `not valid YAML: ${reason}`, 'fix the YAML syntax of the flake file');
  }

  const provenance = new Map<string, FlakeLocation>();
  const warnings: NonNullable<ParsedFlakeDocument['warnings']> = [];
  let nodes = 0;
  let aliases = 0;

  const convert = (
    node: unknown,
    path: string,
    keyLine: number,
    fallbackLine: number,
    depth: number,
    viaAlias = false,
  ): unknown => {
    nodes += 1;
    if (depth > MAX_DEPTH) {
      throw invalid(
        file,
        fallbackLine,
        viaAlias
          ? `${shownPath(path)}: nested more than ${MAX_DEPTH} levels deep through aliases (*NAME); a flake nests a handful`
          : `${shownPath(path)}: nested more than ${MAX_DEPTH} levels deep; a flake nests a handful (container.runtime.podman is the deepest)`,
        viaAlias
          ? 'an alias inside the collection it names, or a chain of aliases, nests without end: write the values out'
          : 'fix the indentation and brackets of the flake file',
      );
    }
    if (nodes > MAX_NODES) {
      throw invalid(
        file,
        fallbackLine,
        `more than ${MAX_NODES} values${aliases > 0 ? ' (each use of an alias counts its values again)' : ''}; a flake has a few dozen`,
        'check that this is the flake file meant',
      );
    }
    let resolved = node;
    let line = fallbackLine;
    const range = (node as { range?: [number, number, number] } | null)?.range;
    if (range) line = lineAt(range[0]);
    let inAlias = viaAlias;
    if (isAlias(node)) {
      aliases += 1;
      inAlias = true;
      resolved = targets.get(node);
      if (resolved === undefined)
        throw invalid(
          file,
          line,
          `${shownPath(path)}: unknown alias *${escapeExcerpt(node.source, 40)}`,
        );
    }
    provenance.set(path, { file, line, keyLine });

    if (resolved === null || resolved === undefined) return null;
    if (isScalar(resolved)) return resolved.value ?? null;
    if (isSeq(resolved)) {
      return resolved.items.map((item, index) =>
        convert(item, childPath(path, index), line, line, depth + 1, inAlias),
      );
    }
    if (isMap(resolved)) {
      const out: Mapping = Object.create(null);
      const keyLines = new Map<string, number>();
      for (const pair of resolved.items) {
        const keyNode = pair.key as YamlNode | null;
        const keyRange = (keyNode as { range?: [number, number, number] } | null)?.range;
        const pairLine = keyRange ? lineAt(keyRange[0]) : line;
        const key = isScalar(keyNode) ? keyNode.value : undefined;
        if (key === null || key === undefined || typeof key === 'object') {
          throw invalid(file, pairLine, `${shownPath(path)}: keys must be plain words`);
        }
        const name = String(key);
        if (Object.hasOwn(out, name)) {
          // DESIGN: a key repeated in one file: the last one wins, with a warning.
          warnings.push({
            file,
            line: pairLine,
            message: `${quoteExcerpt(name)} is repeated in ${shownPath(path)} (first on line ${keyLines.get(name)}): the last one wins; remove one of the two`,
          });
          delete out[name];
        }
        keyLines.set(name, pairLine);
        const value = convert(
          pair.value,
          childPath(path, name),
          pairLine,
          pairLine,
          depth + 1,
          inAlias,
        );
        out[name] = value;
      }
      return out;
    }
    throw invalid(file, line, `${shownPath(path)}: unsupported YAML node`);
  };

  let value = convert(doc.contents, '', 1, 1, 0);
  // An empty file (or one holding only comments) is an empty mapping: a drop-in may be empty.
  if (value === null) {
    value = Object.create(null);
    provenance.set('', { file, line: 1, keyLine: 1 });
  }
  if (!isMapping(value)) {
    const at = provenance.get('')!;
    throw invalid(
      file,
      at.line,
      `the top level must be a mapping (keys such as "container:"), not ${describe(value)}`,
    );
  }
  return { value, provenance, files: [file], warnings };
}

// ---------------------------------------------------------------------------------------
// Merging

/** Who wrote a path last: `seq` orders the writes of all documents. */
interface Write {
  doc: ParsedFlakeDocument;
  seq: number;
}

/**
 * Deep merge in order (main file first, then drop-ins by name). Mappings merge key by
 * key, recursively; anything else (a scalar, a sequence, null) in a later document
 * replaces what came before. Sequences replace rather than append so that a drop-in can
 * say exactly which layers or podman options apply (and remove some); a `null` resets a
 * key to its default. The inputs are not modified.
 *
 * Linear in the size of the documents: the merge records which document wrote each
 * path (a whole subtree, or a mapping merged key by key), and the provenance of the
 * result is read from those documents in one walk at the end (moving each replaced
 * subtree's locations as it went took time quadratic in the number of keys).
 */
export function mergeFlakeDocuments(docs: ParsedFlakeDocument[]): ParsedFlakeDocument {
  let value: unknown = Object.create(null);
  const files: string[] = [];
  const warnings: NonNullable<ParsedFlakeDocument['warnings']> = [];
  /** A path whose value (with everything below it) one document replaced. */
  const wholes = new Map<string, Write>();
  /** A mapping merged key by key: its own location is the last document's. */
  const mappings = new Map<string, Write>();
  let seq = 0;

  const mergeInto = (
    base: unknown,
    overlay: unknown,
    path: string,
    source: ParsedFlakeDocument,
  ): unknown => {
    if (!isMapping(base) || !isMapping(overlay)) {
      wholes.set(path, { doc: source, seq: seq++ });
      return cloneValue(overlay);
    }
    const out: Mapping = Object.create(null);
    for (const key of Object.keys(base)) out[key] = base[key];
    for (const key of Object.keys(overlay)) {
      const child = childPath(path, key);
      const earlier = Object.hasOwn(base, key) ? base[key] : undefined;
      out[key] = mergeInto(earlier, overlay[key], child, source);
    }
    mappings.set(path, { doc: source, seq: seq++ });
    return out;
  };

  for (const doc of docs) {
    value = mergeInto(value, doc.value, '', doc);
    files.push(...doc.files);
    warnings.push(...(doc.warnings ?? []));
  }

  // Each path's location comes from the latest write that covers it: a whole write at
  // the path or above it, or, for the mapping itself, a key-by-key merge at the path.
  const provenance = new Map<string, FlakeLocation>();
  const later = (a: Write | undefined, b: Write | undefined) =>
    a === undefined || (b !== undefined && b.seq > a.seq) ? b : a;
  const stack: { node: unknown; path: string; above: Write | undefined }[] = [
    { node: value, path: '', above: undefined },
  ];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const { node, path, above } = next;
    const covering = later(above, wholes.get(path));
    const own = later(covering, mappings.get(path));
    const location = own?.doc.provenance.get(path);
    if (location) provenance.set(path, location);
    if (Array.isArray(node)) {
      node.forEach((item, index) => {
        stack.push({ node: item, path: childPath(path, index), above: covering });
      });
    } else if (isMapping(node)) {
      for (const key of Object.keys(node)) {
        stack.push({ node: node[key], path: childPath(path, key), above: covering });
      }
    }
  }
  return { value, provenance, files, warnings };
}

function cloneValue(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(cloneValue);
  if (isMapping(value)) {
    const out: Mapping = Object.create(null);
    for (const key of Object.keys(value)) out[key] = cloneValue(value[key]);
    return out;
  }
  return value;
}

/** What a value is, for messages: `a list`, `the string "x"`. */
export function describe(value: unknown): string {
  if (value === null || value === undefined) return 'nothing (null)';
  if (Array.isArray(value)) return 'a list';
  if (isMapping(value)) return 'a mapping';
  if (typeof value === 'string') return `the string ${quoteExcerpt(value)}`;
  if (typeof value === 'boolean') return `the boolean ${value}`;
  if (typeof value === 'number' || typeof value === 'bigint') return `the number ${value}`;
  return `a ${typeof value}`;
}
