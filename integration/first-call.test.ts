/**
 * No cold first call (issue 17): `pilot register` leaves a plan in the store that the stub
 * runs for root and for an unprivileged caller on their very first call, a reboot (the run
 * dir cleared) keeps it, and after a real `dpkg -i` upgrades a host file the app needs,
 * the package hook (pilot's postinst, called as dpkg calls it for a file trigger) plans the
 * app again, so that the next call is warm too. PILOT_FASTPATH=require proves each call
 * went through the stub: it exits 125 instead of running the Node launcher.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildArchive, cli, repo, skipReason, TestRoot } from './harness.js';

const skip = skipReason();
const NOBODY = 65534;
const DATA = '/usr/share/pilot-first-call/data';

/** A .deb of one data file (dpkg-deb, root's files), in DIR. */
function dataPackage(dir: string, version: string): string {
  const tree = join(dir, `pkg-${version}`);
  mkdirSync(join(tree, 'DEBIAN'), { recursive: true });
  mkdirSync(join(tree, DATA, '..'), { recursive: true });
  writeFileSync(join(tree, DATA), `version ${version}\n`, { mode: 0o644 });
  writeFileSync(
    join(tree, 'DEBIAN/control'),
    `Package: pilot-first-call-data\nVersion: ${version}\nArchitecture: all\nMaintainer: t <t@localhost>\nDescription: a host file an app needs\n`,
  );
  const deb = join(dir, `data_${version}.deb`);
  const built = spawnSync('dpkg-deb', ['--root-owner-group', '--build', tree, deb], {
    encoding: 'utf8',
  });
  if (built.status !== 0) throw new Error(`dpkg-deb: ${built.stderr}`);
  return deb;
}

describe.skipIf(skip !== '' || spawnSync('dpkg', ['--version']).status !== 0)(
  'the first call is warm',
  () => {
    let root: TestRoot;
    let work: string;
    let host: string;
    let home: string;
    const app = '/usr/bin/reads-data';
    const broken = '/usr/bin/broken';

    /** dpkg into the test's host root (PILOT_HOST_ROOT): files and package database. */
    const dpkgInstall = (deb: string) => {
      const r = spawnSync('dpkg', [`--root=${host}`, '-i', deb], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
    };

    beforeAll(() => {
      root = new TestRoot('first-call');
      chmodSync(root.dir, 0o755);
      work = mkdtempSync('/var/tmp/pilot-first-call-');
      chmodSync(work, 0o755);
      host = join(work, 'host');
      mkdirSync(join(host, 'var/lib/dpkg/info'), { recursive: true });
      mkdirSync(join(host, 'var/lib/dpkg/updates'));
      writeFileSync(join(host, 'var/lib/dpkg/status'), '');
      dpkgInstall(dataPackage(work, '1'));
      home = join(work, 'home');
      mkdirSync(home);
      chownSync(home, NOBODY, NOBODY);

      // The app reads a host file its image lists in /removed.
      const layer = join(work, 'layer');
      mkdirSync(join(layer, 'usr/bin'), { recursive: true });
      writeFileSync(join(layer, 'removed'), `${DATA}\n`);
      writeFileSync(join(layer, 'usr/bin/reads-data'), `#!/bin/sh\ncat ${DATA}\n`, {
        mode: 0o755,
      });
      buildArchive(join(work, 'reads-data.tar'), 'localhost/test/reads-data:latest', {}, [layer]);
      root.load('busybox-base');
      root.ok(['load', join(work, 'reads-data.tar')]);
    });
    afterAll(() => {
      root?.cleanup();
      if (work?.startsWith('/var/tmp/pilot-first-call-'))
        rmSync(work, { recursive: true, force: true });
    });

    const hostEnv = () => ({ PILOT_HOST_ROOT: host });
    const register = (path: string, ...extra: string[]) =>
      root.pilot(
        ['register', '--container', 'test/reads-data', '--base', 'pilot/busybox-base'].concat(
          '--app',
          path,
          ...extra,
        ),
        { env: root.env(hostEnv()) },
      );
    /** A call that must go through the stub (exit 125 if it would run the Node launcher). */
    const warm = (uid?: number) =>
      root.run(app, [], {
        cwd: '/',
        env: { ...hostEnv(), HOME: uid ? home : '/root', PILOT_FASTPATH: 'require' },
        ...(uid ? { uid, gid: uid } : {}),
      });

    it('register leaves a plan the stub runs for root and for an unprivileged caller', () => {
      const r = register(app);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toBe('');
      for (const uid of [undefined, NOBODY]) {
        const call = warm(uid);
        expect(call.stderr, `uid ${uid ?? 0}`).toBe('');
        expect(call.code).toBe(0);
        expect(call.stdout).toBe('version 1\n');
      }
    });

    it('a reboot (the run dir cleared) keeps the first call warm', () => {
      rmSync(join(root.dir, 'run'), { recursive: true, force: true });
      for (const uid of [undefined, NOBODY]) {
        rmSync(join(home, '.cache'), { recursive: true, force: true });
        const call = warm(uid);
        expect(call.stderr, `uid ${uid ?? 0}`).toBe('');
        expect(call.stdout).toBe('version 1\n');
      }
    });

    it("after dpkg -i upgrades a host file, pilot's package hook plans the app again: the next call is warm", () => {
      dpkgInstall(dataPackage(work, '2'));
      // The upgrade replaced the file: the plan no longer holds, the stub declines it.
      expect(warm().code).toBe(125);
      // dpkg runs pilot's postinst for its file trigger as `postinst triggered "<paths>"`.
      const bin = join(work, 'bin');
      mkdirSync(bin, { recursive: true });
      writeFileSync(join(bin, 'pilot'), `#!/bin/sh\nexec ${process.execPath} ${cli} "$@"\n`, {
        mode: 0o755,
      });
      const hook = spawnSync('sh', [join(repo, 'packaging/deb/postinst'), 'triggered', '/usr'], {
        env: root.env({ ...hostEnv(), PATH: `${bin}:${process.env.PATH}` }),
        encoding: 'utf8',
      });
      expect(hook.status, hook.stderr).toBe(0);
      expect(hook.stderr).toBe('');
      for (const uid of [undefined, NOBODY]) {
        const call = warm(uid);
        expect(call.stderr, `uid ${uid ?? 0}`).toBe('');
        expect(call.stdout).toBe('version 2\n');
      }
    });

    it('an app the hook cannot plan is named, and the hook still exits 0', () => {
      // include.path of a host file that then goes: every launch of it fails (127).
      // (register looks on the machine, a launch in the host root: the file is in both.)
      const extra = join(work, 'extra');
      writeFileSync(extra, 'x\n', { mode: 0o644 });
      mkdirSync(join(host, work), { recursive: true });
      writeFileSync(join(host, extra), 'x\n', { mode: 0o644 });
      const r = register(broken, '--target', '/usr/bin/reads-data', '--include-path', extra);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toBe('');
      rmSync(join(host, extra));
      const replan = root.pilot(['replan', '--all'], { env: root.env(hostEnv()) });
      expect(replan.code).toBe(0);
      expect(replan.stderr).toMatch(/^pilot replan: broken: .*missing/m);
      // The other app's plan still holds: left as it is, and warm.
      expect(warm().stdout).toBe('version 2\n');
    });
  },
);
