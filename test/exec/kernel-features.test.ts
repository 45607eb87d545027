/**
 * pilot-exec's kernel features (pilot/exec/kernel.c): each is probed where it is used,
 * and PILOT_FORCE_FALLBACKS=1 (in pilot-exec's environment, or the caller's as
 * `--environ` words on the Node path) makes every probe say no, so that this kernel
 * runs the paths of Debian 12's 6.1: no overlay `lowerdir+` (6.8), no user.* xattrs on
 * tmpfs (6.6). Needs root and overlayfs, as test/exec/pilot-exec.test.ts.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const binary = path.join(repo, 'dist/pilot-exec');
const busybox = '/bin/busybox';
const inCi = process.env.CI === 'true';
const runnable = process.getuid?.() === 0 && fs.existsSync(busybox);
const nobody = 65534;

/** The running kernel's version, to say what it should have (the code probes, never asks). */
function kernelAtLeast(major: number, minor: number): boolean {
  const [a = 0, b = 0] = os.release().split(/[.-]/).map(Number);
  return a > major || (a === major && b >= minor);
}

describe.skipIf(!runnable && !inCi)(
  'pilot-exec on kernels with and without the new features',
  () => {
    let tmp = '';
    let layers = '';
    let names: string[] = [];
    const forced = { ...process.env, PILOT_FORCE_FALLBACKS: '1' };
    // make integration-fallbacks runs this file with the switch on: "plain" is without it.
    const plain = { ...process.env };
    delete plain.PILOT_FORCE_FALLBACKS;

    beforeAll(() => {
      const make = spawnSync('make', ['dist/pilot-exec'], { cwd: repo, encoding: 'utf8' });
      expect(make.status, make.stderr).toBe(0);
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pilot-kernel-test-'));
      fs.chmodSync(tmp, 0o755); // nobody must reach the layers and the binary
      layers = path.join(tmp, 'layers');
      // 400 layers with 20-byte names: 8 KiB of lowerdir, twice what mount(2) takes.
      names = Array.from({ length: 400 }, (_, i) => `layer-${String(i).padStart(14, '0')}`);
      for (const [i, name] of names.entries()) {
        fs.mkdirSync(path.join(layers, name, 'etc/dir'), { recursive: true });
        fs.writeFileSync(path.join(layers, name, `f${i}`), `${i}\n`);
        fs.writeFileSync(path.join(layers, name, 'etc/which'), `layer ${i}\n`);
      }
      const bin = path.join(layers, 'busybox/bin');
      fs.mkdirSync(bin, { recursive: true });
      fs.copyFileSync(busybox, path.join(bin, 'busybox'));
      fs.chmodSync(path.join(bin, 'busybox'), 0o755);
      for (const applet of ['sh', 'cat', 'mkdir', 'rm', 'true'])
        fs.symlinkSync('busybox', path.join(bin, applet));
      // A layer nobody owns: in its user namespace nobody is root and may change it.
      const owned = path.join(layers, 'owned');
      fs.mkdirSync(path.join(owned, 'etc/dir'), { recursive: true });
      fs.writeFileSync(path.join(owned, 'etc/dir/file'), 'x\n');
      for (const p of ['', 'etc', 'etc/dir', 'etc/dir/file'])
        fs.chownSync(path.join(owned, p), nobody, nobody);
      fs.copyFileSync(binary, path.join(tmp, 'pilot-exec'));
      fs.chmodSync(path.join(tmp, 'pilot-exec'), 0o755);
    }, 60_000);

    afterAll(() => {
      if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    });

    const scratch = () => {
      const dir = fs.mkdtempSync(path.join(tmp, 'mnt-'));
      fs.chownSync(dir, nobody, nobody);
      return dir;
    };
    /** pilot-exec over `lowers` (names below `layers`, top first), as root or nobody. */
    const exec = (
      lowers: string[],
      program: string[],
      options: { env?: NodeJS.ProcessEnv; userns?: boolean; extra?: string[] } = {},
    ) => {
      const args = [
        ...(options.userns ? ['--userns'] : []),
        ...['--mnt', scratch(), '--lowerdir-base', layers, '--lowerdir', lowers.join(':')],
        ...(options.extra ?? []),
        '--',
        ...program,
      ];
      const [command, words] = options.userns
        ? [
            'setpriv',
            [
              ...['--reuid', String(nobody), '--regid', String(nobody), '--clear-groups', '--'],
              path.join(tmp, 'pilot-exec'),
              ...args,
            ],
          ]
        : [binary, args];
      return spawnSync(command, words, { encoding: 'utf8', env: options.env ?? plain });
    };
    const sh = (script: string) => ['sh', '-c', script];

    // Not skipped on a kernel before 6.8 (CI runs every test): there the probe says no,
    // and the list past one page is refused as PILOT_FORCE_FALLBACKS makes it below.
    const lowerdirPlus = kernelAtLeast(6, 8);
    const refusal =
      /the app's layers do not fit in one overlay mount on this kernel \(\d+ bytes of options, mount\(2\) takes < 4096, and overlayfs has no lowerdir\+ before Linux 6\.8\): squash some layers of the image/;

    it(`a lower dir list past one page: ${lowerdirPlus ? 'lowerdir+, top first' : 'refused, as 6.1 must'}`, () => {
      const r = exec([...names, 'busybox'], sh('cat /etc/which /f0 /f399'), {
        extra: ['--debug'],
      });
      if (lowerdirPlus) {
        expect(r.stdout).toBe('layer 0\n0\n399\n');
        expect(r.status).toBe(0);
        expect(r.stderr).toMatch(/overlay lowerdir\+ supported/);
        expect(r.stderr).toMatch(/overlay on \S+ \(401 lower dirs, lowerdir\+\)/);
      } else {
        expect(r.stderr).toMatch(refusal);
        expect(r.status).toBe(125);
      }
    });

    it('so does an unprivileged caller: the read-only probe and the overlay', () => {
      const r = exec([...names, 'busybox'], sh('cat /etc/which; cat /mnt/point/f5'), {
        userns: true,
        extra: ['--bind', path.join(layers, names[5]!), '/mnt/point'],
      });
      if (lowerdirPlus) {
        expect(r.stderr).toBe('');
        expect(r.stdout).toBe('layer 0\n5\n');
        expect(r.status).toBe(0);
      } else {
        expect(r.stderr).toMatch(refusal);
        expect(r.status).toBe(125);
      }
    });

    it.each([
      ['in its own environment (the stub)', forced, []],
      ['as a caller variable (the Node path)', {}, ['--environ', 'PILOT_FORCE_FALLBACKS=1']],
    ])('PILOT_FORCE_FALLBACKS %s: the 6.1 path, a clear error naming the fix', (_how, env, extra) => {
      const r = exec([...names, 'busybox'], ['true'], { env, extra: extra as string[] });
      expect(r.status).toBe(125);
      expect(r.stderr).toMatch(refusal);
    });

    it('a list that fits takes mount(2) either way, without probing', () => {
      for (const env of [plain, forced]) {
        const r = exec([names[7]!, 'busybox'], sh('cat /etc/which'), { env, extra: ['--debug'] });
        expect(r.stdout).toBe('layer 7\n');
        expect(r.status).toBe(0);
        expect(r.stderr).not.toMatch(/lowerdir\+/);
      }
    });

    it('an unprivileged per-call upper: user.* xattrs on its tmpfs are probed, not assumed', () => {
      // The app removes a directory of the image and makes it again: an opaque mark.
      const script = 'rm -r /etc/dir && mkdir /etc/dir && echo made';
      const r = exec(['owned', 'busybox'], sh(script), { userns: true, extra: ['--debug'] });
      if (kernelAtLeast(6, 6)) {
        expect(r.stderr).toMatch(/kernel: user\.\* xattrs on \S+ supported/);
        expect(r.stdout).toBe('made\n');
        expect(r.status).toBe(0);
      } else {
        expect(r.stderr).toMatch(/per-call upper without user\.\* xattrs/);
      }
      const f = exec([names[0]!, 'busybox'], ['true'], {
        userns: true,
        env: forced,
        extra: ['--debug'],
      });
      expect(f.stderr).toMatch(/user\.\* xattrs on \S+ not used \(PILOT_FORCE_FALLBACKS\)/);
      expect(f.stderr).toMatch(/per-call upper without user\.\* xattrs: a directory of the image/);
      expect(f.status).toBe(0);
    });
  },
);
