/**
 * The flake-pilot compatibility corpus (test/fixtures/flake-pilot/, read to exact models
 * by test/core/flake-pilot-corpus.test.ts) on a real host in a temp root: the corpus
 * installed as flake-ctl leaves a host (flakes in usr/share/flakes, links to
 * /usr/bin/podman-pilot and /usr/bin/firecracker-pilot), the example images under the
 * corpus's refs, a KIWI delta and base built here and loaded from `.tar.xz` archives (the
 * delta's /removed names a present and a missing host file, the base's /systemfiles is
 * KIWI's `set -e` + `rpm --noghost -ql`). Each app goes through list (pilot's and
 * flake-ctl's JSON), show, check, then `pilot migrate` (the relative include made
 * absolute against migrate's cwd), check again, a real launch through its link (args,
 * exit code, stdin, environment, includes, layers, drop-ins, runas, resume), and at the
 * end `pilot migrate --revert` puts back every byte and link.
 *
 * Time budget: ~15 s here, target under 60 s (loads and 2 xz archives ~4 s, 3 migrates ~2 s,
 * ~30 launches and ~25 list/show/check calls ~9 s).
 */
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildArchive,
  examples,
  layerDir,
  repo,
  skipReason,
  TestRoot,
  testAccount,
} from './harness.js';

const skip = skipReason();
const corpus = join(repo, 'test/fixtures/flake-pilot');
/** The host directory the corpus names; each test run puts its own in its place. */
const CORPUS_HOST = '/srv/pilot-compat';
/** Every app of the corpus pilot runs, with the image refs its flake names. */
const APPS = ['attach-doc', 'dropin', 'hello', 'hello-eb', 'hello-os', 'kiwi', 'relative'];

describe.skipIf(skip !== '')('the flake-pilot corpus on a real host', () => {
  let root: TestRoot;
  let host: string;
  let work: string;
  const flakes = () => join(root.dir, 'usr/share/flakes');
  const installed = new Map<string, string>();
  const env = { USER: 'compat-caller', HOME: process.env.HOME ?? '/root' };
  /** A launch from / (neither the host dir nor the store is then visible by accident). */
  const run = (app: string, args: string[], extra: { input?: string; env?: object } = {}) =>
    root.run(`/usr/bin/${app}`, args, {
      cwd: '/',
      env: { ...env, ...extra.env },
      ...(extra.input === undefined ? {} : { input: extra.input }),
    });

  /** Copies the corpus (files and drop-in dirs) with the run's host dir in CORPUS_HOST's place. */
  function install(from: string, to: string): void {
    mkdirSync(to, { recursive: true });
    for (const name of readdirSync(from)) {
      const source = join(from, name);
      if (lstatSync(source).isDirectory()) install(source, join(to, name));
      else {
        const text = readFileSync(source, 'utf8').replaceAll(CORPUS_HOST, host);
        writeFileSync(join(to, name), text);
        installed.set(join(to, name), text);
      }
    }
  }

  function kiwiImages(): void {
    const dir = (name: string, files: Record<string, string>) => layerDir(work, name, files);
    const xz = (name: string, ref: string, layers: string[]) => {
      const tar = join(work, `${name}.docker.tar`);
      buildArchive(tar, ref, { Env: ['PATH=/usr/bin:/bin'] }, layers);
      execFileSync('xz', ['-0', '-T1', tar]);
      root.ok(['load', `${tar}.xz`, '--quiet']);
    };
    // KIWI's base: its /systemfiles is the script flake-pilot runs as root; pilot reads it
    // as data (this host has no rpm: jq arrives only through that reading; each line
    // brings its package only, as rpm -ql lists it, so jq's libraries are named too).
    xz('kiwi-base.x86_64-15.6', 'compat/kiwi-base:15.6', [
      join(examples, 'layers/busybox-base'),
      dir('kiwi-base', {
        systemfiles:
          'set -e\nrpm --noghost -ql jq\nrpm --noghost -ql libjq1\nrpm --noghost -ql libonig5\nrpm --noghost -ql libc6\n',
      }),
    ]);
    // KIWI's delta (delta_root): /removed lists what its build removed for the host to
    // provide, one file the host has and one it lacks, with and without the leading /.
    xz('kiwi-app.x86_64-1.2.3', 'compat/kiwi-app:1.2.3', [
      dir('kiwi-app', {
        'usr/bin/kiwi-app':
          '#!/bin/sh\ncat "$1" 2>/dev/null || echo "no $1"\njq -c .\nexit $((KIWI_EXIT + 0))\n',
        removed: `${host}/present\n${host.slice(1)}/missing\n`,
      }),
    ]);
  }

  beforeAll(() => {
    testAccount(); // hello-eb runs as pilottest (runtime.runas)
    root = new TestRoot('compat');
    chmodSync(root.dir, 0o755);
    work = join(root.dir, 'work');
    host = mkdtempSync('/var/tmp/pilot-compat-');
    chmodSync(host, 0o755);
    writeFileSync(join(host, 'present'), 'from the host\n', { mode: 0o644 });
    mkdirSync(join(host, 'data'));
    writeFileSync(join(host, 'data/note'), 'included path\n', { mode: 0o644 });
    mkdirSync(join(work, 'conf/etc'), { recursive: true });
    writeFileSync(join(work, 'conf/etc/compat.conf'), 'included tar\n', { mode: 0o644 });
    execFileSync('tar', ['-C', join(work, 'conf'), '-cf', join(host, 'conf.tar'), 'etc']);

    for (const [archive, ref] of [
      ['hello-delta', 'compat/hello:1.0'],
      ['busybox-base', 'compat/base:15.6'],
      ['whiteout-layer', 'compat/extras:1'],
    ] as const) {
      root.ok(['load', join(examples, `${archive}.tar`), '--name', ref, '--quiet']);
    }
    kiwiImages();

    install(corpus, flakes());
    mkdirSync(join(root.dir, 'usr/bin'), { recursive: true });
    for (const app of APPS) symlinkSync('/usr/bin/podman-pilot', root.link(`/usr/bin/${app}`));
    symlinkSync('/usr/bin/firecracker-pilot', root.link('/usr/bin/leap'));
  });
  afterAll(() => {
    root?.pilot(['stop', '--all']);
    root?.cleanup();
    if (host?.startsWith('/var/tmp/pilot-compat-')) rmSync(host, { recursive: true, force: true });
  });

  it('lists every app as flake-pilot left it: its link kind, a firecracker flake, a relative include', () => {
    const list = JSON.parse(root.ok(['list', '--json']).stdout) as Record<string, unknown>[];
    const byApp = Object.fromEntries(list.map((e) => [e.app, e]));
    expect(Object.keys(byApp).sort()).toEqual([...APPS, 'leap'].sort());
    for (const app of APPS.filter((a) => a !== 'relative')) {
      expect(byApp[app]).toMatchObject({ ok: true, link: 'flake-pilot', warnings: [] });
    }
    expect(byApp.hello).toMatchObject({ container: 'compat/hello:1.0', target_app_path: null });
    expect(byApp['hello-os']).toMatchObject({ resume: true, layers: [] });
    expect(byApp['attach-doc']).toMatchObject({ attach: true, layers: ['compat/extras:1'] });
    expect(byApp.dropin?.files).toEqual(
      ['dropin.yaml', 'dropin.d/10-runtime.yaml', 'dropin.d/20-level.yml'].map((f) =>
        join(flakes(), f),
      ),
    );
    expect(byApp.leap).toEqual({
      app: 'leap',
      ok: false,
      error: `${flakes()}/leap.yaml:12: a firecracker-pilot flake ("vm:"): this host has no firecracker engine; pilot runs container flakes only`,
      code: 'PILOT_ENGINE_MISSING',
    });
    expect(byApp.relative?.error).toMatch(
      /relative\.yaml:10: include\.tar\.0: expected an absolute path/,
    );
    const table = root.ok(['list']).stdout;
    expect(table).toMatch(/^hello-eb +\/usr\/bin\/hello-eb \(flake-pilot\) +compat\/hello:1\.0 /m);
    expect(table).toMatch(/^hello +\/usr\/bin\/hello \(flake-pilot\) .*\(hello in PATH\)$/m);
  });

  it("lists flake-ctl's records with list --format json", () => {
    const records = JSON.parse(root.ok(['list', '--format', 'json']).stdout) as {
      name: string;
      engine: string | null;
      target: string | null;
    }[];
    const engines = Object.fromEntries(records.map((r) => [r.name, r.engine]));
    expect(engines).toMatchObject({ hello: 'podman', kiwi: 'podman', leap: 'firecracker' });
    expect(records.find((r) => r.name === 'hello-eb')).toEqual({
      name: 'hello-eb',
      engine: 'podman',
      target: '/usr/bin/pilot-test',
      host_app_path: '/usr/bin/hello-eb',
      config: join(flakes(), 'hello-eb.yaml'),
      // pilot's addition: not pinned yet, so not behind any tag.
      behind: false,
    });
  });

  it('shows each app and its flake-pilot link; the firecracker flake exits 127', () => {
    for (const app of APPS.filter((a) => a !== 'relative')) {
      const r = root.pilot(['show', app]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain(`# /usr/bin/${app} links to podman-pilot`);
    }
    expect(root.ok(['show', 'hello-eb']).stdout).toContain(`    - ${host}/conf.tar\n`);
    const leap = root.pilot(['show', 'leap']);
    expect(leap.code).toBe(127);
    expect(leap.stderr).toContain('this host has no firecracker engine');
  });

  it('check says NOT MIGRATED (exit 1) before migrate', () => {
    for (const app of APPS.filter((a) => a !== 'relative')) {
      const r = root.pilot(['check', app]);
      expect(r.code, `${app}: ${r.stdout}${r.stderr}`).toBe(1);
      expect(r.stdout).toMatch(/^NOT MIGRATED +app link to podman-pilot +run "pilot migrate"$/m);
    }
    const relative = root.pilot(['check', 'relative']);
    expect(relative.code).toBe(1);
    expect(relative.stderr).toContain('"pilot migrate" make');
    expect(root.pilot(['check', 'leap']).code).toBe(127);
  });

  it('fails the relative app, saying what to edit, when migrate runs where its include is not', () => {
    const r = root.pilot(['migrate', '--dry-run'], { cwd: '/' });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `pilot: failed relative: ${flakes()}/relative.yaml:10: include.tar "conf.tar" is relative, and "/conf.tar" (against the directory "pilot migrate" runs in) does not exist; it stays a flake-pilot app\n` +
        `  hint: write the absolute path of "conf.tar" on line 10 of ${flakes()}/relative.yaml, or run "pilot migrate" in the directory that holds it\n` +
        '  code: PILOT_FLAKE_INVALID\n',
    );
    expect(r.stdout).toMatch(
      /^6 app\(s\) would be migrated, 1 failed \(still flake-pilot's\), 1 skipped$/m,
    );
    expect(readFileSync(join(flakes(), 'relative.yaml'), 'utf8')).toBe(
      installed.get(join(flakes(), 'relative.yaml')),
    );
  });

  it('migrates every container app, makes the relative include absolute against its cwd, skips the firecracker flake', () => {
    const r = root.pilot(['migrate'], { cwd: host });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe(
      `pilot: warning: ${flakes()}/relative.yaml:10: include.tar "conf.tar" is relative: written as "${host}/conf.tar" (flake-pilot looked it up in each caller's working directory; pilot resolves it once, against the directory "pilot migrate" ran in)\n`,
    );
    expect(r.stdout).toMatch(/^skipped leap: its flake does not read: .*no firecracker engine/m);
    for (const app of APPS) expect(r.stdout).toMatch(new RegExp(`^linked ${app}: `, 'm'));
    expect(r.stdout).toMatch(/^7 app\(s\) migrated, 1 skipped; journal /m);
    // Every other byte of the relative flake is as flake-ctl wrote it.
    const before = installed.get(join(flakes(), 'relative.yaml'))!;
    const after = readFileSync(join(flakes(), 'relative.yaml'), 'utf8');
    expect(after.replace(/^ {2}digests:\n(?: {4}.*\n)+/m, '')).toBe(
      before.replace('    - conf.tar\n', `    - ${host}/conf.tar\n`),
    );
    const journal = JSON.parse(readFileSync(join(root.dir, 'var/lib/pilot/migrate.json'), 'utf8'));
    expect(journal.entries.find((e: { app: string }) => e.app === 'relative').includes).toEqual([
      { key: 'tar', from: 'conf.tar', to: `${host}/conf.tar` },
    ]);
    const links = JSON.parse(root.ok(['list', '--json']).stdout) as {
      app: string;
      link?: string;
    }[];
    expect(links.filter((e) => e.link === 'pilot').map((e) => e.app)).toEqual(APPS);
  });

  it('check passes after migrate, but for the KIWI delta whose /removed names a missing file', () => {
    for (const app of APPS.filter((a) => a !== 'kiwi')) {
      const r = root.pilot(['check', app]);
      expect(r.code, `${app}: ${r.stdout}${r.stderr}`).toBe(0);
    }
    const kiwi = root.pilot(['check', 'kiwi']);
    expect(kiwi.code).toBe(1);
    expect(kiwi.stdout).toMatch(
      new RegExp(`^MISSING +${host}/missing +/removed of image compat/kiwi-app:1\\.2\\.3`, 'm'),
    );
    expect(kiwi.stdout).toMatch(new RegExp(`^ok +${host}/present `, 'm'));
    expect(kiwi.stdout).toMatch(
      /^ok +package jq +\/systemfiles of image compat\/kiwi-base:15\.6 /m,
    );
  });

  it('hello-eb (flake-ctl 2.2.19): args, exit code, stdin, runas, layer, include.tar, %USER', () => {
    const user = testAccount();
    expect(run('hello-eb', ['args', 'a', 'b c', '%s', '@file'])).toMatchObject({
      code: 0,
      stdout: '[a]\n[b c]\n[%s]\n[@file]\n',
      stderr: '',
    });
    expect(run('hello-eb', ['exit', '7']).code).toBe(7);
    expect(run('hello-eb', ['cat'], { input: 'piped\nlines\n' }).stdout).toBe('piped\nlines\n');
    expect(run('hello-eb', ['id']).stdout).toBe(`${user.uid}:${user.gid}\n`);
    expect(run('hello-eb', ['env', 'COMPAT_FORM']).stdout).toBe('eb-2.2.19\n');
    expect(run('hello-eb', ['env', 'COMPAT_USER']).stdout).toBe('compat-caller\n');
    expect(run('hello-eb', ['ls', '/etc/compat.conf', '/etc/pilot-layer']).code).toBe(0);
  });

  it('hello-os (flake-ctl 3.1.44): include.path, %HOME and an unset %VAR, a resumed instance', () => {
    expect(run('hello-os', ['env', 'COMPAT_FORM']).stdout).toBe('os-3.1.44\n');
    expect(run('hello-os', ['env', 'COMPAT_HOME']).stdout).toBe(`${env.HOME}/x\n`);
    expect(run('hello-os', ['env', 'COMPAT_UNSET']).stdout).toBe('$PILOTCOMPATUNSET\n');
    expect(run('hello-os', ['ls', `${host}/data/note`]).stdout).toBe(`${host}/data/note\n`);
    expect(run('hello-os', ['write', '/var/lib/compat/state']).code).toBe(0);
    // resume: true keeps the instance, so the next call sees what the last one wrote.
    expect(run('hello-os', ['ls', '/var/lib/compat/state']).code).toBe(0);
    const ps = JSON.parse(root.ok(['ps', '--json']).stdout) as { app: string; state: string }[];
    expect(ps.find((p) => p.app === 'hello-os' && p.state !== 'cached')).toBeDefined();
  });

  it("attach-doc (podman-pilot's manual): the escaped \\-e, the manual's no-op options, the layer", () => {
    expect(run('attach-doc', ['env', 'COMPAT_ESCAPED'])).toMatchObject({
      code: 0,
      stdout: 'yes\n',
    });
    expect(run('attach-doc', ['ls', '/etc/pilot-layer']).code).toBe(0);
    expect(run('attach-doc', ['exit', '3']).code).toBe(3);
  });

  it('hello (no target_app_path): runs its own name from the image PATH, exit code passed on', () => {
    expect(run('hello', ['x y'], { env: { HELLO_EXIT: '4' } })).toMatchObject({
      code: 4,
      stdout: 'hello from pilot\n[x y]\n',
    });
  });

  it('dropin: the .yml drop-in wins over the .yaml one, lists replaced, hidden and other files unread', () => {
    expect(run('dropin', ['env', 'COMPAT_LEVEL']).stdout).toBe('20\n');
    expect(run('dropin', ['env', 'COMPAT_FROM10']).code).toBe(1);
    expect(run('dropin', ['env', 'COMPAT_MAIN']).code).toBe(1);
    expect(run('dropin', ['ls', `${host}/data/note`]).code).toBe(0);
  });

  it('kiwi (xz KIWI delta): the present host file is there, the missing one skipped, jq from /systemfiles', () => {
    const r = run('kiwi', [`${host}/present`], { input: '{"a": [1, 2]}', env: { KIWI_EXIT: '5' } });
    expect(r).toMatchObject({ code: 5, stdout: 'from the host\n{"a":[1,2]}\n', stderr: '' });
    expect(run('kiwi', [`${host}/missing`], { input: '1' }).stdout).toBe(`no ${host}/missing\n1\n`);
  });

  it('relative: the include tar migrate made absolute is in the app', () => {
    expect(run('relative', ['ls', '/etc/compat.conf'])).toMatchObject({
      code: 0,
      stdout: '/etc/compat.conf\n',
    });
  });

  it("refuses the firecracker flake at launch with exit 127, once its link is pilot's", () => {
    rmSync(root.link('/usr/bin/leap'));
    symlinkSync(join(repo, 'dist/pilot-exec'), root.link('/usr/bin/leap'));
    const r = run('leap', ['-c', 'true']);
    expect(r.code).toBe(127);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(
      'leap.yaml:12: a firecracker-pilot flake ("vm:"): this host has no firecracker engine; pilot runs container flakes only',
    );
    rmSync(root.link('/usr/bin/leap'));
    symlinkSync('/usr/bin/firecracker-pilot', root.link('/usr/bin/leap'));
  });

  it('migrate --revert puts back every flake byte for byte and every link', () => {
    root.ok(['stop', '--all']);
    const r = root.pilot(['migrate', '--revert']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('relative include(s) conf.tar again');
    for (const [file, text] of installed) expect(readFileSync(file, 'utf8'), file).toBe(text);
    for (const app of APPS)
      expect(readlinkSync(root.link(`/usr/bin/${app}`))).toBe('/usr/bin/podman-pilot');
    expect(readlinkSync(root.link('/usr/bin/leap'))).toBe('/usr/bin/firecracker-pilot');
  });
});
