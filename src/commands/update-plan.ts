/**
 * `pilot update` and `pilot list`, the pure part: where an app's pins stand against what
 * their tags name now. A pin (`container.digests`) is what the app runs; a tag is what
 * `load` or `pull` last gave that name. Nothing here reads the disk: `tagOf` says what
 * a ref names in the store now (undefined when it names nothing).
 */
import type { Flake } from '../core/flake-file.js';

export interface RefState {
  ref: string;
  /** The image id the flake pins. */
  pinned: string;
  /** The image id the ref names in the store now; undefined when it names none. */
  current: string | undefined;
}

export type AppUpdateStatus = 'up-to-date' | 'behind' | 'tag-gone';

export interface AppUpdatePlan {
  status: AppUpdateStatus;
  /** Every pinned ref of the flake, container first, then layers, then base. */
  refs: RefState[];
  /** The pins after the update (unchanged refs too); undefined unless the app is behind. */
  digests: Record<string, string> | undefined;
}

/** The refs of a flake that carry a pin, each once, in the order the app stacks them (top first). */
export function pinnedRefs(flake: Flake): string[] {
  const c = flake.container;
  const refs = [c.name, ...c.layers, ...(c.base_container ? [c.base_container] : [])];
  return [...new Set(refs)].filter((ref) => c.digests[ref] !== undefined);
}

/**
 * Where the app's pins stand: `tag-gone` when a pinned ref names no image any more (the
 * update cannot choose one: that is the user's call), else `behind` when any names
 * another image than its pin, else `up-to-date`. Refs without a pin follow their tag at
 * every launch already: they are not the update's business.
 */
export function planAppUpdate(
  flake: Flake,
  tagOf: (ref: string) => string | undefined,
): AppUpdatePlan {
  const refs = pinnedRefs(flake).map(
    (ref): RefState => ({ ref, pinned: flake.container.digests[ref]!, current: tagOf(ref) }),
  );
  if (refs.some((r) => r.current === undefined))
    return { status: 'tag-gone', refs, digests: undefined };
  if (refs.every((r) => r.current === r.pinned))
    return { status: 'up-to-date', refs, digests: undefined };
  const digests = { ...flake.container.digests };
  for (const r of refs) digests[r.ref] = r.current!;
  return { status: 'behind', refs, digests };
}

/** The refs whose tag names another image than the pin (a tag that names none is not "behind"). */
export function behindRefs(plan: AppUpdatePlan): RefState[] {
  return plan.refs.filter((r) => r.current !== undefined && r.current !== r.pinned);
}

/** A short image id for messages: the first 12 hex digits. */
export function shortImageId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}

/** "REF OLD → NEW" for each ref that moves. */
export function describeMoves(plan: AppUpdatePlan): string[] {
  return behindRefs(plan).map(
    (r) => `${r.ref} ${shortImageId(r.pinned)} → ${shortImageId(r.current!)}`,
  );
}
