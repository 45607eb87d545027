/**
 * What the integration suite needs: root, overlayfs, util-linux unshare, the
 * example images' tools. In CI (CI=true) a missing piece fails the run loudly;
 * elsewhere the suite skips with a message saying why.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');

function has(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

export function missingRequirements(): string[] {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push('root (run as root)');
  if (!readFileSync('/proc/filesystems', 'utf8').includes('overlay')) {
    spawnSync('modprobe', ['overlay'], { stdio: 'ignore' });
    if (!readFileSync('/proc/filesystems', 'utf8').includes('overlay'))
      missing.push('kernel overlayfs');
  }
  for (const tool of [
    'unshare',
    'busybox',
    'jq',
    'tar',
    'gzip',
    'xz',
    'zstd',
    'sha256sum',
    'setfattr',
    'mknod',
    'cc',
    'strace',
    // the registry suite: the distribution registry, htpasswd for its basic auth, a CA
    'docker-registry',
    'htpasswd',
    'openssl',
    'skopeo',
    // the trust suite: keys made and signatures checked
    'gpg',
    'gpgv',
    // integration/package.test.ts: builds .debs and installs them in a throwaway namespace.
    'dpkg-deb',
    'nsenter',
    // integration/host-rpm.test.ts: real rpm packages in a real rpm database (Debian's rpm).
    'rpm',
    'rpmbuild',
  ]) {
    if (!has(tool)) missing.push(tool);
  }
  // Apps are also run as nobody, through links to this checkout's dist/: a checkout
  // under a private directory (mktemp -d makes 0700 ones) fails those calls mutely.
  const probe = spawnSync(
    'setpriv',
    ['--reuid=65534', '--regid=65534', '--clear-groups', 'test', '-r', join(repo, 'package.json')],
    { stdio: 'ignore' },
  );
  if (probe.status !== 0)
    missing.push(`a checkout that nobody (uid 65534) can read: ${repo} has a private parent dir`);
  return missing;
}

export const inCi = process.env.CI === 'true';
