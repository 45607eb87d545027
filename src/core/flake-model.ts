/**
 * What a flake says once it is read and checked (flake-validate.ts): the shape every
 * part of pilot works with, defaults applied.
 */

export interface FlakeRuntime {
  runas?: string;
  resume: boolean;
  attach: boolean;
  podman: string[];
}

/** What a host path listed in `/removed` but missing on the host does to a launch. */
export type HostFilesPolicy = 'skip_missing' | 'strict';
export const HOST_FILES_POLICIES: readonly HostFilesPolicy[] = ['skip_missing', 'strict'];

export interface Flake {
  include: { tar: string[]; path: string[] };
  container: {
    name: string;
    /** Absent: the app's own name, looked up in the image's PATH (targetOf). */
    target_app_path?: string;
    host_app_path?: string;
    base_container?: string;
    layers: string[];
    check_host_dependencies: boolean;
    /** pilot extension: image ref as written in this flake → `sha256:…` it was pinned to. */
    digests: Record<string, string>;
    /** pilot extension: host packages (and their dependencies) whose files are provided like /removed ones. */
    host_packages: string[];
    /**
     * pilot extension: `skip_missing` (default) skips a `/removed` path missing on the host
     * (KIWI lists logs, docs and package-database churn; flake-pilot copies with
     * `--ignore-missing-args`); `strict` makes it fail the launch.
     */
    host_files: HostFilesPolicy;
    runtime: FlakeRuntime;
  };
}

export interface FlakeWarning {
  file: string;
  line: number;
  message: string;
}

export interface LoadedFlake {
  flake: Flake;
  warnings: FlakeWarning[];
  /** "file:line" of each `runtime.podman` item, for messages at launch. */
  podmanAt: string[];
}
