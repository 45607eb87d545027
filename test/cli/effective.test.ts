import { describe, expect, it } from 'vitest';
import { effectiveSettings, effectiveText } from '../../src/commands/effective.js';
import type { Flake } from '../../src/core/flake-file.js';

function flake(podman: string[], runtime: Partial<Flake['container']['runtime']> = {}): Flake {
  return {
    include: { tar: [], path: [] },
    container: {
      name: 'app',
      target_app_path: '/usr/bin/app',
      layers: [],
      check_host_dependencies: false,
      digests: {},
      host_packages: [],
      host_files: 'skip_missing',
      runtime: { resume: false, attach: false, podman, ...runtime },
    },
  };
}

/** A host where every probe works except a network namespace. */
const noNetns = (command: string, args: string[]) =>
  command === 'unshare' && args.includes('--net')
    ? { code: 1, stderr: 'unshare: unshare failed: Operation not permitted' }
    : { code: 0, stderr: '' };

describe('pilot show: effective settings', () => {
  it.each([
    [{ target_app_path: '/usr/bin/app' }, '/usr/bin/app'],
    [{ target_app_path: '/' }, "the image's Entrypoint (or Cmd)"],
    [{ target_app_path: undefined }, "the app's own name, looked up in the image's PATH"],
  ])('names the program %j runs', (fields, program) => {
    const f = flake([]);
    const e = effectiveSettings(
      { ...f, container: { ...f.container, ...fields } },
      [],
      {},
      0,
      noNetns,
    );
    expect(e.program).toContain(program);
    expect(effectiveText(e)).toContain(`program: ${program}`);
  });

  it('shows what a missing /removed path does: skipped, or fatal with host_files: strict', () => {
    const f = flake([]);
    expect(effectiveSettings(f, [], {}, 0, noNetns).hostFiles).toMatch(/^skip_missing: .* skipped/);
    const strict = { ...f, container: { ...f.container, host_files: 'strict' as const } };
    const text = effectiveText(effectiveSettings(strict, [], {}, 0, noNetns));
    expect(text).toMatch(
      /^host files: strict: a \/removed path missing on the host fails the launch/m,
    );
  });

  it('describes identity, environment, mounts, isolation, no-ops and host support', () => {
    const e = effectiveSettings(
      flake([
        '--user 65534:65534',
        '--read-only',
        '--network none',
        '--cap-drop=ALL',
        '--cap-add net_bind_service',
        '-e A=1',
        '-e LD_LIBRARY_PATH',
        '--env-file /etc/app.env',
        '-v %HOME/data:/data:ro,noexec',
        '--tmpfs /scratch:size=1m',
        '-w %HOME',
        '--hostname box',
        '--storage-opt size=1G',
        '-ti',
      ]),
      [],
      { User: '1000', WorkingDir: '/app' },
      0,
      noNetns,
    );
    expect(e.identity.rootCaller).toBe("runs as 65534:65534 of the image's /etc/passwd (--user)");
    expect(e.identity.otherCallers).toMatch(/only run it when 65534:65534 is their own uid/);
    expect(e.identity.imageUser).toBe('1000 (replaced by --user)');
    expect(e.environment.values).toEqual({ A: '1' });
    expect(e.environment.fromCaller).toEqual(['LD_LIBRARY_PATH']);
    expect(e.environment.envFiles).toEqual(['/etc/app.env']);
    expect(e.environment.placeholders).toEqual(['%HOME']);
    expect(e.environment.loaderVariables).toMatch(/^LD_LIBRARY_PATH passed/);
    expect(e.mounts.volumes).toEqual([
      { source: '%HOME/data', target: '/data', readOnly: true, flags: ['noexec'] },
    ]);
    expect(e.mounts.tmpfs).toEqual([{ target: '/scratch', options: 'size=1048576' }]);
    expect(e.mounts.workdir).toBe('%HOME');
    expect(e.isolation).toEqual({
      readOnly: true,
      network: 'none',
      hostname: 'box',
      capDrop: ['ALL'],
      capAdd: ['CAP_NET_BIND_SERVICE'],
      noNewPrivileges: true,
      writableLayerBytes: 1024 ** 3,
    });
    expect(e.noops).toEqual([{ option: '-ti', reason: "stdio is always the caller's own" }]);
    expect(e.host.find((s) => s.setting === '--network none')).toEqual({
      setting: '--network none',
      ok: false,
      detail: 'unshare: unshare failed: Operation not permitted',
    });
    const text = effectiveText(e);
    expect(text).toContain('  network: none (only loopback)\n');
    expect(text).toContain('  --network none: NOT supported (unshare: unshare failed');
    expect(text).toContain("%HOME: replaced in every option by the caller's value at each call");
  });

  it('says who runs a runas flake, and that an image User is not applied', () => {
    const e = effectiveSettings(
      flake([], { runas: 'alice' }),
      [],
      { User: '65534', WorkingDir: '/app' },
      0,
      noNetns,
    );
    expect(e.identity.rootCaller).toBe(
      'runs as the host account alice (runas), with its groups and home',
    );
    expect(e.identity.otherCallers).toBe('each runs it as itself (runas applies to root callers)');
    expect(e.identity.imageUser).toMatch(/^65534 \(not applied/);
    expect(e.mounts.workdir).toBe(
      "the caller's working directory (the image's WorkingDir /app is not applied: -w opts in)",
    );
    const caller = effectiveSettings(flake([], { runas: 'root' }), [], {}, 0, noNetns);
    expect(caller.identity.rootCaller).toBe('runs as root (its caller)');
    expect(caller.identity.imageUser).toBeNull();
    expect(caller.isolation.noNewPrivileges).toBe(false);
  });

  it('shows the environment the launch applies: a later -e for the same name wins', () => {
    const e = effectiveSettings(flake(['-e A=1', '-e A', '-e B', '-e B=2']), [], {}, 0, noNetns);
    expect(e.environment.values).toEqual({ B: '2' });
    expect(e.environment.fromCaller).toEqual(['A']);
  });

  it('shows --storage-opt size of a kept instance as a no-op', () => {
    const e = effectiveSettings(
      flake(['--storage-opt size=10G'], { resume: true }),
      [],
      {},
      0,
      noNetns,
    );
    expect(e.isolation.writableLayerBytes).toBeNull();
    expect(e.noops[0]?.option).toBe('--storage-opt size=10G');
  });
});
