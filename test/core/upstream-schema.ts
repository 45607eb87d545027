/**
 * flake-pilot 3.1.44's schema as a check over a parsed flake document, for the tests that
 * hold pilot's flakes to it (flake-migration.test.ts, flake-pilot-corpus.test.ts).
 *
 * Concretely (podman-pilot/src/config.rs and flake-ctl/src/app_config.rs at tag v3.1.44,
 * both serde structs without defaults where noted): the top level needs `include` (a
 * mapping: podman-pilot's `Config.include` and flake-ctl's `AppConfig.include` have no
 * default) and `container`; `container` needs `name`, `host_app_path` (a string in both),
 * `check_host_dependencies` (a bool in both) and, for flake-ctl, `target_app_path`;
 * `base_container` and `layers` may be absent or null; `runtime` may be absent, but when
 * present podman-pilot needs `runtime.runas` (a string without default), while
 * `resume`/`attach` default to false and `podman` may be absent. Keys either does not
 * know are ignored (no `deny_unknown_fields`).
 */

type Check = (value: unknown) => boolean;
const isMap = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);
const str: Check = (v) => typeof v === 'string';
const bool: Check = (v) => typeof v === 'boolean';
const strings: Check = (v) => Array.isArray(v) && v.every(str);
const optional =
  (check: Check): Check =>
  (v) =>
    v === undefined || v === null || check(v);

/** flake-pilot 3.1.44's required keys and types (see the top of this file). */
const UPSTREAM: Record<string, Record<string, Check>> = {
  include: { tar: optional(strings), path: optional(strings) },
  container: {
    name: str,
    target_app_path: str,
    host_app_path: str,
    base_container: optional(str),
    check_host_dependencies: bool,
    layers: optional(strings),
    runtime: optional(isMap),
  },
  'container.runtime': {
    runas: str,
    resume: optional(bool),
    attach: optional(bool),
    podman: optional(strings),
  },
};

/** What flake-pilot 3.1.44 would refuse in a flake document, as "key: why" lines. */
export function upstreamSchemaErrors(doc: unknown): string[] {
  if (!isMap(doc)) return ['document: not a mapping'];
  const errors: string[] = [];
  for (const [section, keys] of Object.entries(UPSTREAM)) {
    const [top, sub] = section.split('.') as [string, string | undefined];
    const value = sub === undefined ? doc[top] : isMap(doc[top]) ? doc[top][sub] : undefined;
    if (sub !== undefined && (value === undefined || value === null)) continue; // optional
    if (!isMap(value)) {
      errors.push(`${section}: missing or not a mapping`);
      continue;
    }
    for (const [key, check] of Object.entries(keys)) {
      if (!check(value[key])) errors.push(`${section}.${key}: ${JSON.stringify(value[key])}`);
    }
  }
  return errors;
}
