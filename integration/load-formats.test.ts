/**
 * The example images as KIWI and flake-ctl users have them: xz and zstd archives loaded
 * through a quoted pattern, a `docker save` directory, flake-ctl's `--oci NAME` picking the
 * highest version, and a directory with one corrupt archive; each registered and launched
 * through its link. Budget: about 5 s (8 pilot runs, 3 launches), no network.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { examples, skipReason, TestRoot } from './harness.js';

const skip = skipReason();

/** `docker save`'s own layout from an oci-archive: manifest.json, `<hex>.json`, `<id>/layer.tar`. */
function dockerSaveDir(archive: string, dir: string, repoTag: string): void {
  const oci = join(dir, '.oci');
  mkdirSync(oci, { recursive: true });
  execFileSync('tar', ['-xf', archive, '-C', oci]);
  const blob = (digest: string) => readFileSync(join(oci, 'blobs', digest.replace(':', '/')));
  const index = JSON.parse(readFileSync(join(oci, 'index.json'), 'utf8'));
  const manifest = JSON.parse(blob(index.manifests[0].digest).toString());
  const configHex = manifest.config.digest.slice('sha256:'.length);
  writeFileSync(join(dir, `${configHex}.json`), blob(manifest.config.digest));
  const layers = manifest.layers.map((layer: { digest: string; mediaType: string }) => {
    const id = layer.digest.slice('sha256:'.length);
    mkdirSync(join(dir, id));
    const data = blob(layer.digest);
    writeFileSync(
      join(dir, id, 'layer.tar'),
      layer.mediaType.endsWith('gzip') ? gunzipSync(data) : data,
    );
    return `${id}/layer.tar`;
  });
  writeFileSync(
    join(dir, 'manifest.json'),
    JSON.stringify([{ Config: `${configHex}.json`, RepoTags: [repoTag], Layers: layers }]),
  );
  execFileSync('rm', ['-rf', '--', oci]);
}

describe.skipIf(skip !== '')('pilot load: what KIWI and flake-ctl users have', () => {
  let root: TestRoot;
  let images: string;

  beforeAll(() => {
    root = new TestRoot('load-formats');
    images = join(root.dir, 'images');
    mkdirSync(images);
    const base = readFileSync(join(examples, 'busybox-base.tar'));
    const hello = readFileSync(join(examples, 'hello-delta.tar'));
    writeFileSync(
      join(images, 'busybox-base.x86_64-1.0.docker.tar.xz'),
      execFileSync('xz', ['-c'], { input: base }),
    );
    writeFileSync(
      join(images, 'hello-delta.tar.zst'),
      execFileSync('zstd', ['-q', '-c'], { input: hello }),
    );
  });
  afterAll(() => root?.cleanup());

  /** Registers the image's /usr/bin/hello as `app` and returns what a call prints. */
  const registerAndRun = (app: string, container: string, args: string[]) => {
    root.ok([
      'register',
      '--container',
      container,
      '--base',
      'pilot/busybox-base',
      '--app',
      app,
      '--target',
      '/usr/bin/hello',
    ]);
    const r = root.run(app, args);
    expect(r.stderr).toBe('');
    return r.stdout;
  };

  it('loads xz and zstd archives through a quoted pattern, one line each, and launches the app', () => {
    // spawn passes the pattern as it is, as a quoting shell would.
    const r = root.ok(['load', join(images, '*.tar.*')]);
    expect(r.stdout.trim().split('\n')).toEqual([
      expect.stringMatching(
        /^loaded localhost\/pilot\/busybox-base:latest \w{12} from .*\.docker\.tar\.xz: 1 new layer/,
      ),
      expect.stringMatching(
        /^loaded localhost\/pilot\/hello-delta:latest \w{12} from .*hello-delta\.tar\.zst: 1 new layer/,
      ),
    ]);
    expect(registerAndRun('/usr/bin/hello', 'pilot/hello-delta', ['xz'])).toBe(
      'hello from pilot\n[xz]\n',
    );
  });

  it('loads a docker save directory and launches the app from it', () => {
    const dir = join(root.dir, 'saved');
    dockerSaveDir(join(examples, 'hello-delta.tar'), dir, 'pilot/hello-saved:1');
    const r = root.ok(['load', dir, '--json']);
    expect(JSON.parse(r.stdout)).toEqual([
      expect.objectContaining({ names: ['pilot/hello-saved:1'], source: dir }),
    ]);
    expect(registerAndRun('/usr/bin/hello-saved', 'pilot/hello-saved:1', ['dir'])).toBe(
      'hello from pilot\n[dir]\n',
    );
  });

  it("takes flake-ctl's --oci NAME: the highest version of NAME*", () => {
    const versions = join(root.dir, 'versions');
    mkdirSync(versions);
    // Plain sort order would take 1.9 (the base); flake-ctl meant the highest version.
    for (const [version, example] of [
      ['1.9', 'busybox-base'],
      ['1.10', 'hello-delta'],
    ]) {
      const data = readFileSync(join(examples, `${example}.tar`));
      writeFileSync(
        join(versions, `hello-${version}.tar.xz`),
        execFileSync('xz', ['-c'], { input: data }),
      );
    }
    const r = root.ok(['load', '--oci', join(versions, 'hello-'), '--name', 'pilot/hello-oci']);
    expect(r.stdout).toMatch(
      /^loaded localhost\/pilot\/hello-delta:latest, pilot\/hello-oci:latest \w{12} from \S+\/hello-1\.10\.tar\.xz: 0 new layer/,
    );
    expect(registerAndRun('/usr/bin/hello-oci', 'pilot/hello-oci', ['v'])).toBe(
      'hello from pilot\n[v]\n',
    );
  });

  it('loads the good archives of a directory with a corrupt one, and exits 1 naming it', () => {
    const mixed = join(root.dir, 'mixed');
    mkdirSync(mixed);
    const xz = readFileSync(join(images, 'busybox-base.x86_64-1.0.docker.tar.xz'));
    writeFileSync(join(mixed, 'a-cut.tar.xz'), xz.subarray(0, xz.length >> 1));
    writeFileSync(join(mixed, 'b-good.tar.zst'), readFileSync(join(images, 'hello-delta.tar.zst')));
    const r = root.pilot(['load', join(mixed, '*')]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /^loaded localhost\/pilot\/hello-delta:latest \w{12} from .*b-good\.tar\.zst/,
    );
    expect(r.stderr).toContain(
      `pilot: cannot decompress ${join(mixed, 'a-cut.tar.xz')}: \`xz -d -c -q\` exited with status 1: `,
    );
    expect(r.stderr).toContain(
      `pilot: 1 of 2 sources failed to load: ${join(mixed, 'a-cut.tar.xz')}; 1 loaded`,
    );
    expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
    const none = root.pilot(['load', join(mixed, '*.tar.gz')]);
    expect(none).toMatchObject({ code: 1, stdout: '' });
    expect(none.stderr).toContain('the pattern matches no file or directory');
  });
});
