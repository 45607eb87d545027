/**
 * `pilot show`: what a flake's settings do on this host, for root and for other callers
 * (identity, environment, mounts, isolation, no-ops, host support). `%NAME` placeholders
 * are shown as written: they are expanded from each caller's environment at each call.
 */
import type { Flake } from '../core/flake-file.js';
import { envOverrides, type PodmanNoop, parsePodmanOptions } from '../core/podman-options.js';
import { placeholdersIn } from '../core/podman-words.js';
import { hostSupport, type Runner, type Support } from '../runtime/host-support.js';
import { runasIsCaller } from '../runtime/identity.js';

export interface EffectiveSettings {
  /** What runs: target_app_path, the image's entrypoint, or the app's own name from PATH. */
  program: string;
  /** What a /removed path missing on the host does (container.host_files). */
  hostFiles: string;
  identity: { rootCaller: string; otherCallers: string; imageUser: string | null };
  environment: {
    order: string[];
    values: Record<string, string>;
    fromCaller: string[];
    envFiles: string[];
    loaderVariables: string;
    /** `%NAME` placeholders the options use: expanded from each caller's environment. */
    placeholders: string[];
  };
  mounts: {
    always: string[];
    volumes: { source: string; target: string; readOnly: boolean; flags: string[] }[];
    tmpfs: { target: string; options: string }[];
    workdir: string;
  };
  isolation: {
    readOnly: boolean;
    network: 'host' | 'none';
    hostname: string | null;
    capDrop: string[];
    capAdd: string[];
    noNewPrivileges: boolean;
    writableLayerBytes: number | null;
  };
  noops: PodmanNoop[];
  host: Support[];
}

const LOADER = ['LD_PRELOAD', 'LD_LIBRARY_PATH', 'LD_AUDIT'];

export function effectiveSettings(
  flake: Flake,
  podmanAt: readonly string[],
  image: { User?: string | undefined; WorkingDir?: string | undefined },
  uid: number,
  run?: Runner,
): EffectiveSettings {
  const options = parsePodmanOptions(flake.container.runtime.podman, {
    where: (index) => podmanAt[index] ?? `runtime.podman item ${index + 1}`,
    kept: flake.container.runtime.resume || flake.container.runtime.attach,
  });
  const runas = flake.container.runtime.runas;
  let rootCaller = 'runs as root (its caller)';
  let otherCallers = 'each runs it as itself';
  if (options.user) {
    const who = options.user.group
      ? `${options.user.user}:${options.user.group}`
      : options.user.user;
    rootCaller = `runs as ${who} of the image's /etc/passwd (--user)`;
    otherCallers = `may only run it when ${who} is their own uid (--user)`;
  } else if (!runasIsCaller(runas)) {
    rootCaller = `runs as the host account ${runas} (runas), with its groups and home`;
    otherCallers = `each runs it as itself (runas applies to root callers)`;
  }
  // What the launch applies: later entries for the same name win (envOverrides).
  const { values, fromCaller } = envOverrides(options.env);
  const named = (name: string) =>
    Object.hasOwn(values, name) ||
    fromCaller.some((n) => n === name || (n.endsWith('*') && name.startsWith(n.slice(0, -1))));
  const passedLoader = LOADER.filter(named);
  const target = flake.container.target_app_path;
  return {
    program:
      target === undefined
        ? "the app's own name, looked up in the image's PATH (no target_app_path, as podman-pilot)"
        : target === '/'
          ? "the image's Entrypoint (or Cmd)"
          : target,
    hostFiles:
      flake.container.host_files === 'strict'
        ? 'strict: a /removed path missing on the host fails the launch (exit 127)'
        : 'skip_missing: a /removed path missing on the host is skipped (pilot check lists it)',
    identity: {
      rootCaller,
      otherCallers,
      imageUser: image.User
        ? `${image.User} (${options.user ? 'replaced by --user' : 'not applied: a host command runs as its caller; --user opts in'})`
        : null,
    },
    environment: {
      order: [
        "the flake's values (env files, then -e, later winning)",
        "the caller's HOME, USER, LOGNAME, TERM, LANG, LC_*, DISPLAY, WAYLAND_DISPLAY, XDG_RUNTIME_DIR",
        "the image's Env",
        "the rest of the caller's environment",
      ],
      values,
      fromCaller,
      envFiles: options.envFiles,
      placeholders: placeholdersIn(flake.container.runtime.podman.join('\n')),
      loaderVariables:
        passedLoader.length > 0
          ? `${passedLoader.join(', ')} passed (the flake names them); the others are not passed from the caller`
          : `${LOADER.join(', ')} are not passed from the caller`,
    },
    mounts: {
      always: [
        '/proc',
        '/sys',
        '/dev',
        '/tmp',
        '/etc/resolv.conf',
        '/etc/hosts',
        '/etc/localtime',
        "the caller's HOME, cwd and /run/user/UID",
        "the app's account in /etc/passwd and /etc/group",
      ],
      volumes: options.volumes.map((v) => ({
        source: v.source,
        target: v.target,
        readOnly: v.readOnly,
        flags: [...v.flags],
      })),
      tmpfs: options.tmpfs,
      workdir:
        options.workdir ??
        `the caller's working directory${image.WorkingDir ? ` (the image's WorkingDir ${image.WorkingDir} is not applied: -w opts in)` : ''}`,
    },
    isolation: {
      readOnly: options.readOnly,
      network: options.network,
      hostname: options.hostname ?? null,
      capDrop: options.capDrop,
      capAdd: options.capAdd,
      noNewPrivileges: options.noNewPrivileges || options.capDrop.length > 0,
      writableLayerBytes: options.storageSize ?? null,
    },
    noops: options.noops,
    host: hostSupport(uid, run),
  };
}

/** The text block `pilot show` prints after the flake. */
export function effectiveText(e: EffectiveSettings): string {
  const lines = [
    '# effective settings',
    `program: ${e.program}`,
    `host files: ${e.hostFiles}`,
    'identity:',
  ];
  lines.push(
    `  root caller: ${e.identity.rootCaller}`,
    `  other callers: ${e.identity.otherCallers}`,
  );
  if (e.identity.imageUser) lines.push(`  image User: ${e.identity.imageUser}`);
  lines.push('environment (highest first):', ...e.environment.order.map((o) => `  - ${o}`));
  for (const [name, value] of Object.entries(e.environment.values))
    lines.push(`  set ${name}=${value}`);
  for (const name of e.environment.fromCaller) lines.push(`  from the caller: ${name}`);
  for (const file of e.environment.envFiles) lines.push(`  env file: ${file}`);
  if (e.environment.placeholders.length > 0) {
    lines.push(
      `  ${e.environment.placeholders.join(', ')}: replaced in every option by the caller's value at each call ($NAME when unset)`,
    );
  }
  lines.push(`  ${e.environment.loaderVariables}`);
  lines.push('mounts:', `  always: ${e.mounts.always.join(', ')}`);
  for (const v of e.mounts.volumes) {
    lines.push(
      `  volume ${v.source} -> ${v.target} (${[v.readOnly ? 'ro' : 'rw', ...v.flags].join(',')})`,
    );
  }
  for (const t of e.mounts.tmpfs)
    lines.push(`  tmpfs ${t.target}${t.options ? ` (${t.options})` : ''}`);
  lines.push(`  working directory: ${e.mounts.workdir}`);
  const i = e.isolation;
  lines.push(
    'isolation:',
    `  root file system: ${i.readOnly ? 'read-only' : 'writable (changes vanish when the call ends)'}`,
    `  network: ${i.network === 'none' ? 'none (only loopback)' : "the host's"}`,
    `  host name: ${i.hostname ?? "the host's"}`,
    `  capabilities: ${i.capDrop.length || i.capAdd.length ? `drop ${i.capDrop.join(',') || '-'}, add ${i.capAdd.join(',') || '-'}` : "the caller's"}`,
    `  no_new_privs: ${i.noNewPrivileges ? 'set' : 'not set'}`,
    `  writable layer: ${i.writableLayerBytes === null ? 'in memory, no limit of its own' : `${i.writableLayerBytes} bytes`}`,
  );
  for (const n of e.noops) lines.push(`no-op: ${n.option}: ${n.reason}`);
  lines.push('this host:');
  for (const s of e.host)
    lines.push(`  ${s.setting}: ${s.ok ? 'supported' : 'NOT supported'} (${s.detail})`);
  return `${lines.join('\n')}\n`;
}
