/**
 * `pilot migrate`, the pure part: what one app's flake becomes (its digests pinned, every
 * other byte kept where the YAML allows it), and what `--revert` may put back given what
 * is on disk now. migrate.ts reads the disk and carries the decisions out.
 */
import { isDeepStrictEqual } from 'node:util';
import { isMap, isScalar, type Node, parseDocument, stringify, type YAMLMap } from 'yaml';
import type { LinkKind } from '../core/app-registry.js';
import { PilotError } from '../core/errors.js';
import { type Flake, type FlakeSource, flakeFromSources } from '../core/flake-file.js';
import type { JournalEntry } from './migrate-journal.js';

function cannotPin(file: string, why: string): PilotError {
  return new PilotError('PILOT_FLAKE_INVALID', `${file}: cannot pin the image digests: ${why}`, {
    hint: 'add the container section to the main flake file, or register the app again with "pilot register --force ..."',
  });
}

/** The offset just after the line that holds `offset`. */
function lineEnd(text: string, offset: number): number {
  const newline = text.indexOf('\n', offset);
  return newline === -1 ? text.length : newline + 1;
}

/**
 * The main flake file's text with `container.digests` holding `digests`. A block
 * `container:` mapping without digests gets the new key as its first entry, as text
 * inserted after the `container:` line: every other byte stays as flake-ctl or the
 * user wrote it (comments, quoting, order). A flow mapping or an existing digests key
 * is rewritten through the YAML document (comments kept, layout may change); a file
 * whose pins are already these is returned unchanged.
 */
export function pinDigestsText(
  file: string,
  text: string,
  digests: Record<string, string>,
): string {
  const doc = parseDocument(text, { uniqueKeys: false });
  if (doc.errors.length > 0) throw cannotPin(file, doc.errors[0]!.message);
  if (!isMap(doc.contents)) throw cannotPin(file, 'the file is not a mapping');
  // A repeated key: the last one wins, as the flake reader says.
  const pair = doc.contents.items
    .filter((p) => isScalar(p.key) && p.key.value === 'container')
    .at(-1);
  const container = pair?.value;
  if (!pair || !isMap(container)) throw cannotPin(file, 'it has no container mapping');
  const existing = container.items.find((p) => isScalar(p.key) && p.key.value === 'digests');
  if (existing) {
    const pinned = isMap(existing.value)
      ? (existing.value.toJSON() as Record<string, unknown>)
      : {};
    if (Object.entries(digests).every(([ref, id]) => pinned[ref] === id)) return text;
    for (const [ref, id] of Object.entries(digests)) doc.setIn(['container', 'digests', ref], id);
    return doc.toString({ lineWidth: 0 });
  }
  const first = container.items[0]?.key as Node | undefined;
  const keyStart = (pair.key as Node).range?.[0];
  const firstStart = first?.range?.[0];
  if (container.flow || keyStart === undefined || firstStart === undefined) {
    (container as YAMLMap<unknown, unknown>).set('digests', doc.createNode(digests));
    return doc.toString({ lineWidth: 0 });
  }
  const insertAt = lineEnd(text, keyStart);
  const firstLine = text.lastIndexOf('\n', firstStart - 1) + 1;
  const indent = text.slice(firstLine, firstStart);
  if (firstLine < insertAt || !/^ +$/.test(indent) || !text.slice(0, insertAt).endsWith('\n')) {
    (container as YAMLMap<unknown, unknown>).set('digests', doc.createNode(digests));
    return doc.toString({ lineWidth: 0 });
  }
  const block = stringify({ digests }, { lineWidth: 0 })
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => `${indent}${line}\n`)
    .join('');
  return text.slice(0, insertAt) + block + text.slice(insertAt);
}

function withoutDigests(flake: Flake): Flake {
  return { ...flake, container: { ...flake.container, digests: {} } };
}

/**
 * The merged flake after the main file's text becomes `pinned`: it must read, hold the
 * pins, and differ from `before` in nothing else (a text edit that changed a meaning is
 * refused, not written).
 */
export function checkPinned(
  sources: readonly FlakeSource[],
  pinned: string,
  before: Flake,
  digests: Record<string, string>,
): void {
  const [main, ...dropIns] = sources;
  const after = flakeFromSources([{ ...main!, text: pinned }, ...dropIns]).flake;
  const missing = Object.entries(digests).filter(
    ([ref, id]) => after.container.digests[ref] !== id,
  );
  if (missing.length > 0) {
    throw cannotPin(
      main!.file,
      `a drop-in overrides container.digests for ${missing.map(([ref]) => ref).join(', ')}`,
    );
  }
  if (!isDeepStrictEqual(withoutDigests(after), withoutDigests(before))) {
    throw cannotPin(main!.file, 'adding the digests would change another setting of the flake');
  }
}

/** What is at an app's flake and link now, for `--revert`. */
export interface CurrentState {
  /** The main flake file's text; undefined when it is gone. */
  flake: string | undefined;
  link: LinkKind;
  /** The link's target, when it is a link. */
  linkTarget: string | undefined;
}

export type RevertDecision =
  | { kind: 'revert'; flake: boolean; link: boolean }
  | { kind: 'refuse'; reason: string };

/**
 * What `--revert` does for one journal entry: put back the flake when it still holds
 * what migrate wrote, and the link when it is still pilot's; leave what is already as
 * it was. Anything changed since (a `pilot register --force`, a `remove`, a file put
 * there by hand) is refused for the whole app, so that no app is left half reverted.
 */
export function decideRevert(entry: JournalEntry, now: CurrentState): RevertDecision {
  let flake: boolean;
  if (now.flake === undefined) {
    return { kind: 'refuse', reason: `its flake ${entry.flake} was removed since pilot migrate` };
  }
  if (now.flake === entry.pinnedFlake && entry.pinnedFlake !== entry.previousFlake) flake = true;
  else if (now.flake === entry.previousFlake) flake = false;
  else {
    return {
      kind: 'refuse',
      reason: `its flake ${entry.flake} was changed since pilot migrate (by "pilot register --force" or by hand)`,
    };
  }
  let link: boolean;
  if (now.link === 'pilot' || now.link === 'missing') link = true;
  else if (now.link === 'flake-pilot' && now.linkTarget === entry.previousTarget) link = false;
  else {
    return {
      kind: 'refuse',
      reason: `its link ${entry.link} is no longer pilot's (${now.linkTarget === undefined ? 'not a link' : `it points to ${now.linkTarget}`})`,
    };
  }
  return { kind: 'revert', flake, link };
}

/**
 * The flake text and link target to record as "before" for an app migrated now. An app
 * a killed migrate left half done (its entry there, its flake already pinned) keeps the
 * entry's original: the journal must always lead back to what flake-pilot had.
 */
export function baseline(
  previous: JournalEntry | undefined,
  flakeNow: string,
  targetNow: string,
): { previousFlake: string; previousTarget: string } {
  if (previous && (flakeNow === previous.pinnedFlake || flakeNow === previous.previousFlake)) {
    return { previousFlake: previous.previousFlake, previousTarget: previous.previousTarget };
  }
  return { previousFlake: flakeNow, previousTarget: targetNow };
}
