import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createProgress } from '../../src/core/progress.js';
import { type Installed, installPilot, run, writeTestArchive } from './helpers.js';

vi.setConfig({ testTimeout: 60_000 });

/** util-linux script(1) gives the command a terminal; its output arrives on our stdout. */
const hasScript = spawnSync('script', ['--version']).status === 0;

const REDRAW = '\r\x1b[K';

let installed: Installed;
let work: string;
let archive: string;

beforeAll(() => {
  installed = installPilot();
  work = mkdtempSync(join(tmpdir(), 'pilot-progress-'));
  archive = writeTestArchive(work, 'hello', 'test/hello:1');
}, 300_000);

afterAll(() => {
  installed?.cleanup();
  if (work) rmSync(work, { recursive: true, force: true });
});

let root: string;
let counter = 0;
beforeEach(() => {
  root = join(work, `root-${counter++}`);
});

function onTerminal(args: string[], env: NodeJS.ProcessEnv = {}) {
  const quoted = [installed.bin, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return run('script', ['-qefc', quoted, '/dev/null'], {
    env: { PILOT_ROOT: root, TERM: 'xterm', ...env },
  });
}

describe('progress of pilot load', () => {
  it('is never drawn when output is piped: no carriage returns, no escapes', () => {
    const r = run(installed.bin, ['load', archive], { env: { PILOT_ROOT: root } });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^loaded test\/hello:1 [0-9a-f]{12}: 1 new layer/);
    for (const text of [r.stdout, r.stderr]) {
      expect(text).not.toContain('\r');
      expect(text).not.toContain('\x1b');
    }
  });

  it.skipIf(!hasScript)('is redrawn in place on a terminal, then cleared', () => {
    const r = onTerminal(['load', archive]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`${REDRAW}loading ${archive}: `);
    expect(r.stdout).toMatch(/loaded test\/hello:1/);
  });

  it.skipIf(!hasScript)('respects --quiet and --json on a terminal', () => {
    const quiet = onTerminal(['load', archive, '--quiet']);
    expect(quiet.code).toBe(0);
    expect(quiet.stdout).toBe('');
    const json = onTerminal(['load', archive, '--json']);
    expect(json.stdout).not.toContain(REDRAW);
    expect(JSON.parse(json.stdout)).toEqual([
      expect.objectContaining({ names: ['test/hello:1'], reusedLayers: 1 }),
    ]);
  });

  it.skipIf(!hasScript)('never colours, even on a terminal that asks for colour', () => {
    // pilot writes no colour at all (so NO_COLOR holds by construction): environments
    // that colour libraries obey must not bring any in either.
    for (const env of [
      { NO_COLOR: '1' },
      { FORCE_COLOR: '3', CLICOLOR_FORCE: '1', TERM: 'xterm-256color', COLORTERM: 'truecolor' },
    ]) {
      const r = onTerminal(['load', archive], env);
      expect(r.code).toBe(0);
      // On a terminal indeed: the progress was drawn, where colour would have shown.
      expect(r.stdout).toContain(REDRAW);
      // the only escape pilot writes is the line erase of the redraw
      expect(r.stdout.replaceAll(REDRAW, '')).not.toContain('\x1b');
    }
  });
});

describe('createProgress', () => {
  let writes: string[];
  let isTTY: boolean | undefined;
  beforeEach(() => {
    writes = [];
    isTTY = process.stderr.isTTY;
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      writes.push(String(chunk));
      return true;
    });
  });
  afterEach(() => {
    vi.restoreAllMocks();
    Object.defineProperty(process.stderr, 'isTTY', { value: isTTY, configurable: true });
  });

  it('writes nothing when stderr is not a terminal', () => {
    Object.defineProperty(process.stderr, 'isTTY', { value: false, configurable: true });
    const progress = createProgress(undefined, 'loading x');
    progress.update(1, 2);
    progress.update(2, 2);
    progress.done();
    expect(writes).toEqual([]);
  });

  it('redraws one line on a terminal and clears it when done', () => {
    Object.defineProperty(process.stderr, 'isTTY', { value: true, configurable: true });
    const progress = createProgress(undefined, 'loading x');
    progress.update(1e6, 2e6);
    progress.update(2e6, 2e6);
    progress.done();
    expect(writes[0]).toBe(`${REDRAW}loading x: 1.0 MB / 2.0 MB 50%`);
    expect(writes.at(-1)).toBe(REDRAW);
    expect(writes.join('')).not.toContain('\n');
  });

  it('is off when the caller asks for quiet, even on a terminal', () => {
    Object.defineProperty(process.stderr, 'isTTY', { value: true, configurable: true });
    const progress = createProgress(false, 'loading x');
    progress.update(1, 2);
    progress.done();
    expect(writes).toEqual([]);
  });
});
