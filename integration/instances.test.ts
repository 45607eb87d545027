/**
 * Kept instances and concurrency: one-shot calls in parallel, resume state
 * between calls and per @NAME, racing first calls, a launcher killed mid-start,
 * and `stop --all` leaving no mount.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPidAlive } from '../src/core/owner.js';
import { mountsMatching, skipReason, TestRoot, watchOutput } from './harness.js';

const skip = skipReason();

function finished(
  child: ChildProcess,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => {
    stdout += d;
  });
  child.stderr?.on('data', (d) => {
    stderr += d;
  });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

/** Alive and not a zombie (an orphan's parent may be slow to reap it). */
function isRunning(pid: number): boolean {
  if (!isPidAlive(pid)) return false;
  try {
    return !/^\d+ \(.*\) Z/s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

describe.skipIf(skip !== '')('instances', () => {
  let root: TestRoot;
  const oneShot = '/usr/bin/pilot-test';
  const kept = '/usr/bin/kept';

  beforeAll(() => {
    root = new TestRoot('inst');
    root.load('busybox-base', 'hello-delta');
    const base = ['--container', 'pilot/hello-delta', '--base', 'pilot/busybox-base'];
    root.ok(['register', ...base, '--app', oneShot]);
    root.ok(['register', ...base, '--app', kept, '--target', '/usr/bin/pilot-test', '--resume']);
    root.ok([
      'register',
      ...base,
      '--app',
      '/usr/bin/shared',
      '--target',
      '/usr/bin/pilot-test',
      '--attach',
    ]);
  });
  afterAll(() => {
    root?.pilot(['stop', '--all']);
    root?.cleanup();
  });

  it('runs 20 one-shot calls in parallel, each correct and isolated', async () => {
    const writes = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        finished(
          spawn(root.link(oneShot), ['args', `call-${i}`], { env: root.env(), stdio: 'pipe' }),
        ),
      ),
    );
    writes.forEach((r, i) => {
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`[call-${i}]\n`);
    });
  });

  it('keeps resume state between calls, separately per @NAME', () => {
    expect(root.run(kept, ['write', '/var/lib/kept', 'default']).code).toBe(0);
    expect(root.run(kept, ['@dev', 'write', '/var/lib/kept', 'dev']).code).toBe(0);
    expect(root.run(kept, ['ls', '/var/lib/kept']).stdout).toBe('/var/lib/kept\n');
    expect(root.run(kept, ['cat'], { input: '' }).code).toBe(0);
    const read = (instance: string[]) => root.run(kept, [...instance, 'args', 'x']).stdout;
    expect(read([])).toBe('[x]\n');
    // `@dev` is not passed to the app, and the two instances hold their own file.
    expect(root.run(kept, ['@dev', 'args', '@@literal', '%%pct']).stdout).toBe(
      '[@literal]\n[%pct]\n',
    );
    const content = (instance: string[]) =>
      root.run(kept, [...instance, 'ls', '-l', '/var/lib/kept']).stdout.includes('/var/lib/kept');
    expect(content([])).toBe(true);
    expect(content(['@dev'])).toBe(true);
    expect(root.run(kept, ['@other', 'ls', '/var/lib/kept']).code).not.toBe(0);
    const ps = JSON.parse(root.ok(['ps', '--json']).stdout) as {
      app: string;
      name: string;
      state: string;
    }[];
    expect(
      ps
        .filter((i) => i.app === 'kept')
        .map((i) => i.name)
        .sort(),
    ).toEqual(['', 'dev', 'other']);
    for (const i of ps.filter((e) => e.app === 'kept'))
      expect(['idle', 'running']).toContain(i.state);
    // One-shot apps appear with their cached warm-path plan.
    expect(ps.find((e) => e.app === 'pilot-test')?.state).toBe('cached');
  });

  it('drops the instance after a %remove call', () => {
    expect(root.run(kept, ['@gone', 'write', '/var/lib/g']).code).toBe(0);
    expect(root.run(kept, ['@gone', '%remove', 'ls', '/var/lib/g']).code).toBe(0);
    expect(root.run(kept, ['@gone', 'ls', '/var/lib/g']).code).not.toBe(0);
  });

  it('passes an unknown %word to the app, takes a named option with a :value', () => {
    const r = root.run(kept, ['args', '%bogus', '%s', '%progress:1']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('[%bogus]\n[%s]\n');
    expect(r.stderr).toMatch(/^kept: using /m);
  });

  it('refuses a resume instance name it cannot use, naming it', () => {
    const r = root.run(kept, ['@bad/name', 'args']);
    expect(r.code).toBe(125);
    expect(r.stderr).toContain('invalid instance name "@bad/name"');
  });

  it('creates one instance when ten first calls race, and all succeed', async () => {
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        finished(
          spawn(root.link(kept), ['@race', 'args', String(i)], { env: root.env(), stdio: 'pipe' }),
        ),
      ),
    );
    results.forEach((r, i) => {
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe(`[${i}]\n`);
    });
    const ps = JSON.parse(root.ok(['ps', '--json']).stdout) as { app: string; name: string }[];
    expect(ps.filter((i) => i.name === 'race')).toHaveLength(1);
    expect(mountsMatching(`${root.dir}/run/pilot/instances/kept@race/private/root`)).toHaveLength(
      1,
    );
  });

  it('starts again after a launcher was killed with SIGKILL mid-start', async () => {
    for (const delay of [5, 40, 80, 150]) {
      const child = spawn(root.link(kept), [`@crash${delay}`, 'args', 'x'], {
        env: root.env(),
        stdio: 'ignore',
      });
      // Listen before waiting: a call that ends before the kill must not be missed.
      const closed = new Promise((r) => child.on('close', r));
      await new Promise((r) => setTimeout(r, delay));
      child.kill('SIGKILL');
      await closed;
      const again = root.run(kept, [`@crash${delay}`, 'args', 'again']);
      expect(again.stderr).toBe('');
      expect(again.stdout).toBe('[again]\n');
    }
  });

  it('keeps the app of a launcher killed with SIGKILL: ps shows it, stop ends it', async () => {
    // `@NAME` takes the Node launcher, whose child (the exec helper) becomes the app.
    const launcher = spawn(root.link(kept), ['@orphan', 'trap'], {
      env: root.env(),
      stdio: 'pipe',
    });
    const out = watchOutput(launcher);
    await out.until('ready');
    const gone = new Promise((r) => launcher.on('exit', r));
    launcher.kill('SIGKILL');
    await gone;
    const ps = JSON.parse(root.ok(['ps', '--json']).stdout) as {
      app: string;
      name: string;
      state: string;
      pids: number[];
    }[];
    const row = ps.find((i) => i.app === 'kept' && i.name === 'orphan');
    const appPids = row?.pids ?? [];
    try {
      expect(row?.state).toBe('running');
      expect(appPids).toHaveLength(1);
      expect(appPids[0]).not.toBe(launcher.pid);
      expect(isPidAlive(appPids[0]!)).toBe(true);
      root.ok(['stop', 'kept@orphan']);
      // The app was told to end (its trap prints) and is gone before stop returned.
      await Promise.race([out.until('got TERM'), new Promise((r) => setTimeout(r, 5000))]);
      expect(out.text).toContain('got TERM');
      expect(appPids.filter(isRunning)).toEqual([]);
      expect(mountsMatching(`${root.dir}/run/pilot/instances/kept@orphan/`)).toEqual([]);
    } finally {
      for (const pid of appPids.filter(isRunning)) process.kill(pid, 'SIGKILL');
    }
  });

  it('shares an attach instance while a call runs and drops it after the last', async () => {
    const running = spawn(root.link('/usr/bin/shared'), ['trap'], {
      env: root.env(),
      stdio: 'pipe',
    });
    const done = finished(running);
    await new Promise<void>((resolve) =>
      running.stdout?.on('data', (d) => String(d).includes('ready') && resolve()),
    );
    expect(root.run('/usr/bin/shared', ['write', '/var/lib/shared']).code).toBe(0);
    const ps = JSON.parse(root.ok(['ps', '--json']).stdout) as { app: string; state: string }[];
    expect(ps.find((i) => i.app === 'shared')?.state).toBe('running');
    running.kill('SIGTERM');
    expect((await done).code).toBe(42);
    expect(root.run('/usr/bin/shared', ['ls', '/var/lib/shared']).code).not.toBe(0);
  });

  it('stops everything and leaves no mount', () => {
    root.ok(['stop', '--all']);
    expect(JSON.parse(root.ok(['ps', '--json']).stdout)).toEqual([]);
    expect(mountsMatching(root.dir)).toEqual([]);
  });
});
