/**
 * The bad-input sweep (issue 20): one table of careless and hostile inputs, by family,
 * each run through the real CLI or the real launcher on a temp root and held to what every
 * such input is promised (README "Bad input"): it ends (no hang), with no "internal error"
 * and no stack trace, its output bounded, and either a clear error (a non-zero exit code of
 * DESIGN's set, and a message that names the input) or exactly what a native command does.
 * Afterwards `gc` runs clean and leaves nothing in the store's tmp/. The suite prints its
 * tally (cases, clear errors, native, failures) for the closing notes.
 *
 * Budget: about 60 s (some 200 CLI and launcher runs of 0.2-0.3 s each).
 */
import { type SpawnSyncOptions, spawnSync } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TarEntrySpec } from '../src/store/tar-write.js';
import { dockerFiles, makeImage, makeLayer, ociFiles, tarOf } from '../test/store/helpers.js';
import { cli, examples, type Result, skipReason, TestRoot } from './harness.js';

const skip = skipReason();

/** What a case must give: a clear error, or what a native command gives. */
type Want =
  | { error: RegExp; code?: number }
  | { stdout: string; code?: number }
  /** `list`: exit 0, and the app's row carries its error. */
  | { row: RegExp };

interface Case {
  family: string;
  name: string;
  run: () => Result;
  want: Want;
}

const ERROR_CODES = [1, 2, 125, 126, 127];
const STACK = /^\s+at .+:\d+:\d+\)?$|node:internal|Unhandled|ERR_[A-Z_]+\b.*\n\s+at /m;

/** Why `r` breaks the promises every bad input is given, or '' when it keeps them. */
function broken(r: Result, want: Want): string {
  const out = r.stdout + r.stderr;
  if (r.signal) return `killed by ${r.signal} (hung past the timeout)`;
  if (/internal error/i.test(out)) return 'internal error';
  if (STACK.test(out)) return 'stack trace';
  if (r.stderr.length > 4096) return `stderr of ${r.stderr.length} bytes`;
  if ('error' in want) {
    if (!ERROR_CODES.includes(r.code ?? -1)) return `exit ${r.code}, not an error code`;
    if (want.code !== undefined && r.code !== want.code) return `exit ${r.code}, not ${want.code}`;
    if (!want.error.test(r.stderr)) return `message does not match ${want.error}`;
    return '';
  }
  if ('row' in want) {
    if (r.code !== 0) return `list exit ${r.code}`;
    return want.row.test(r.stdout) ? '' : `no row matching ${want.row}`;
  }
  if (r.code !== (want.code ?? 0)) return `exit ${r.code}, native gives ${want.code ?? 0}`;
  return r.stdout === want.stdout ? '' : `stdout ${JSON.stringify(r.stdout.slice(0, 200))}`;
}

/** Like spawnSync, with output read as latin1 so that every byte compares as itself. */
function run(command: string, args: string[], options: SpawnSyncOptions): Result {
  const r = spawnSync(command, args, { timeout: 20_000, ...options });
  return {
    code: r.status,
    signal: r.signal,
    stdout: r.stdout?.toString('latin1') ?? '',
    stderr: r.stderr?.toString('latin1') ?? '',
  };
}

describe.skipIf(skip !== '')(
  'bad input: every case ends in a clear error or native behaviour',
  () => {
    let root: TestRoot;
    let work: string;
    const cases: Case[] = [];
    const tally = new Map<string, { cases: number; errors: number; native: number }>();
    const failures: string[] = [];
    const report: string[] = [];
    const base = ['--container', 'pilot/hello-delta', '--base', 'pilot/busybox-base'];
    const target = ['--target', '/usr/bin/pilot-test'];
    const pilot = (args: string[], env: NodeJS.ProcessEnv = {}) =>
      run(process.execPath, [cli, ...args], { env: root.env(env) });
    const add = (family: string, name: string, want: Want, fn: () => Result) =>
      cases.push({ family, name, want, run: fn });

    function flakeCases(): void {
      const long = 'x'.repeat(300);
      const flakes: Record<
        string,
        { body: string | Buffer; says?: RegExp; runs?: boolean; valid?: boolean }
      > = {
        empty: { body: '' },
        'broken-yaml': { body: 'container:\n  name: [pilot/hello-delta\n' },
        tabs: { body: 'container:\n\tname: pilot/hello-delta\n' },
        binary: { body: Buffer.from([0x00, 0xff, 0xfe, 0x01, 0x80, 0x0a, 0x1b, 0x5b]) },
        'one-word': { body: 'a'.repeat(300_000) },
        'many-keys': {
          body: `container:\n  name: pilot/hello-delta\n${Array.from({ length: 45_000 }, (_, i) => `k${i}: 1`).join('\n')}\n`,
        },
        deep: { body: `${'['.repeat(20_000)}${']'.repeat(20_000)}\n` },
        'alias-bomb': {
          body: `a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: [*f,*f,*f,*f,*f,*f,*f,*f,*f]\ncontainer: {name: x}\n`,
        },
        'container-number': { body: 'container: 5\n' },
        'no-name': { body: 'container: {}\n' },
        'long-name': { body: `container: {name: pilot/${long}}\n` },
        'layers-scalar': { body: 'container: {name: pilot/hello-delta, layers: x}\n' },
        'target-relative': {
          body: 'container: {name: pilot/hello-delta, target_app_path: usr/bin/x}\n',
        },
        'include-relative': {
          body: 'container: {name: pilot/hello-delta}\ninclude: {tar: [x.tar]}\n',
        },
        privileged: {
          body: 'container:\n  name: pilot/hello-delta\n  runtime:\n    podman: ["--privileged"]\n',
          says: /--privileged/,
        },
        'volume-novalue': {
          body: 'container:\n  name: pilot/hello-delta\n  runtime:\n    podman: ["--volume"]\n',
        },
        'volume-relative': {
          body: 'container:\n  name: pilot/hello-delta\n  runtime:\n    podman: ["-v rel:/x"]\n',
        },
        'runas-unknown': {
          body: 'container:\n  name: pilot/hello-delta\n  base_container: pilot/busybox-base\n  target_app_path: /usr/bin/pilot-test\n  runtime:\n    runas: no-such-user-here\n',
          says: /no-such-user-here/,
          valid: true,
        },
        'non-utf8-value': {
          body: Buffer.concat([
            Buffer.from('container:\n  name: "caf'),
            Buffer.from([0xe9]),
            Buffer.from('"\n'),
          ]),
        },
        'bom-crlf': {
          body: '\ufeffcontainer:\r\n  name: pilot/hello-delta\r\n  base_container: pilot/busybox-base\r\n  target_app_path: /usr/bin/pilot-test\r\n',
          runs: true,
        },
        'repeated-key': {
          body: 'container:\n  name: pilot/nothing-here\ncontainer:\n  name: pilot/hello-delta\n  base_container: pilot/busybox-base\n  target_app_path: /usr/bin/pilot-test\n',
          runs: true,
        },
      };
      const dir = () => join(root.dir, 'usr/share/flakes');
      const special: Record<string, (path: string) => void> = {
        fifo: (path) => spawnSync('mkfifo', [path]),
        directory: (path) => mkdirSync(path),
        'link-dev-zero': (path) => symlinkSync('/dev/zero', path),
        'link-dangling': (path) => symlinkSync(join(dir(), 'nowhere.yaml'), path),
        'link-loop': (path) => symlinkSync(path, path),
        'link-passwd': (path) => symlinkSync('/etc/passwd', path),
      };
      const names = [...Object.keys(flakes), ...Object.keys(special)];
      for (const name of names) {
        const entry = flakes[name];
        const file = `${name}.yaml`;
        const says = entry?.says ?? new RegExp(file.replace(/[.]/g, '\\.'));
        add(
          'flake file',
          `${name}: list`,
          entry?.runs || entry?.valid
            ? { row: new RegExp(`^${name} .*pilot/hello-delta`, 'm') }
            : { row: new RegExp(`^${name} .*error`, 'm') },
          () => pilot(['list']),
        );
        add(
          'flake file',
          `${name}: show`,
          entry?.runs || entry?.valid ? { stdout: '' } : { error: says, code: 1 },
          () => {
            const r = pilot(['show', name]);
            return entry?.runs || entry?.valid ? { ...r, stdout: '' } : r;
          },
        );
        add(
          'flake file',
          `${name}: launch`,
          entry?.runs ? { stdout: '[x]\n' } : { error: says, code: 125 },
          () => run(root.link(`/usr/bin/${name}`), ['args', 'x'], { env: root.env() }),
        );
      }
      // Set up after the table: each app is registered (its plan cached), then broken.
      cases.unshift({
        family: 'setup',
        name: 'register the apps of the flake cases',
        want: { stdout: '' },
        run: () => {
          for (const name of names) {
            root.ok(['register', ...base, '--app', `/usr/bin/${name}`, ...target]);
            expect(root.run(`/usr/bin/${name}`, ['args', 'x']).stdout).toBe('[x]\n');
            const path = join(dir(), `${name}.yaml`);
            rmSync(path);
            if (special[name]) special[name](path);
            else writeFileSync(path, flakes[name]?.body ?? '');
          }
          return { code: 0, signal: null, stdout: '', stderr: '' };
        },
      });
    }

    function archiveCases(): void {
      const file = (name: string, body: Buffer | string) => {
        const path = join(work, name);
        writeFileSync(path, body);
        return path;
      };
      const load = (path: string, extra: string[] = []) =>
        pilot(['load', path, '--quiet', ...extra]);
      const good = readFileSync(join(examples, 'busybox-base.tar'));
      const layer = (entries: TarEntrySpec[]) =>
        tarOf(ociFiles([{ image: makeImage([makeLayer(entries)]), refName: 'bad:1' }]));
      const hostile: Record<string, TarEntrySpec[]> = {
        'dot-dot path': [{ path: '../escape', body: 'x' }],
        'absolute path': [{ path: '/etc/pilot-escape', body: 'x' }],
        'file through a symlink': [
          { path: 'l', type: 'symlink', linkpath: '/etc' },
          { path: 'l/pilot-escape', body: 'x' },
        ],
        'hard link outside': [{ path: 'h', type: 'link', linkpath: '../../etc/passwd' }],
        'hard link forward': [
          { path: 'h', type: 'link', linkpath: 'later' },
          { path: 'later', body: 'x' },
        ],
        'path of 5000 bytes': [{ path: `${'d/'.repeat(2499)}f`, body: 'x' }],
        'component of 300 bytes': [{ path: 'y'.repeat(300), body: 'x' }],
        'opaque whiteout at root': [{ path: '.wh..wh..opq', body: '' }],
        'whiteout of ..': [{ path: 'a/.wh...', body: '' }],
      };
      const bad: Record<string, () => string> = {
        'no such file': () => join(work, 'missing.tar'),
        'empty file': () => file('empty.tar', ''),
        'random bytes': () =>
          file('random.tar', Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 251))),
        'truncated tar': () => file('truncated.tar', good.subarray(0, 10_240)),
        'truncated gzip': () => file('truncated.tar.gz', gzipSync(good).subarray(0, 20_000)),
        'gzip of random bytes': () => file('random.tar.gz', gzipSync(Buffer.alloc(8192, 7))),
        'tar without an image': () =>
          file('readme.tar', tarOf(new Map([['README', Buffer.from('hi')]]))),
        'index.json not JSON': () =>
          file(
            'index.tar',
            tarOf(
              new Map([
                ['oci-layout', Buffer.from('{}')],
                ['index.json', Buffer.from('{')],
              ]),
            ),
          ),
        'index.json empty object': () =>
          file(
            'index2.tar',
            tarOf(
              new Map([
                ['oci-layout', Buffer.from('{"imageLayoutVersion":"1.0.0"}')],
                ['index.json', Buffer.from('{}')],
              ]),
            ),
          ),
        'manifest blob missing': () => {
          const files = ociFiles([{ image: makeImage([makeLayer([{ path: 'a', body: 'x' }])]) }]);
          for (const name of [...files.keys()]) if (name.startsWith('blobs/')) files.delete(name);
          return file('noblob.tar', tarOf(files));
        },
        'layer digest mismatch': () => {
          const image = makeImage([makeLayer([{ path: 'a', body: 'x' }])]);
          const files = ociFiles([{ image }]);
          const name = `blobs/sha256/${image.layers[0]?.digest.slice(7)}`;
          const blob = Buffer.from(files.get(name) ?? '');
          blob.writeUInt8((blob.readUInt8(blob.length - 10) ^ 0xff) & 0xff, blob.length - 10);
          files.set(name, blob);
          return file('mismatch.tar', tarOf(files));
        },
        'manifest.json of 5 MB': () =>
          file(
            'big.tar',
            tarOf(
              new Map([
                [
                  'manifest.json',
                  Buffer.from(`[${'{"Config":"x","Layers":[]},'.repeat(190_000)}{}]`),
                ],
              ]),
            ),
          ),
        'docker manifest naming a missing layer': () => {
          const files = dockerFiles([
            { image: makeImage([makeLayer([{ path: 'a', body: 'x' }])]), repoTags: ['bad:2'] },
          ]);
          for (const name of [...files.keys()]) if (name.endsWith('layer.tar')) files.delete(name);
          return file('nolayer.tar', tarOf(files));
        },
        'a FIFO': () => {
          const path = join(work, 'fifo.tar');
          spawnSync('mkfifo', [path]);
          return path;
        },
        '/dev/zero': () => '/dev/zero',
        'a directory without an image': () => {
          const path = join(work, 'empty-dir');
          mkdirSync(path);
          return path;
        },
      };
      for (const [name, make] of Object.entries(bad))
        add('archive', name, { error: /./, code: 1 }, () => load(make()));
      for (const [name, entries] of Object.entries(hostile))
        add('hostile layer', name, { error: /./, code: 1 }, () =>
          load(file(`${name.replace(/\W/g, '-')}.tar`, layer(entries))),
        );
      // Taken as rootless podman takes them: the device is dropped, the odd name kept
      // (and shown escaped). The case's output is what the store then holds.
      const kept = (name: string, entries: TarEntrySpec[], find: string[]) =>
        add('hostile layer', name, { stdout: '' }, () => {
          const r = load(file(`${name.replace(/\W/g, '-')}.tar`, layer(entries)));
          if (r.code !== 0) return r;
          return run('find', [join(root.dir, 'var/lib/pilot'), ...find], {});
        });
      kept(
        'a block device (dropped)',
        [{ path: 'sda', type: 'block', devmajor: 8, devminor: 0 }],
        ['-type', 'b'],
      );
      kept(
        'a name with control characters',
        [{ path: 'a\u001b[31mb', body: 'x' }],
        ['-name', 'a*b', '!', '-name', 'a\u001b[31mb'],
      );
    }

    function nameCases(): void {
      const long = `pilot/${'n'.repeat(300)}`;
      const register = (...args: string[]) => pilot(['register', ...args]);
      const table: [string, () => Result, RegExp?][] = [
        [
          'register --container ""',
          () => register('--container', '', '--app', '/usr/bin/n1'),
          /--container "" is not a valid image name: it is empty/,
        ],
        ['register a 300-byte ref', () => register('--container', long, '--app', '/usr/bin/n2')],
        [
          'register an upper-case ref',
          () => register('--container', 'Pilot/Hello', '--app', '/usr/bin/n3'),
        ],
        [
          'register a ref with a space',
          () => register('--container', 'pilot/a b', '--app', '/usr/bin/n4'),
          /the character " "/,
        ],
        [
          'register a ref with a newline',
          () => register('--container', 'pilot/a\nb', '--app', '/usr/bin/n5'),
          /not a valid image name/,
        ],
        [
          'register an unknown image',
          () => register('--container', 'pilot/none', '--app', '/usr/bin/n6'),
        ],
        [
          'register an unknown base',
          () => register(...base.slice(0, 2), '--base', 'pilot/none', '--app', '/usr/bin/n7'),
        ],
        [
          'register an unknown layer',
          () => register(...base, '--layer', 'pilot/none', '--app', '/usr/bin/n8'),
        ],
        ['register --app relative', () => register(...base, '--app', 'usr/bin/n9')],
        ['register --app /usr/bin/', () => register(...base, '--app', '/usr/bin/')],
        ['register --app /', () => register(...base, '--app', '/')],
        ['register --app with a newline', () => register(...base, '--app', '/usr/bin/a\nb')],
        [
          'register --app of 5000 bytes',
          () => register(...base, '--app', `/usr/bin/${'a'.repeat(5000)}`),
        ],
        [
          'register --app with ..',
          () => register(...base, '--app', '/usr/bin/../../etc/n10'),
          /has a "\.\." component/,
        ],
        [
          'register --target relative',
          () => register(...base, '--app', '/usr/bin/n11', '--target', 'bin/sh'),
        ],
        [
          'register --target the image lacks',
          () => register(...base, '--app', '/usr/bin/n12', '--target', '/usr/bin/none'),
        ],
        [
          'register --include-tar missing',
          () =>
            register(
              ...base,
              ...target,
              '--app',
              '/usr/bin/n13',
              '--include-tar',
              join(work, 'none.tar'),
            ),
        ],
        [
          'register --include-tar not a tar',
          () =>
            register(...base, ...target, '--app', '/usr/bin/n14', '--include-tar', '/etc/hostname'),
        ],
        [
          'register --opt --privileged',
          () => register(...base, ...target, '--app', '/usr/bin/n15', '--opt', '--privileged'),
        ],
        [
          'register --opt -v relative',
          () => register(...base, ...target, '--app', '/usr/bin/n16', '--opt', '-v rel:/x'),
        ],
        [
          'register --opt unknown',
          () => register(...base, ...target, '--app', '/usr/bin/n17', '--opt', '--frobnicate'),
        ],
        [
          'register --resume --attach',
          () => register(...base, ...target, '--app', '/usr/bin/n18', '--resume', '--attach'),
        ],
        ['load --name ""', () => pilot(['load', join(examples, 'busybox-base.tar'), '--name', ''])],
        [
          'load --name of 300 bytes',
          () => pilot(['load', join(examples, 'busybox-base.tar'), '--name', long]),
        ],
        ['rmi an unknown image', () => pilot(['rmi', 'pilot/none'])],
        ['rmi ""', () => pilot(['rmi', ''])],
        ['rmi a 300-byte ref', () => pilot(['rmi', long])],
        ['show an unknown app', () => pilot(['show', 'no-such-app'])],
        ['show ""', () => pilot(['show', ''])],
        ['remove an unknown app', () => pilot(['remove', '--app', '/usr/bin/no-such-app'])],
        ['check an unknown app', () => pilot(['check', 'no-such-app'])],
        ['pull -rf', () => pilot(['pull', '-rf'])],
        ['an unknown command', () => pilot(['frobnicate'])],
        ['stop an unknown app', () => pilot(['stop', 'no-such-app'])],
      ];
      for (const [name, fn, says] of table) add('names and refs', name, { error: says ?? /./ }, fn);
    }

    function rootCases(): void {
      const list = (env: NodeJS.ProcessEnv, args: string[] = []) =>
        run(process.execPath, [cli, ...args, 'list'], { env: { ...process.env, ...env } });
      add('roots', '--root ""', { error: /--root/, code: 2 }, () => list({}, ['--root', '']));
      add('roots', '--root relative', { error: /absolute/ }, () => list({}, ['--root', 'rel']));
      add('roots', 'PILOT_ROOT relative', { error: /absolute/ }, () => list({ PILOT_ROOT: 'rel' }));
      add('roots', '--root a file', { error: /not a directory/ }, () =>
        list({}, ['--root', '/etc/hostname']),
      );
      add('roots', 'PILOT_ROOT with a comma: register', { error: /,/ }, () =>
        run(process.execPath, [cli, 'register', ...base, '--app', '/usr/bin/c'], {
          env: { ...process.env, PILOT_ROOT: join(work, 'a,b') },
        }),
      );
      add('roots', 'PILOT_ROOT with a colon: load', { error: /:/ }, () =>
        run(process.execPath, [cli, 'load', join(examples, 'busybox-base.tar')], {
          env: { ...process.env, PILOT_ROOT: join(work, 'a:b') },
        }),
      );
      add('roots', 'PILOT_ROOT with a newline', { error: /./ }, () =>
        list({ PILOT_ROOT: join(work, 'a\nb') }),
      );
      add('roots', 'a root that does not exist yet: list is empty', { stdout: '' }, () => {
        const r = list({ PILOT_ROOT: join(work, 'fresh') });
        return { ...r, stdout: r.stdout.replace(/^APP .*\n/, '') };
      });
    }

    /** Caller input a native command takes as it is: the app must get exactly that. */
    function callerCases(): void {
      const link = () => root.link('/usr/bin/hello');
      // sh builds the bytes a JavaScript string cannot hold, then execs the app.
      const sh = (script: string, env: NodeJS.ProcessEnv = {}, cwd?: string) =>
        run('sh', ['-c', script, link()], { env: root.env(env), cwd: cwd ?? work });
      const many = Array.from({ length: 1000 }, (_, i) => `a${i}`);
      const table: [string, string, string][] = [
        ['an argument that is not UTF-8', `exec "$0" args "$(printf 'caf\\351')"`, '[caf\xe9]\n'],
        ['an empty argument', `exec "$0" args ''`, '[]\n'],
        ['an argument with a newline', `exec "$0" args "$(printf 'a\\nb')"`, '[a\nb]\n'],
        [
          'a 100 KB argument',
          `exec "$0" args "$(head -c 100000 /dev/zero | tr '\\0' y)"`,
          `[${'y'.repeat(100_000)}]\n`,
        ],
        [
          '1000 arguments',
          `exec "$0" args ${many.join(' ')}`,
          many.map((a) => `[${a}]\n`).join(''),
        ],
        ["printf's %s", `exec "$0" args %s`, '[%s]\n'],
        ['an unknown %option', `exec "$0" args %frobnicate`, '[%frobnicate]\n'],
        ['curl -d @file on a one-shot app', `exec "$0" args @body.json`, '[@body.json]\n'],
        ['the @@ escape', `exec "$0" args @@x`, '[@x]\n'],
        ['the %% escape', `exec "$0" args %%x`, '[%x]\n'],
        ['%progress is taken, the rest passes', `exec "$0" args %progress x`, '[x]\n'],
        [
          'an environment value that is not UTF-8',
          `X="$(printf '\\001\\377')" exec "$0" env X`,
          '\x01\xff\n',
        ],
        [
          'a 100 KB environment value',
          `X="$(head -c 100000 /dev/zero | tr '\\0' z)" exec "$0" env X`,
          `${'z'.repeat(100_000)}\n`,
        ],
        [
          'a cwd that is not UTF-8',
          `d="$(printf 'caf\\351')"; mkdir -p "$d" && cd "$d" && exec "$0" pwd`,
          `${work}/caf\xe9\n`,
        ],
        ['a deleted cwd', 'mkdir -p gone && cd gone && rmdir ../gone && exec "$0" args x', '[x]\n'],
        ['stdin closed', 'exec "$0" args x <&-', '[x]\n'],
        ['exit code 3', 'exec "$0" exit 3', ''],
      ];
      for (const path of ['off', 'on'] as const)
        for (const [name, script, stdout] of table) {
          const code = name === 'exit code 3' ? 3 : 0;
          // 'on' calls twice: the first plans, the second takes the fast path.
          add(`caller input (fast path ${path})`, name, { stdout, code }, () => {
            if (path === 'on') sh(script);
            return sh(script, { PILOT_FASTPATH: path });
          });
        }
    }

    beforeAll(() => {
      root = new TestRoot('bad-input');
      work = mkdtempSync(join(tmpdir(), 'pilot-bad-input-work-'));
      root.load('busybox-base', 'hello-delta');
      root.ok(['register', ...base, '--app', '/usr/bin/hello', ...target]);
      flakeCases();
      archiveCases();
      nameCases();
      rootCases();
      callerCases();
    });

    afterAll(() => {
      root?.cleanup();
      if (work?.startsWith(join(tmpdir(), 'pilot-bad-input-work-')))
        rmSync(work, { recursive: true, force: true });
    });

    it('every case ends in a clear error or does what a native command does', () => {
      for (const c of cases) {
        const r = c.run();
        const why = broken(r, c.want);
        if (c.family === 'setup') continue;
        const t = tally.get(c.family) ?? { cases: 0, errors: 0, native: 0 };
        t.cases++;
        if ('error' in c.want || 'row' in c.want) t.errors++;
        else t.native++;
        tally.set(c.family, t);
        report.push(
          `${c.family} | ${c.name} | exit ${r.code} | ${r.stderr.split('\n')[0]?.slice(0, 160)}`,
        );
        if (why)
          failures.push(
            `${c.family}: ${c.name}: ${why}\n    exit ${r.code}; stderr: ${r.stderr.slice(0, 300)}`,
          );
      }
      const total = [...tally.values()].reduce(
        (a, t) => ({
          cases: a.cases + t.cases,
          errors: a.errors + t.errors,
          native: a.native + t.native,
        }),
        { cases: 0, errors: 0, native: 0 },
      );
      const lines = [...tally].map(
        ([f, t]) => `  ${f}: ${t.cases} cases, ${t.errors} clear errors, ${t.native} native`,
      );
      console.log(
        `bad-input sweep: ${total.cases} cases, ${total.errors} clear errors, ${total.native} native, ${failures.length} failures\n${lines.join('\n')}`,
      );
      // PILOT_SWEEP_REPORT=FILE keeps each case's first line of stderr, to read them all.
      if (process.env.PILOT_SWEEP_REPORT)
        writeFileSync(process.env.PILOT_SWEEP_REPORT, `${report.join('\n')}\n`);
      expect(failures, failures.join('\n')).toEqual([]);
      // 184 cases, each a CLI or launcher process (~40 s on a quiet 2-core machine).
    }, 240_000);

    it('gc runs clean afterwards and leaves nothing in the store tmp/', () => {
      const gc = pilot(['gc']);
      expect(broken(gc, { stdout: gc.stdout }), gc.stderr).toBe('');
      expect(readdirSync(join(root.dir, 'var/lib/pilot/tmp'))).toEqual([]);
    });
  },
);
