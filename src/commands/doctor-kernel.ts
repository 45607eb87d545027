/**
 * `pilot doctor`'s kernel findings: the version, overlayfs, mount and user namespaces
 * (with the sysctls that disable them), unshare(1), and the flake settings this host can
 * honour (host-support.ts).
 */
import { hostSupport } from '../runtime/host-support.js';
import { check, type DoctorCheck } from './doctor-check.js';
import { type DoctorHost, sysctl } from './doctor-host.js';

/** `5.12.0-foo` → [5, 12]. */
function kernelVersion(text: string): [number, number] {
  const match = /^(\d+)\.(\d+)/.exec(text);
  return match ? [Number(match[1]), Number(match[2])] : [0, 0];
}

function atLeast(version: number[], wanted: number[]): boolean {
  for (let i = 0; i < wanted.length; i++) {
    const have = version[i] ?? 0;
    if (have !== wanted[i]) return have > wanted[i]!;
  }
  return true;
}

export function checkKernel(host: DoctorHost): DoctorCheck {
  const good = atLeast(kernelVersion(host.kernelRelease), [5, 12]);
  return check(
    'kernel',
    true,
    good,
    `Linux ${host.kernelRelease}${good ? '' : ': pilot-exec needs open_tree, move_mount and mount_setattr (Linux 5.12)'}`,
    'upgrade to Linux 5.12 or newer',
  );
}

export function checkOverlay(host: DoctorHost): DoctorCheck {
  const filesystems = host.readText('/proc/filesystems') ?? '';
  const good = /\boverlay$/m.test(filesystems);
  return check(
    'overlayfs',
    true,
    good,
    good ? 'overlay is in /proc/filesystems' : 'overlay is not in /proc/filesystems',
    'load the module: "modprobe overlay" (and list it in /etc/modules-load.d/ to keep it)',
  );
}

export function checkMountNamespaces(host: DoctorHost): DoctorCheck {
  const nsPresent = host.exists('/proc/self/ns/mnt');
  return check(
    'mount namespaces',
    true,
    nsPresent,
    nsPresent ? '/proc/self/ns/mnt present' : 'no /proc/self/ns/mnt',
    'use a kernel built with CONFIG_NAMESPACES and mount /proc',
  );
}

export function checkUserNamespaces(host: DoctorHost): DoctorCheck {
  // An unprivileged caller can launch only through a user namespace; root does not need one
  // for its own launches, only for the unprivileged callers of its apps.
  const required = host.uid !== 0;
  const problems: string[] = [];
  const fixes: string[] = [];
  const max = sysctl(host, 'user.max_user_namespaces');
  if (max === 0) {
    problems.push('user.max_user_namespaces = 0');
    fixes.push('sysctl -w user.max_user_namespaces=15000');
  }
  if (sysctl(host, 'kernel.unprivileged_userns_clone') === 0) {
    problems.push('kernel.unprivileged_userns_clone = 0');
    fixes.push('sysctl -w kernel.unprivileged_userns_clone=1');
  }
  if (sysctl(host, 'kernel.apparmor_restrict_unprivileged_userns') === 1) {
    problems.push('kernel.apparmor_restrict_unprivileged_userns = 1');
    fixes.push('sysctl -w kernel.apparmor_restrict_unprivileged_userns=0 (or an AppArmor profile)');
  }
  let probe = '';
  if (host.which('unshare')) {
    const r = host.run('unshare', ['--user', '--map-root-user', 'true']);
    if (r.code === 0) probe = '"unshare --user --map-root-user true" works';
    else {
      probe = `"unshare --user --map-root-user true" failed: ${r.stderr.trim() || `exit ${r.code}`}`;
      problems.push(probe);
    }
  }
  const good = problems.length === 0;
  const who = required ? '' : ' (needed by unprivileged callers of system apps)';
  return check(
    'user namespaces',
    required,
    good,
    good
      ? [max === undefined ? '' : `max_user_namespaces = ${max}`, probe].filter(Boolean).join('; ')
      : `${problems.join('; ')}${who}`,
    fixes.length > 0
      ? `${fixes.join('; ')}; persist in /etc/sysctl.d/`
      : 'enable unprivileged user namespaces (CONFIG_USER_NS)',
  );
}

/**
 * util-linux unshare(1) 2.38 (--map-user/--map-group) was the exec chain of the design;
 * pilot-exec now makes the same system calls itself, so an older or missing unshare costs
 * only this doctor's user-namespace probe and manual debugging: a warning.
 */
export function checkUnshare(host: DoctorHost): DoctorCheck {
  const path = host.which('unshare');
  const fix = 'install util-linux 2.38 or newer (Debian 12: "apt-get install util-linux")';
  if (!path) {
    return check(
      'unshare',
      false,
      false,
      'unshare (util-linux) not in PATH: user namespaces were not probed',
      fix,
    );
  }
  const r = host.run(path, ['--version']);
  const match = /(\d+)\.(\d+)(?:\.(\d+))?/.exec(r.stdout);
  const version = match ? [Number(match[1]), Number(match[2]), Number(match[3] ?? 0)] : [0, 0, 0];
  const good = atLeast(version, [2, 38]);
  return check(
    'unshare',
    false,
    good,
    `${path}: util-linux ${match ? match[0] : 'version unknown'}${good ? '' : ' (2.38 has --map-user/--map-group; pilot-exec does not need it)'}`,
    fix,
  );
}

/** The flake settings this host can honour (host-support.ts), for the caller running doctor. */
export function checkIsolation(host: DoctorHost): DoctorCheck[] {
  return hostSupport(host.uid, (command, args) => host.run(command, args), host.readText).map((s) =>
    check(
      `option ${s.setting}`,
      false,
      s.ok,
      s.ok ? `supported: ${s.detail}` : `not supported: ${s.detail}`,
      'flakes that use it fail at launch; enable the kernel feature or remove the option',
    ),
  );
}
