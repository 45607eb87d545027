/**
 * The flake model: `<flakes>/<app>.yaml` plus drop-ins `<app>.d/*.yaml`, in the format of
 * flake-pilot (EB 2.2.19 and OS 3.1.44 forms) with pilot's extension keys beside it.
 *
 * The launcher imports this on every app start: node built-ins, `yaml` and src/core only.
 *
 * Pipeline, each step pure except the first and the last:
 *   readFlakeSources (flake-read.ts) → parseFlakeSource (each) → mergeFlakeDocuments
 *   (flake-document.ts) → validateFlake (flake-validate.ts); the result's shape is
 *   flake-model.ts, writing one back flake-write.ts
 * Every value keeps the file and line it came from, so that an error in a drop-in names
 * the drop-in, not the main file.
 *
 * Decisions:
 * - List keys (layers, include.tar, include.path, host_packages, runtime.podman) must be
 *   YAML sequences. A single string is refused, not wrapped: upstream flake-pilot refuses
 *   it too, and a flake that only pilot reads would silently break the upstream tools.
 * - Booleans are YAML 1.2 booleans (`true`/`false`); `"yes"` or `yes` is a string and refused.
 * - `null` (`~` or an empty value) anywhere means "the default", as upstream does.
 * - `runtime.runas` also takes a non-negative integer (a uid) and keeps it as a string.
 * - `runtime.podman` items are parsed here (podman-options.ts) so that broken quoting and
 *   options pilot cannot honour are reported with file and line.
 * - Paths that pilot resolves on the host or in the image (target_app_path, host_app_path,
 *   include.tar, include.path) must be absolute: a relative one would depend on the
 *   caller's working directory. flake-pilot resolves a relative include.tar against the
 *   caller's cwd at launch, which would let whoever controls that directory choose what
 *   root's app contains; `register` (and `migrate`) make such paths absolute instead.
 * - No target_app_path (a hand-written flake) runs the app's own name from the image's
 *   PATH, as podman-pilot does (`targetOf` in runtime/image-settings.ts).
 * - A firecracker-pilot flake (`vm:` instead of `container:`) is of an engine this host
 *   lacks: an error of its own code, so that `list` shows it and the launch says so.
 */
import { mergeFlakeDocuments, parseFlakeSource } from './flake-document.js';
import type { LoadedFlake } from './flake-model.js';
import { type FlakeSource, readFlakeSources } from './flake-read.js';
import { validateFlake } from './flake-validate.js';

// The steps and the model, re-exported: callers and tests import a flake's API from here.
export {
  type FlakeLocation,
  mergeFlakeDocuments,
  type ParsedFlakeDocument,
  parseFlakeSource,
} from './flake-document.js';
export {
  type Flake,
  type FlakeRuntime,
  type FlakeWarning,
  HOST_FILES_POLICIES,
  type HostFilesPolicy,
  type LoadedFlake,
} from './flake-model.js';
export { assertAppName, type FlakeSource, readFlakeSources } from './flake-read.js';
export { validateFlake } from './flake-validate.js';
export { absoluteIncludes, serializeFlake } from './flake-write.js';

/** parse → merge → validate, without touching the file system. */
export function flakeFromSources(sources: FlakeSource[]): LoadedFlake {
  return validateFlake(mergeFlakeDocuments(sources.map(parseFlakeSource)));
}

export function loadFlake(
  flakesDir: string,
  app: string,
): LoadedFlake & { files: string[]; targets: string[] } {
  const sources = readFlakeSources(flakesDir, app);
  return {
    ...flakeFromSources(sources),
    files: sources.map((source) => source.file),
    targets: sources.flatMap((source) => (source.target === undefined ? [] : [source.target])),
  };
}
