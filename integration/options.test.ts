/**
 * Every flake setting does what it says, on both launch paths, for root and for
 * unprivileged callers, or is refused out loud (DESIGN.md, "Flake files" and "Running").
 * Apps are busybox's sh with options from `--opt` or a drop-in, run through their links.
 */
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BOTH_PATHS, buildArchive, skipReason, TestRoot, testAccount } from './harness.js';

const skip = skipReason();
const NOBODY = 65534;

/** Effective capabilities of the app's shell, from /proc/self/status. */
const CAPS = "grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status | tr -s '\\t ' ' '";

describe.skipIf(skip !== '').each(BOTH_PATHS)('flake options (%s path)', (path) => {
  let root: TestRoot;
  let work: string;
  let home: string;
  let user: { name: string; uid: number; gid: number };
  const base = ['--base', 'pilot/busybox-base'];

  /** Registers busybox's sh, on top of CONTAINER, as APP with podman options. */
  const shOn = (container: string, app: string, ...opts: string[]) =>
    root.ok([
      'register',
      '--container',
      container,
      ...base,
      '--app',
      `/usr/bin/${app}`,
      '--target',
      '/bin/sh',
      ...opts.flatMap((o) => ['--opt', o]),
    ]);
  const sh = (app: string, ...opts: string[]) => shOn('pilot/hello-delta', app, ...opts);
  const run = (app: string, script: string, options: Parameters<TestRoot['run']>[2] = {}) =>
    root.run(`/usr/bin/${app}`, ['-c', script], options);
  /** A caller without privileges, in a HOME of its own. */
  const asUser = (uid: number, gid: number, env: NodeJS.ProcessEnv = {}) => {
    const dir = mkdtempSync(join(work, `home-${uid}-`));
    chownSync(dir, uid, gid);
    return { uid, gid, cwd: dir, env: { HOME: dir, ...env } };
  };

  beforeAll(() => {
    root = new TestRoot('options', path);
    chmodSync(root.dir, 0o755);
    work = join(root.dir, 'work');
    mkdirSync(work, { mode: 0o755 });
    home = mkdtempSync(join(work, 'home-'));
    chmodSync(home, 0o755);
    user = testAccount();
    root.load('busybox-base', 'hello-delta');
    const layer = join(work, 'user-layer');
    mkdirSync(join(layer, 'etc'), { recursive: true });
    writeFileSync(join(layer, 'etc/image-file'), 'from the image\n');
    buildArchive(
      join(work, 'user.tar'),
      'localhost/test/user-image:latest',
      {
        User: '65534',
        Env: ['PATH=/usr/bin:/bin', 'HOME=/image-home', 'LANG=C', 'FOO=image', 'BAR=image'],
      },
      [layer],
    );
    root.ok(['load', join(work, 'user.tar')]);
  });
  afterAll(() => root?.cleanup());

  it('runs --user, --cap-drop=ALL, --read-only and --network=none together, as asked', () => {
    sh('locked', '--user 65534:65534', '--cap-drop=ALL', '--read-only', '--network=none');
    const r = run(
      'locked',
      `id -u; id -g; ${CAPS}; touch /x 2>&1 || true; cut -d: -f1 /proc/net/dev | tail -n +3 | tr -d ' '`,
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines.slice(0, 2)).toEqual([String(NOBODY), String(NOBODY)]);
    expect(lines).toContain('CapEff: 0000000000000000');
    expect(lines).toContain('CapBnd: 0000000000000000');
    expect(lines).toContain('NoNewPrivs: 1');
    expect(r.stdout).toMatch(/Read-only file system/);
    expect(lines[lines.length - 1]).toBe('lo');
    // An unprivileged caller may name its own uid.
    const nobody = run('locked', 'id -u; id -g', asUser(NOBODY, NOBODY));
    expect(nobody.stderr).toBe('');
    expect(nobody.stdout).toBe(`${NOBODY}\n${NOBODY}\n`);
  });

  it('refuses --user naming another uid for an unprivileged caller', () => {
    sh('other-user', '--user 0');
    const r = run('other-user', 'id -u', asUser(user.uid, user.gid));
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/--user "?0"?: an unprivileged caller's app runs as the caller/);
    expect(r.stdout).toBe('');
  });

  it('runs runas: USER as that account for root, as themselves for others', () => {
    sh('runas-app');
    const dropIns = join(root.dir, 'usr/share/flakes/runas-app.d');
    mkdirSync(dropIns);
    writeFileSync(join(dropIns, 'runas.yaml'), `container:\n  runtime:\n    runas: ${user.name}\n`);
    const r = run('runas-app', 'id -u; id -g; whoami; echo "$HOME $USER"');
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(
      `${user.uid}\n${user.gid}\n${user.name}\n${testAccountHome(user.name)} ${user.name}\n`,
    );
    const self = run('runas-app', 'id -u', asUser(user.uid, user.gid));
    expect(self.stdout).toBe(`${user.uid}\n`);
    const other = run('runas-app', 'id -u', asUser(NOBODY, NOBODY));
    expect(other.stdout).toBe(`${NOBODY}\n`);
    const noted = run('runas-app', 'id -u', asUser(NOBODY, NOBODY, { PILOT_DEBUG: '1' }));
    expect(noted.stderr).toMatch(/runas .* applies to root callers/);
  });

  it("does not apply the image's User unless --user asks, and says so", () => {
    const register = shOn('test/user-image', 'image-user');
    expect(register.code).toBe(0);
    expect(register.stderr).toMatch(/runs as user "65534".*--user 65534/);
    expect(run('image-user', 'id -u').stdout).toBe('0\n');
    const show = JSON.parse(root.ok(['show', 'image-user', '--json']).stdout);
    expect(show.effective.identity.imageUser).toMatch(/^65534 \(not applied/);
    expect(root.ok(['show', 'image-user']).stdout).toMatch(/image User: 65534/);
    shOn('test/user-image', 'image-user-on', '--user 65534');
    expect(run('image-user-on', 'id -u').stdout).toBe(`${NOBODY}\n`);
  });

  it("orders the environment: flake, the caller's session, image Env, the rest", () => {
    shOn('test/user-image', 'env-order', '-e BAR=flake');
    const r = run('env-order', 'echo "$HOME|$LANG|$FOO|$BAR|$OTHER|$PATH"', {
      env: { HOME: home, LANG: 'de_DE.UTF-8', FOO: 'caller', BAR: 'caller', OTHER: 'caller' },
    });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`${home}|de_DE.UTF-8|image|flake|caller|/usr/bin:/bin\n`);
  });

  it("keeps the loader's variables from the caller unless the flake names them", () => {
    sh('loader');
    sh('loader-named', '-e LD_LIBRARY_PATH');
    const env = { LD_PRELOAD: '/nonexistent/x.so', LD_LIBRARY_PATH: '/host/lib', LD_AUDIT: '/a' };
    const script = 'echo "[$LD_PRELOAD][$LD_LIBRARY_PATH][$LD_AUDIT]"';
    expect(run('loader', script, { env }).stdout).toBe('[][][]\n');
    expect(run('loader-named', script, { env }).stdout).toBe('[][/host/lib][]\n');
  });

  it('expands %VAR from the caller in -e, -w and -v, byte for byte, per caller', () => {
    mkdirSync(join(home, 'vol'), { recursive: true });
    writeFileSync(join(home, 'vol/in-volume'), 'x');
    sh('placeholders', '-e MYHOME=%HOME', '--workdir %HOME', '-v %HOME/vol:/vol', '-e U=%UNSETVAR');
    const r = run('placeholders', 'echo "$MYHOME|$U"; pwd; ls /vol', { env: { HOME: home } });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`${home}|$UNSETVAR\n${home}\nin-volume\n`);
    const other = mkdtempSync(join(work, 'home2-'));
    mkdirSync(join(other, 'vol'));
    writeFileSync(join(other, 'vol/second'), 'x');
    const again = run('placeholders', 'echo "$MYHOME"; ls /vol', { env: { HOME: other } });
    expect(again.stdout).toBe(`${other}\nsecond\n`);
  });

  it('reads --env-file; -e wins over it', () => {
    const file = join(work, 'app.env');
    writeFileSync(file, '# comment\nA=from-file\n  B=file\nPASSED\n\n');
    chmodSync(file, 0o644);
    sh('env-file', `--env-file ${file}`, '-e B=flag');
    const r = run('env-file', 'echo "$A|$B|$PASSED"', { env: { PASSED: 'caller' } });
    expect(r.stdout).toBe('from-file|flag|caller\n');
  });

  it("resolves the caller's account inside, with the host's time zone", () => {
    sh('session');
    const as = asUser(user.uid, user.gid);
    const r = run('session', 'whoami; id -gn', as);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`${user.name}\n${user.name}\n`);
    // The busybox image has no /etc/localtime: whatever the app sees there is the host's.
    if (existsSync('/etc/localtime')) {
      expect(run('session', 'md5sum < /etc/localtime', as).stdout).toBe(
        spawnSync('sh', ['-c', 'md5sum < /etc/localtime'], { encoding: 'utf8' }).stdout,
      );
    }
    expect(run('session', 'whoami').stdout).toBe('root\n');
  });

  it("shows the caller's /run/user/UID when it exists", () => {
    const dir = `/run/user/${NOBODY}`;
    const made = !existsSync(dir);
    if (made) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      chownSync(dir, NOBODY, NOBODY);
    }
    try {
      writeFileSync(join(dir, 'pilot-test-socket'), 'x');
      chownSync(join(dir, 'pilot-test-socket'), NOBODY, NOBODY);
      sh('runtime-dir');
      const r = run('runtime-dir', `ls ${dir}`, asUser(NOBODY, NOBODY));
      expect(r.stdout).toContain('pilot-test-socket');
    } finally {
      rmSync(join(dir, 'pilot-test-socket'), { force: true });
      if (made) rmSync(dir, { recursive: true, force: true });
    }
  });

  it('mounts --tmpfs, sets --hostname, drops one capability, adds one for --user', () => {
    sh(
      'isolated',
      '--tmpfs /scratch:size=1m',
      '--hostname pilot-box',
      '--cap-drop NET_RAW',
      '--security-opt no-new-privileges',
    );
    const r = run(
      'isolated',
      `hostname; grep ' /scratch ' /proc/self/mountinfo | grep -o 'nosuid,nodev,noexec'; ${CAPS}`,
    );
    expect(r.stderr).toBe('');
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe('pilot-box');
    expect(lines[1]).toBe('nosuid,nodev,noexec');
    const eff = BigInt(`0x${lines.find((l) => l.startsWith('CapEff'))!.split(' ')[1]}`);
    expect(eff & (1n << 13n)).toBe(0n); // CAP_NET_RAW
    expect(eff & (1n << 21n)).not.toBe(0n); // CAP_SYS_ADMIN kept
    expect(lines).toContain('NoNewPrivs: 1');
    sh('bind-service', '--user 65534', '--cap-drop ALL', '--cap-add NET_BIND_SERVICE');
    const added = run('bind-service', CAPS).stdout;
    expect(added).toContain('CapEff: 0000000000000400');
    expect(run('isolated', 'hostname', asUser(NOBODY, NOBODY)).stdout).toBe('pilot-box\n');
  });

  it('limits the writable layer with --storage-opt size', () => {
    sh('small', '--storage-opt size=1m');
    const r = run('small', 'dd if=/dev/zero of=/var/big bs=1k count=3000 2>&1; echo "exit $?"');
    expect(r.stdout).toMatch(/No space left on device/);
    expect(run('small', 'echo ok > /var/small && cat /var/small').stdout).toBe('ok\n');
  });

  it('binds -v and --mount type=bind read-only or not; a missing source is named', () => {
    const data = mkdtempSync(join(work, 'data-'));
    writeFileSync(join(data, 'f'), 'data\n');
    sh('volumes', `-v ${data}:/data:ro`, `--mount type=bind,src=${data},dst=/rw`);
    const r = run('volumes', 'cat /data/f; touch /data/x 2>&1; touch /rw/made && echo made');
    expect(r.stdout).toMatch(/^data\n.*Read-only file system\nmade\n$/s);
    expect(existsSync(join(data, 'made'))).toBe(true);
    sh('missing-volume', '-v /nonexistent/pilot-volume:/v');
    const missing = run('missing-volume', 'echo ran');
    expect(missing.code).toBe(125);
    expect(missing.stderr).toMatch(/\/nonexistent\/pilot-volume.*%ignore_missing_volume_path/);
    const ignored = root.run('/usr/bin/missing-volume', [
      '-c',
      'echo ran',
      '%ignore_missing_volume_path',
    ]);
    expect(ignored.stdout).toBe('ran\n');
  });

  it('accepts -t, -i and --rm as no-ops and says why in show', () => {
    sh('noops', '-ti', '--rm', '--security-opt label=disable', '\\--net host');
    expect(run('noops', 'echo ok').stdout).toBe('ok\n');
    const shown = root.ok(['show', 'noops']).stdout;
    expect(shown).toMatch(/no-op: -ti: stdio is always the caller's own/);
    expect(shown).toMatch(/no-op: --security-opt label=disable: pilot applies no SELinux labels/);
  });

  it('refuses other options at register, listing what works, and at launch with file:line', () => {
    const r = root.pilot([
      'register',
      '--container',
      'pilot/hello-delta',
      ...base,
      '--app',
      '/usr/bin/privileged',
      '--opt',
      '--privileged',
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--privileged.*more than its caller has/);
    expect(r.stderr).toMatch(/pilot supports: .*--cap-drop/);
    expect(existsSync(root.link('/usr/bin/privileged'))).toBe(false);
    sh('hand-edited');
    const flake = join(root.dir, 'usr/share/flakes/hand-edited.yaml');
    const text = readFileSync(flake, 'utf8').replace(
      /podman: \[\]/,
      'podman:\n      - --rm\n      - --device /dev/fuse',
    );
    writeFileSync(flake, text);
    const line = text.split('\n').findIndex((l) => l.includes('--device')) + 1;
    const launch = run('hand-edited', 'echo ran');
    expect(launch.code).toBe(125);
    expect(launch.stdout).toBe('');
    expect(launch.stderr).toContain(`${flake}:${line}`);
    expect(launch.stderr).toContain('--device /dev/fuse');
    const list = JSON.parse(root.ok(['list', '--json']).stdout) as {
      app: string;
      error?: string;
    }[];
    expect(list.find((e) => e.app === 'hand-edited')?.error).toMatch(/--device/);
  });

  it('files the app makes in a read-only root land only in binds', () => {
    sh('ro-cwd', '--read-only');
    const dir = mkdtempSync(join(tmpdir(), 'pilot-ro-'));
    try {
      expect(run('ro-cwd', 'touch /etc/x 2>&1; touch here && echo ok', { cwd: dir }).stdout).toBe(
        'touch: /etc/x: Read-only file system\nok\n',
      );
      expect(statSync(join(dir, 'here')).isFile()).toBe(true);
      expect(
        run('ro-cwd', 'touch /tmp/pilot-ro-$$ && rm /tmp/pilot-ro-$$ && echo tmp').stdout,
      ).toBe('tmp\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** The home of a host account, from the host's passwd. */
function testAccountHome(name: string): string {
  return spawnSync('getent', ['passwd', name], { encoding: 'utf8' }).stdout.split(':')[5] ?? '';
}
