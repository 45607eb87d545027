import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Flake } from '../../src/core/flake-file.js';
import type { PilotPaths } from '../../src/core/paths.js';
import { ensureIncludeTar, includeTarLowers } from '../../src/runtime/include-tar.js';
import { encodeTar } from '../../src/store/tar-write.js';

const work = mkdtempSync(join(tmpdir(), 'pilot-include-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const paths: PilotPaths = {
  root: work,
  store: join(work, 'store'),
  flakes: join(work, 'flakes'),
  run: join(work, 'run'),
  system: true,
};

function makeTar(name: string, files: Record<string, string>): string {
  const dir = join(work, `src-${name}`);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  const tar = join(work, `${name}.tar.gz`);
  execFileSync('tar', ['-czf', tar, '-C', dir, '.']);
  return tar;
}

describe('include.tar', () => {
  it('extracts once per content, into a lower dir named by its digest', async () => {
    const tar = makeTar('a', { 'etc/a.conf': 'one\n' });
    const lower = await ensureIncludeTar(paths, tar);
    expect(lower).toMatch(/^includes\/[a-f0-9]{64}$/);
    expect(readFileSync(join(paths.store, lower, 'etc/a.conf'), 'utf8')).toBe('one\n');
    // The same file again: the index answers, no new directory.
    expect(await ensureIncludeTar(paths, tar)).toBe(lower);
    // New content: a new directory; the old one stays for whoever still uses it.
    const again = makeTar('a', { 'etc/a.conf': 'two\n' });
    const changed = await ensureIncludeTar(paths, again);
    expect(changed).not.toBe(lower);
    expect(readFileSync(join(paths.store, changed, 'etc/a.conf'), 'utf8')).toBe('two\n');
  });

  it('stacks later tars above earlier ones', async () => {
    const first = makeTar('first', { 'etc/x': '1' });
    const second = makeTar('second', { 'etc/x': '2' });
    const flake = { include: { tar: [first, second], path: [] } } as unknown as Flake;
    const lowers = await includeTarLowers(paths, flake);
    expect(lowers).toEqual([
      await ensureIncludeTar(paths, second),
      await ensureIncludeTar(paths, first),
    ]);
  });

  it('refuses an entry that escapes, naming it, and writes nothing', async () => {
    const tar = join(work, 'hostile.tar');
    writeFileSync(
      tar,
      encodeTar([
        { path: 'etc/ok', body: 'ok' },
        { path: 'etc/../../outside', body: 'x' },
      ]),
    );
    await expect(ensureIncludeTar(paths, tar)).rejects.toThrow(/etc\/\.\.\/\.\.\/outside/);
    expect(existsSync(join(paths.store, 'outside'))).toBe(false);
  });

  it('names a tar that is gone', async () => {
    await expect(ensureIncludeTar(paths, join(work, 'nope.tar'))).rejects.toThrow(
      /include.tar .*nope.tar cannot be read/,
    );
  });
});
