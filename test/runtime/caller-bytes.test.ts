import { describe, expect, it } from 'vitest';
import { callerCwd } from '../../src/runtime/caller-bytes.js';

const enoent = () => {
  throw Object.assign(new Error('ENOENT: no such file or directory, uv_cwd'), { code: 'ENOENT' });
};
const link = (text: string | Buffer) => () => (typeof text === 'string' ? Buffer.from(text) : text);
const noProc = () => {
  throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
};

describe('callerCwd', () => {
  it("takes the link's bytes for a live cwd, Node's view without /proc", () => {
    expect(callerCwd(() => '/srv/caf\ufffd', link(Buffer.from('/srv/caf\xe9', 'latin1')))).toEqual({
      cwd: '/srv/caf\udce9',
      cwdDeleted: false,
    });
    expect(callerCwd(() => '/srv/x', noProc)).toEqual({ cwd: '/srv/x', cwdDeleted: false });
  });

  it('keeps a live directory whose name ends in " (deleted)"', () => {
    expect(callerCwd(() => '/srv/a (deleted)', link('/srv/a (deleted)'))).toEqual({
      cwd: '/srv/a (deleted)',
      cwdDeleted: false,
    });
  });

  it('finds a deleted cwd where it was: the link without " (deleted)"', () => {
    expect(callerCwd(enoent, link('/tmp/g (deleted)'))).toEqual({
      cwd: '/tmp/g',
      cwdDeleted: true,
    });
  });

  it('says clearly when a deleted cwd cannot be told (exit 125, no stack)', () => {
    for (const read of [noProc, link('not absolute (deleted)'), link('/tmp/g')]) {
      let caught: unknown;
      try {
        callerCwd(enoent, read);
      } catch (error) {
        caught = error;
      }
      expect(caught).toMatchObject({
        code: 'PILOT_RUNTIME',
        exitCode: 125,
        message: expect.stringMatching(/working directory: it was deleted/),
        hint: expect.stringMatching(/change to an existing directory/),
      });
    }
  });
});
