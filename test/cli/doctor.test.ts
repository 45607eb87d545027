import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  type CommandResult,
  type DoctorCheck,
  type DoctorHost,
  doctorExitCode,
  runDoctor,
} from '../../src/commands/doctor.js';
import { resolvePaths } from '../../src/core/paths.js';
import { type Installed, installPilot, run } from './helpers.js';

vi.setConfig({ testTimeout: 60_000 });

let installed: Installed;
let work: string;

beforeAll(() => {
  installed = installPilot();
  work = mkdtempSync(join(tmpdir(), 'pilot-doctor-'));
}, 300_000);

afterAll(() => {
  installed?.cleanup();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('pilot doctor on this machine', () => {
  it('exits 0 and reports every check as JSON, without creating the store', () => {
    const root = join(work, 'fresh-root');
    const r = run(installed.bin, ['doctor', '--json'], { env: { PILOT_ROOT: root } });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const checks = JSON.parse(r.stdout) as DoctorCheck[];
    expect(Array.isArray(checks)).toBe(true);
    for (const c of checks) {
      expect(Object.keys(c).sort()).toEqual(['check', 'detail', 'fix', 'required', 'status']);
      expect(['ok', 'warn', 'fail']).toContain(c.status);
      expect(typeof c.required).toBe('boolean');
      expect(typeof c.detail).toBe('string');
      expect(c.fix === null).toBe(c.status === 'ok');
      if (!c.required) expect(c.status).not.toBe('fail');
    }
    expect(checks.map((c) => c.check)).toEqual([
      'kernel',
      'overlayfs',
      'mount namespaces',
      'user namespaces',
      'unshare',
      'launcher',
      'exec helper',
      'podman/skopeo',
      'xz/zstd',
      'dpkg/rpm',
      'store',
      'runtime dir',
      'apps for other users',
      'free space',
      'hard links',
      'cached plans',
      'store integrity',
      'option --network none',
      'option --hostname',
      'option --cap-drop/--cap-add',
      'option --security-opt no-new-privileges',
      'option --read-only, --tmpfs, --storage-opt size',
    ]);
    // This host (and CI) runs every option pilot supports.
    for (const c of checks.filter((c) => c.check.startsWith('option '))) {
      expect(c.status, `${c.check}: ${c.detail}`).toBe('ok');
    }
    const required = checks.filter((c) => c.required).map((c) => c.check);
    expect(required).toEqual(
      expect.arrayContaining([
        'kernel',
        'overlayfs',
        'mount namespaces',
        'launcher',
        'exec helper',
      ]),
    );
    expect(checks.find((c) => c.check === 'store')?.detail).toContain('does not exist yet');
    expect(existsSync(root)).toBe(false);
  });

  it('prints a table, the fixes and a verdict by default', () => {
    const r = run(installed.bin, ['doctor'], { env: { PILOT_ROOT: join(work, 'table-root') } });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^CHECK\s+STATUS\s+DETAIL\n/);
    expect(r.stdout).toMatch(/\noverlayfs\s+ok\s+/);
    expect(r.stdout).toMatch(/\npilot can run apps on this host/);
    expect(r.stdout).not.toContain('\x1b[');
  });

  it('exits 1 when the exec helper is missing', () => {
    const r = run(installed.bin, ['doctor', '--json'], {
      env: { PILOT_ROOT: join(work, 'r'), PILOT_EXEC: join(work, 'no-such-helper') },
    });
    expect(r.code).toBe(1);
    const helper = (JSON.parse(r.stdout) as DoctorCheck[]).find((c) => c.check === 'exec helper');
    expect(helper).toMatchObject({ status: 'fail', required: true });
    expect(helper?.fix).toMatch(/make install/);
    const table = run(installed.bin, ['doctor'], {
      env: { PILOT_ROOT: join(work, 'r'), PILOT_EXEC: join(work, 'no-such-helper') },
    });
    expect(table.code).toBe(1);
    expect(table.stdout).toMatch(/\nexec helper\s+FAIL\s+/);
    expect(table.stdout).toMatch(/\nfix exec helper: /);
    expect(table.stdout).toContain('pilot cannot run apps on this host');
  });
});

/** A host with everything; `change` takes parts away. */
function fakeHost(
  change: Partial<DoctorHost> & { files?: Record<string, string> } = {},
): DoctorHost {
  const files: Record<string, string> = {
    '/proc/filesystems': 'nodev\tsysfs\nnodev\toverlay\n\text4\n',
    '/proc/sys/user/max_user_namespaces': '1000\n',
    '/proc/sys/fs/protected_hardlinks': '1\n',
    '/proc/sys/kernel/cap_last_cap': '40\n',
    ...change.files,
  };
  const tools = new Set(['unshare', 'podman', 'dpkg', 'xz', 'zstd']);
  return {
    uid: 0,
    kernelRelease: '6.1.0-18-amd64',
    readText: (path) => files[path],
    exists: (path) => path === '/proc/self/ns/mnt',
    which: (command) => (tools.has(command) ? `/usr/bin/${command}` : undefined),
    // Everything on one file system with room to spare: no answer comes from this machine.
    deviceOf: () => 1,
    freeBytes: () => 50e9,
    run: (_command, args): CommandResult =>
      args[0] === '--version'
        ? { code: 0, stdout: 'unshare from util-linux 2.38.1\n', stderr: '' }
        : { code: 0, stdout: '', stderr: '' },
    ...change,
  };
}

describe('runDoctor', () => {
  const options = (host: DoctorHost) => ({
    paths: resolvePaths({ root: join(tmpdir(), 'pilot-doctor-none') }),
    launcher: process.execPath, // an existing file; the helper check is tested above
    helper: process.execPath,
    host,
  });
  const find = (checks: DoctorCheck[], name: string) => checks.find((c) => c.check === name)!;

  it('asks the host, not this machine, about capabilities, free space and file systems', () => {
    const full = runDoctor(options(fakeHost()));
    expect(find(full, 'option --cap-drop/--cap-add')).toMatchObject({ status: 'ok' });
    expect(find(full, 'free space').detail).toMatch(/^50\.0 GB free in /);
    expect(find(full, 'hard links').detail).toContain('share a file system');
    const bare = runDoctor(
      options(
        fakeHost({
          readText: (path) => (path === '/proc/filesystems' ? 'nodev\toverlay\n' : undefined),
          deviceOf: (path) => (path === '/usr' ? 2 : 1),
          freeBytes: () => 1e8,
        }),
      ),
    );
    expect(find(bare, 'option --cap-drop/--cap-add')).toMatchObject({
      status: 'warn',
      detail: 'not supported: no /proc/sys/kernel/cap_last_cap',
    });
    expect(find(bare, 'free space')).toMatchObject({ status: 'warn' });
    expect(find(bare, 'free space').detail).toMatch(/^0\.1 GB free in /);
    expect(find(bare, 'hard links')).toMatchObject({ status: 'warn' });
    expect(find(bare, 'hard links').detail).toContain('different file systems');
  });

  it('passes a complete host', () => {
    const checks = runDoctor(options(fakeHost()));
    expect(doctorExitCode(checks)).toBe(0);
    expect(find(checks, 'kernel').detail).toBe('Linux 6.1.0-18-amd64');
    expect(find(checks, 'unshare').detail).toContain('2.38.1');
    expect(find(checks, 'podman/skopeo').detail).toContain('podman');
  });

  it('fails without overlayfs and says how to load it', () => {
    const checks = runDoctor(
      options(fakeHost({ files: { '/proc/filesystems': 'nodev\tsysfs\n' } })),
    );
    expect(find(checks, 'overlayfs')).toMatchObject({ status: 'fail', required: true });
    expect(find(checks, 'overlayfs').fix).toContain('modprobe overlay');
    expect(doctorExitCode(checks)).toBe(1);
  });

  it('fails on a kernel without the new mount API', () => {
    const checks = runDoctor(options(fakeHost({ kernelRelease: '5.10.0-28-amd64' })));
    expect(find(checks, 'kernel').status).toBe('fail');
    expect(doctorExitCode(checks)).toBe(1);
  });

  it('warns about an old or missing util-linux unshare (pilot-exec does not use it)', () => {
    const old = fakeHost({
      run: () => ({ code: 0, stdout: 'unshare from util-linux 2.37.2\n', stderr: '' }),
    });
    const oldChecks = runDoctor(options(old));
    expect(find(oldChecks, 'unshare')).toMatchObject({ status: 'warn', required: false });
    expect(doctorExitCode(oldChecks)).toBe(0);
    const none = fakeHost({ which: () => undefined });
    const checks = runDoctor(options(none));
    expect(find(checks, 'unshare').status).toBe('warn');
    expect(find(checks, 'podman/skopeo').status).toBe('warn');
    expect(find(checks, 'dpkg/rpm').status).toBe('warn');
    expect(find(checks, 'xz/zstd')).toMatchObject({ status: 'warn', required: false });
  });

  it('names a missing xz or zstd and the package that brings it, as a warning', () => {
    const noXz = fakeHost({ which: (name) => (name === 'xz' ? undefined : `/usr/bin/${name}`) });
    const checks = runDoctor(options(noXz));
    expect(find(checks, 'xz/zstd')).toMatchObject({
      status: 'warn',
      detail:
        'xz missing: "pilot load" and launches cannot read xz-compressed archives, layers or include tars',
      fix: 'install xz-utils',
    });
    expect(doctorExitCode(checks)).toBe(0);
    expect(find(runDoctor(options(fakeHost())), 'xz/zstd').status).toBe('ok');
  });

  it('treats disabled user namespaces as fatal for a user, a warning for root', () => {
    const disabled = {
      files: {
        '/proc/sys/user/max_user_namespaces': '0\n',
        '/proc/sys/kernel/unprivileged_userns_clone': '0\n',
      },
      run: (_command: string, args: string[]): CommandResult =>
        args[0] === '--version'
          ? { code: 0, stdout: 'util-linux 2.39\n', stderr: '' }
          : { code: 1, stdout: '', stderr: 'unshare: unshare failed: No space left on device' },
    };
    const asRoot = find(runDoctor(options(fakeHost(disabled))), 'user namespaces');
    expect(asRoot).toMatchObject({ status: 'warn', required: false });
    expect(asRoot.detail).toContain('No space left on device');
    expect(asRoot.fix).toContain('sysctl -w user.max_user_namespaces=');
    expect(asRoot.fix).toContain('kernel.unprivileged_userns_clone=1');
    const asUser = runDoctor(options(fakeHost({ ...disabled, uid: 1000 })));
    expect(find(asUser, 'user namespaces')).toMatchObject({ status: 'fail', required: true });
    expect(doctorExitCode(asUser)).toBe(1);
  });

  it('explains hard links for an unprivileged caller with protected_hardlinks', () => {
    const checks = runDoctor(options(fakeHost({ uid: 1000 })));
    expect(find(checks, 'hard links')).toMatchObject({ status: 'ok', fix: null });
    expect(find(checks, 'hard links').detail).toContain('bind-mounted');
  });

  it('fails when the launcher or helper is missing', () => {
    const checks = runDoctor({
      ...options(fakeHost()),
      launcher: '/nonexistent/pilot-launch.mjs',
      helper: undefined,
    });
    expect(find(checks, 'launcher').status).toBe('fail');
    expect(find(checks, 'exec helper')).toMatchObject({
      status: 'fail',
      detail: '/nonexistent/pilot-exec',
    });
  });
});
