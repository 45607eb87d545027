import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { claimLock } from '../../src/core/lock.js';
import { bundleSnippet, sourceFile } from '../store/helpers.js';

const work = mkdtempSync(join(tmpdir(), 'pilot-lock-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('claimLock', () => {
  it('refuses a claim held by a live process and takes over a dead one', () => {
    const path = join(work, 'one.lock');
    const lock = claimLock(path, 'thing');
    expect(() => claimLock(path, 'thing')).toThrow(/thing is busy: process \d+ holds/);
    lock.release();
    writeFileSync(path, '999999999\n');
    claimLock(path, 'thing').release();
    expect(readdirSync(work).filter((f) => f.startsWith('one.lock'))).toEqual([]);
  });

  it('gives ten racing processes one owner at a time (no lost update)', async () => {
    const script = join(work, 'worker.mjs');
    bundleSnippet(
      `import { readFileSync, writeFileSync } from 'node:fs';
      import { waitForLock } from ${sourceFile('core/lock.ts')};
      const [lockPath, counter] = process.argv.slice(2);
      for (let i = 0; i < 5; i++) {
        const lock = await waitForLock(lockPath, 'counter', 30000);
        const n = Number(readFileSync(counter, 'utf8'));
        await new Promise((r) => setTimeout(r, 1));
        writeFileSync(counter, String(n + 1));
        lock.release();
      }`,
      script,
    );
    const counter = join(work, 'counter');
    writeFileSync(counter, '0');
    const lockPath = join(work, 'counter.lock');
    const codes = await Promise.all(
      Array.from(
        { length: 10 },
        () =>
          new Promise<number | null>((resolve) =>
            spawn(process.execPath, [script, lockPath, counter], { stdio: 'inherit' }).on(
              'exit',
              resolve,
            ),
          ),
      ),
    );
    expect(codes).toEqual(Array(10).fill(0));
    expect(readFileSync(counter, 'utf8')).toBe('50');
  }, 60_000);
});
