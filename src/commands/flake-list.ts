/**
 * What `pilot list` and `pilot podman show` print: pilot's own records (`list --json`)
 * and flake-ctl's (`--format table|json|csv`, flake-pilot 3.1.44's `list` and `podman
 * show`: the same JSON keys, the same CSV without a header line, the same table with a
 * headline and a ruler). Pure: the command modules read, these shape.
 */
import { join } from 'node:path';
import { type AppEntry, appLinkKind } from '../core/app-registry.js';
import { isPilotError } from '../core/errors.js';
import { escapeName } from '../core/excerpt.js';
import { taggedImageId } from '../core/image-record.js';
import type { PilotPaths } from '../core/paths.js';
import { behindRefs, planAppUpdate } from './update-plan.js';

export const LIST_FORMATS = ['table', 'json', 'csv'] as const;
export type ListFormat = (typeof LIST_FORMATS)[number];

/** flake-ctl's FlakeInfo: `null` where the flake could not be read. */
export interface FlakeRecord {
  name: string;
  /** pilot's addition (upstream readers ignore unknown keys): a pin is behind its tag. */
  behind?: boolean;
  engine: string | null;
  target: string | null;
  host_app_path: string | null;
  config: string;
}

/** flake-ctl's InstanceInfo (`podman show`). */
export interface InstanceRecord {
  name: string;
  user: string;
  id: string;
  status: 'running' | 'stopped' | 'unknown';
  image: string | null;
  config: string | null;
}

export const FLAKE_COLUMNS = ['NAME', 'ENGINE', 'TARGET APP PATH', 'HOST APP PATH', 'CONFIG'];
export const INSTANCE_COLUMNS = ['NAME', 'USER', 'ID', 'STATUS', 'IMAGE', 'CONFIG'];
/** flake-ctl's table shows an unknown value as "-", like podman ps. */
const NO_VALUE = '-';
/** flake-ctl shows ids abbreviated in its table, as `podman ps` does. */
const ID_LENGTH = 12;

/** pilot's own `list --json` object for one app (DESIGN: JSON output). */
export function pilotListEntry(paths: PilotPaths, entry: AppEntry) {
  if (!entry.ok) {
    return {
      app: entry.app,
      ok: false as const,
      error: isPilotError(entry.error) ? entry.error.message : String(entry.error),
      code: isPilotError(entry.error) ? entry.error.code : ('PILOT_INTERNAL' as const),
    };
  }
  const c = entry.flake.container;
  const link = appLinkKind(paths, c.host_app_path);
  const behind = isBehind(paths, entry);
  return {
    app: entry.app,
    ok: true as const,
    host_app_path: c.host_app_path ?? null,
    linked: link === 'pilot',
    link,
    container: c.name,
    base_container: c.base_container ?? null,
    layers: c.layers,
    target_app_path: c.target_app_path ?? null,
    resume: c.runtime.resume,
    attach: c.runtime.attach,
    files: entry.files,
    warnings: entry.warnings,
    behind,
  };
}

/**
 * Whether a pin of the app is behind its tag: the tag names another image now ("pilot
 * update APP" moves the app there). A tag that names no image is not "behind".
 */
export function isBehind(paths: PilotPaths, entry: AppEntry): boolean {
  if (!entry.ok) return false;
  try {
    return behindRefs(planAppUpdate(entry.flake, (ref) => taggedImageId(paths, ref))).length > 0;
  } catch {
    // A store this caller cannot read (or a damaged name): the list still lists the app.
    return false;
  }
}

/** The mark the tables put after a behind app's name. */
export const BEHIND_MARK = ' (behind)';

export type PilotListEntry = ReturnType<typeof pilotListEntry>;

/** pilot's own table (`pilot list` without --format). */
export function pilotListRows(entries: PilotListEntry[]): string[][] {
  return entries.map((e) =>
    e.ok
      ? [
          `${e.app}${e.behind ? BEHIND_MARK : ''}`,
          `${e.host_app_path ?? ''}${e.link === 'flake-pilot' ? ' (flake-pilot)' : ''}`,
          e.container,
          e.base_container ?? '',
          // No target: the app's own name, looked up in the image's PATH.
          e.target_app_path ?? `(${e.app} in PATH)`,
        ]
      : [e.app, '', `error: ${e.error}`, '', ''],
  );
}

/** flake-ctl's record of one app; pilot runs container flakes only, on podman's engine name. */
export function flakeRecord(flakesDir: string, entry: AppEntry): FlakeRecord {
  const config = join(flakesDir, `${entry.app}.yaml`);
  if (!entry.ok) {
    // A vm: flake is firecracker's: named so, though this host cannot run it.
    return {
      name: entry.app,
      engine: entry.engine ?? null,
      target: null,
      host_app_path: null,
      config,
    };
  }
  const c = entry.flake.container;
  return {
    name: entry.app,
    engine: 'podman',
    target: c.target_app_path ?? null,
    host_app_path: c.host_app_path ?? null,
    config,
  };
}

export function flakeRows(records: FlakeRecord[]): (string | null)[][] {
  return records.map((r) => [r.name, r.engine, r.target, r.host_app_path, r.config]);
}

export function instanceRows(records: InstanceRecord[], abbreviate: boolean): (string | null)[][] {
  return records.map((r) => [
    r.name,
    r.user,
    abbreviate ? r.id.slice(0, ID_LENGTH) : r.id,
    r.status,
    r.image,
    r.config,
  ]);
}

/** One CSV field, quoted as flake-ctl quotes it (only when it holds `,` `"` CR or LF). */
export function csvField(value: string): string {
  return /[,"\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/** flake-ctl's CSV: no header line, an unknown value is an empty field; names escaped. */
export function csvText(rows: (string | null)[][]): string {
  return rows
    .map((row) => `${row.map((cell) => csvField(escapeName(cell ?? ''))).join(',')}\n`)
    .join('');
}

/** Table cells: an unknown value shows as "-". */
export function tableCells(rows: (string | null)[][]): string[][] {
  return rows.map((row) => row.map((cell) => cell ?? NO_VALUE));
}
