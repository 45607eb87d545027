/**
 * A registry that lies (issue 15, bad input): a blob whose digest does not match, a blob
 * cut short or longer than its descriptor, a config that is not what the manifest names,
 * redirects that never end, a 50 MB manifest, a manifest that is no JSON or not the pinned
 * one. Each pull must fail with exit 1 and a message that says what was wrong, where, and
 * what to do (no internal error, no stack trace), leave the root exactly as it was (every
 * path compared) with nothing in the store's tmp/, and succeed once the registry behaves.
 *
 * The server is integration/hostile-registry.ts (Debian's docker-registry checks what it
 * is given, so it cannot be made to lie). Budget: under 30 s (measured: see the note).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, examples, skipReason } from './harness.js';
import { type Fault, type HostileRegistry, startHostileRegistry } from './hostile-registry.js';
import { okIn, snapshot, storeDamage } from './store-state.js';

const skip = skipReason();

describe.skipIf(skip !== '')('pull from a registry that lies', () => {
  let registry: HostileRegistry;
  let root: string;

  beforeAll(async () => {
    registry = await startHostileRegistry(join(examples, 'busybox-base.tar'));
    root = mkdtempSync(join(tmpdir(), 'pilot-registry-bad-'));
    // A store that exists and holds something, so that "as before" means something.
    okIn(root, ['load', join(examples, 'hello-delta.tar')]);
  });

  afterAll(async () => {
    await registry?.close();
    if (root?.startsWith('/tmp/pilot-registry-bad-')) {
      rmSync(root, { recursive: true, force: true });
    }
  });

  /**
   * `pilot pull` run asynchronously: the registry answers from this very process, so a
   * synchronous spawn would stop it from answering.
   */
  const pull = (ref = registry.ref) =>
    new Promise<{ status: number; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [cli, 'pull', '--tls-verify=false', ref],
        { env: { ...process.env, PILOT_ROOT: root, NO_COLOR: '1' }, timeout: 60_000 },
        (error, _stdout, stderr) => {
          const code = (error as { code?: unknown } | null)?.code;
          resolve({ status: error ? (typeof code === 'number' ? code : -1) : 0, stderr });
        },
      );
    });

  const cases: { fault: Fault; says: RegExp; pin?: boolean }[] = [
    { fault: 'blob-digest', says: /digest/i },
    { fault: 'blob-truncated', says: /broke .* after \d+ of \d+ bytes/ },
    { fault: 'blob-longer', says: /(size|longer|more than|bytes)/i },
    { fault: 'config-digest', says: /digest/i },
    { fault: 'redirect-loop', says: /redirect/i },
    { fault: 'huge-manifest', says: /at most \d+ bytes/ },
    { fault: 'manifest-garbage', says: /(JSON|manifest)/i },
    { fault: 'manifest-digest', says: /digest/i, pin: true },
  ];

  for (const { fault, says, pin } of cases) {
    it(`${fault}: fails clearly and leaves the root as it was`, async () => {
      registry.setFault(fault);
      const before = snapshot(root);
      const started = Date.now();
      const ref = pin ? `${registry.ref.replace(/:1$/, '')}@${registry.manifestDigest}` : undefined;
      const r = await pull(ref);
      const took = Date.now() - started;
      expect(r.status, r.stderr).toBe(1);
      expect(r.stderr).toMatch(says);
      expect(r.stderr).toContain(registry.host);
      expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
      expect(r.stderr.length).toBeLessThan(4096);
      // A loop or a 50 MB body is cut off, not followed or read to its end.
      expect(took).toBeLessThan(20_000);
      expect(snapshot(root)).toEqual(before);
      expect(storeDamage(root)).toEqual([]);
      if (fault === 'redirect-loop') {
        const hops = registry.requests.filter((line) => line.includes('/blobs/')).length;
        expect(hops).toBeGreaterThan(1);
        expect(hops).toBeLessThan(40);
      }
    });
  }

  it('pulls the same image once the registry behaves, fetching each blob once', async () => {
    registry.setFault('none');
    const r = await pull();
    expect(r.status, r.stderr).toBe(0);
    const images = okIn(root, ['images']);
    expect(images).toContain(`${registry.host}/hostile/app`);
    for (const digest of [registry.configDigest, ...registry.layers]) {
      const asked = registry.requests.filter(
        (line) => line === `GET /v2/hostile/app/blobs/${digest}`,
      );
      expect(asked.length, digest).toBe(1);
    }
    expect(storeDamage(root)).toEqual([]);
    okIn(root, ['verify']);
  });
});
