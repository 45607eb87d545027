/**
 * Writing a flake: YAML in flake-pilot's key order that upstream's readers accept, and
 * the include entries made absolute before it is written.
 */
import { posix } from 'node:path';
import { stringify } from 'yaml';
import { quoteExcerpt } from './excerpt.js';
import type { Mapping } from './flake-document.js';
import type { Flake } from './flake-model.js';

/**
 * `include.tar` / `include.path` entries made absolute against `base` (register: its own
 * working directory; migrate: what it chooses), each change with a warning. flake-pilot
 * would resolve a relative entry against the caller's working directory at every launch;
 * pilot fixes it once, when root writes the flake.
 */
export function absoluteIncludes(
  include: Flake['include'],
  base: string,
): { include: Flake['include']; warnings: string[] } {
  const warnings: string[] = [];
  const fix = (key: 'tar' | 'path') =>
    include[key].map((entry) => {
      if (entry.startsWith('/')) return entry;
      const absolute = posix.resolve(base, entry);
      warnings.push(
        `include.${key} ${quoteExcerpt(entry)} is relative: written as ${quoteExcerpt(absolute)} (flake-pilot would look it up in each caller's working directory)`,
      );
      return absolute;
    });
  return { include: { tar: fix('tar'), path: fix('path') }, warnings };
}

/**
 * YAML for `pilot register` (and `show`), keys in flake-pilot's order. Every flake register
 * writes passes flake-pilot 3.1.44's schema (podman-pilot's and flake-ctl's readers):
 * `include:` is always there (both require it), and so are `host_app_path`,
 * `target_app_path`, `check_host_dependencies` and `runtime.runas`, which they require.
 * pilot's extension keys (digests, host_packages, host_files) are written only when not
 * the default; upstream ignores keys it does not know.
 */
export function serializeFlake(flake: Flake, options: { header?: string } = {}): string {
  const { container, include } = flake;
  const out: Mapping = { include: { tar: [...include.tar], path: [...include.path] } };
  const body: Mapping = { name: container.name };
  if (container.target_app_path !== undefined) body.target_app_path = container.target_app_path;
  if (container.host_app_path !== undefined) body.host_app_path = container.host_app_path;
  if (container.base_container !== undefined) body.base_container = container.base_container;
  body.layers = [...container.layers];
  body.check_host_dependencies = container.check_host_dependencies;
  if (Object.keys(container.digests).length > 0) body.digests = { ...container.digests };
  if (container.host_packages.length > 0) body.host_packages = [...container.host_packages];
  if (container.host_files !== 'skip_missing') body.host_files = container.host_files;
  const runtime: Mapping = {};
  if (container.runtime.runas !== undefined) runtime.runas = container.runtime.runas;
  runtime.resume = container.runtime.resume;
  runtime.attach = container.runtime.attach;
  runtime.podman = [...container.runtime.podman];
  body.runtime = runtime;
  out.container = body;
  const header = options.header ?? '# written by pilot register\n';
  return `${header}${stringify(out, { lineWidth: 0 })}`;
}
