import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeBytes, joinNul, splitNul } from '../../src/core/bytes.js';
import { dirIdentity } from '../../src/core/file-identity.js';
import {
  dropPlans,
  fastPlanWords,
  listPlans,
  mountDevOf,
  PLAN_MAGIC,
  planFile,
  readPlanRecords,
  stampOf,
  writeFastPlan,
} from '../../src/runtime/fast-plan.js';
import type { LaunchPlan } from '../../src/runtime/launch-plan.js';

const work = mkdtempSync(join(tmpdir(), 'pilot-fastplan-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const plan: LaunchPlan = {
  lowerdirBase: '/store',
  lowerdirs: ['host/abc', 'l/0123456789'],
  mnt: '/run/pilot/mnt',
  userns: false,
  composition: { kind: 'per-run' },
  binds: [
    { kind: 'rbind', source: '/proc', target: '/proc' },
    { kind: 'try-rbind', source: '/home/u', target: '/home/u', perCall: true },
    { kind: 'rbind-cwd', source: '/home/u/w', target: '/home/u/w', perCall: true },
    { kind: 'volume', source: '/data', target: '/home/u/data', extra: 'ro,nosuid', late: true },
    { kind: 'tmpfs', source: '', target: '/scratch', extra: 'size=1024', late: true },
  ],
  cwd: '/home/u/w',
  envOptions: ['--image-env', 'PATH=/usr/bin', '--setenv', 'A=1', '--pass-env', 'TOKEN'],
  isolation: ['--read-only'],
  homeBind: true,
  covered: ['/', '/usr'],
  workdir: undefined,
  command: { program: '/bin/tool', fixed: ['--flag'], defaults: ['default'] },
  program: '/bin/tool',
  args: ['--flag', 'x'],
};

describe('fastPlanWords', () => {
  it('writes the records in docs/plan.md order, with every word of the static command line', () => {
    const file = join(work, 'input');
    writeFileSync(file, 'x');
    const words = fastPlanWords(
      { ...plan, workdir: '/w' },
      {
        stamped: [file, file],
        mounts: [work],
        envdeps: new Map([
          ['HOME', '/home/u'],
          ['NOPE', undefined],
        ]),
        pidsDir: '/run/pilot/instances/x/pids',
        callers: 'all',
        accounts: { passwd: 'root:x:0:0::/root:/bin/sh\n', group: '' },
      },
    );
    expect(words).toEqual([
      ...['pilot-plan', '2'],
      ...['stamp', file, stampOf(file)],
      ...['mountdev', work, mountDevOf(work)],
      ...['envdep', 'HOME', '=/home/u'],
      ...['envdep', 'NOPE', '-'],
      ...['pidfile', '/run/pilot/instances/x/pids'],
      ...['callers', 'all'],
      ...['accounts', 'root:x:0:0::/root:/bin/sh\n', ''],
      ...['cover', '/', 'cover', '/usr'],
      ...['homebind', 'caller'],
      ...['opt', '--lowerdir-base', 'opt', '/store'],
      ...['opt', '--lowerdir', 'opt', 'host/abc:l/0123456789'],
      ...['opt', '--read-only'],
      ...['opt', '--image-env', 'opt', 'PATH=/usr/bin'],
      ...['opt', '--setenv', 'opt', 'A=1'],
      ...['opt', '--pass-env', 'opt', 'TOKEN'],
      ...['opt', '--rbind', 'opt', '/proc', 'opt', '/proc'],
      ...['late', '--volume', 'late', '/data', 'late', '/home/u/data', 'late', 'ro,nosuid'],
      ...['late', '--tmpfs', 'late', '/scratch', 'late', 'size=1024'],
      ...['workdir', '/w'],
      ...['program', '/bin/tool'],
      ...['fixed', '--flag'],
      ...['default', 'default'],
    ]);
    expect(words.slice(0, 2)).toEqual(PLAN_MAGIC);
  });

  it("keeps per-call parts (HOME, cwd, caller args and the caller's values) out of the plan", () => {
    const words = fastPlanWords(plan, { stamped: [], callers: 'all' });
    const joined = words.join(' ');
    // and the caller's own: its run dir's mount point, its user namespace
    expect(words).not.toContain('--mnt');
    expect(words).not.toContain('/run/pilot/mnt');
    expect(joined).not.toContain('/home/u /home/u');
    expect(joined).not.toContain('--rbind-cwd');
    expect(joined).not.toContain('/home/u/w');
    expect(words).not.toContain('x');
    expect(words).not.toContain('envdep');
    expect(words).not.toContain('passenv');
    expect(words).not.toContain('workdir');
    expect(words).not.toContain('pidfile');
  });

  it.each([
    ['set', 'VALUE', '=VALUE'],
    ['empty', '', '='],
    ['unset', undefined, '-'],
    ['holding = and a NUL-free newline', 'a=b\nc', '=a=b\nc'],
    ['a dash', '-', '=-'],
  ])('writes envdep NAME for a variable %s', (_name, value, word) => {
    const words = fastPlanWords(plan, {
      stamped: [],
      envdeps: new Map([['X', value]]),
      callers: 0,
    });
    expect(words.slice(2, 5)).toEqual(['envdep', 'X', word]);
  });

  it('writes homebind no when the app runs as another identity', () => {
    const words = fastPlanWords({ ...plan, homeBind: false }, { stamped: [], callers: 0 });
    const at = words.indexOf('homebind');
    expect(words.slice(at, at + 2)).toEqual(['homebind', 'no']);
    expect(words.filter((w) => w === 'homebind')).toHaveLength(1);
  });
});

describe('stampOf', () => {
  it('stamps dev, inode, size and mtime in nanoseconds, or - for a missing path', () => {
    const file = join(work, 'stamped');
    writeFileSync(file, 'abc');
    expect(stampOf(file)).toMatch(/^\d+:\d+:3:\d+$/);
    expect(stampOf(join(work, 'nope'))).toBe('-');
  });
});

describe('writeFastPlan', () => {
  it('writes the words as NUL-terminated bytes, a non-UTF-8 value byte for byte', () => {
    const run = join(work, 'bytes');
    // A caller's HOME of bytes 2f 68 2f 63 61 66 e9 ("/h/caf\xe9"), as core/bytes.ts decodes it.
    const home = decodeBytes(Buffer.from('/h/caf\xe9', 'latin1'));
    expect(home).toBe('/h/caf\udce9');
    const words = fastPlanWords(
      {
        ...plan,
        binds: [{ kind: 'volume', source: `${home}/d`, target: '/d', extra: 'rw', late: true }],
        envOptions: ['--setenv', `H=${home}`],
      },
      { stamped: [], envdeps: new Map([['HOME', home]]), callers: 1000 },
    );
    const file = writeFastPlan(run, 'tool', 1000, words);
    expect(file).toBe(planFile(run, 'tool', 1000));
    expect(file).toBe(join(run, 'plans', 'tool.u1000.plan'));

    const bytes = readFileSync(file);
    // Every word here is ASCII but for the escaped byte: latin1 gives each char as one byte.
    const expected = Buffer.concat(
      words.map((word) => Buffer.from(`${word.replaceAll('\udce9', '\xe9')}\0`, 'latin1')),
    );
    expect(bytes).toEqual(expected);
    expect(bytes.includes(Buffer.from('HOME\0=/h/caf\xe9\0', 'latin1'))).toBe(true);
    expect(bytes.includes(Buffer.from('\uFFFD'))).toBe(false);
    expect(bytes.at(-1)).toBe(0);
    expect(splitNul(bytes)).toEqual(words);
  });

  it('writes the plan 0644 in a plans dir only its owner may write', () => {
    const run = join(work, 'modes');
    mkdirSync(join(run, 'plans'), { recursive: true });
    chmodSync(join(run, 'plans'), 0o1777);
    const file = writeFastPlan(run, 'tool', 0, fastPlanWords(plan, { stamped: [], callers: 0 }));
    expect(statSync(file).mode & 0o7777).toBe(0o644);
    expect(statSync(join(run, 'plans')).mode & 0o7777).toBe(0o755);
  });

  it('leaves a plan that already says the same (same inode), replaces one that differs', () => {
    const run = join(work, 'same');
    const words = fastPlanWords(plan, { stamped: [], callers: 0 });
    const file = writeFastPlan(run, 'tool', 0, words);
    const first = statSync(file).ino;
    expect(writeFastPlan(run, 'tool', 0, words)).toBe(file);
    expect(statSync(file).ino).toBe(first);

    const other = fastPlanWords(
      { ...plan, command: { ...plan.command, program: '/bin/other' } },
      { stamped: [], callers: 0 },
    );
    expect(other).not.toEqual(words);
    writeFastPlan(run, 'tool', 0, other);
    expect(statSync(file).ino).not.toBe(first);
    expect(splitNul(readFileSync(file))).toEqual(other);
  });

  it('writes again a plan with the same words but not as it writes plans (mode, cut short)', () => {
    const run = join(work, 'same-bad');
    const words = fastPlanWords(plan, { stamped: [], callers: 0 });
    const file = writeFastPlan(run, 'tool', 0, words);
    chmodSync(file, 0o666);
    writeFastPlan(run, 'tool', 0, words);
    expect(statSync(file).mode & 0o7777).toBe(0o644);

    const whole = readFileSync(file);
    writeFileSync(file, whole.subarray(0, whole.length - 1), { mode: 0o644 });
    writeFastPlan(run, 'tool', 0, words);
    expect(readFileSync(file)).toEqual(whole);
  });
});

describe('fastPlanWords: host stamps', () => {
  it('writes stamps of its own for host files that need them, then a dirstamp per directory', () => {
    const file = join(work, 'input');
    writeFileSync(file, 'x');
    const copied = join(work, 'copied');
    const words = fastPlanWords(plan, {
      stamped: [file],
      callers: 0,
      host: {
        dirs: new Map([[work, '1:2:3:4']]),
        files: new Map<string, string | undefined>([
          [copied, '5:6:7:8'],
          [file, '9:9:9:9'],
        ]),
      },
    });
    expect(words.slice(0, 11)).toEqual([
      ...['pilot-plan', '2'],
      ...['stamp', file, stampOf(file)],
      ...['stamp', copied, '5:6:7:8'],
      ...['dirstamp', work, '1:2:3:4'],
    ]);
  });
});

describe('listPlans', () => {
  it('calls a plan stale whose dirstamp differs', () => {
    const run = join(work, 'dirstamp');
    const dir = join(work, 'dirstamp-host');
    mkdirSync(dir, { recursive: true });
    const words = (value: string) =>
      fastPlanWords(plan, {
        stamped: [],
        callers: 0,
        host: { dirs: new Map([[dir, value]]), files: new Map() },
      });
    writeFastPlan(run, 'tool', 0, words(dirIdentity(dir)));
    expect(listPlans(run)[0]!.stale).toBeUndefined();
    writeFastPlan(run, 'tool', 0, words('1:2:3:4'));
    expect(listPlans(run)[0]!.stale).toBe(dir);
  });

  it('lists plans with what made them stale, and drops them', () => {
    const run = join(work, 'run');
    const input = join(work, 'flake.yaml');
    writeFileSync(input, 'a');
    writeFastPlan(run, 'tool', 0, fastPlanWords(plan, { stamped: [input], callers: 'all' }));
    writeFastPlan(run, 'tool', 1000, fastPlanWords(plan, { stamped: [input], callers: 'all' }));
    expect(listPlans(run).map((p) => [p.app, p.uid, p.stale])).toEqual([
      ['tool', 0, undefined],
      ['tool', 1000, undefined],
    ]);
    expect(listPlans(run)[0]!.lowers).toEqual(['host/abc', 'l/0123456789']);
    const later = new Date(Date.now() + 10_000);
    utimesSync(input, later, later);
    expect(listPlans(run)[0]!.stale).toBe(input);
    dropPlans(run, 'tool');
    expect(listPlans(run)).toEqual([]);
  });

  it('steps over envdep records by their two words (the lower dirs stay found)', () => {
    const run = join(work, 'envdep');
    const input = join(work, 'envdep.yaml');
    writeFileSync(input, 'a');
    const words = fastPlanWords(plan, {
      stamped: [input],
      callers: 0,
      envdeps: new Map([
        ['HOME', '/home/u'],
        ['NOPE', undefined],
        ['ODD', 'x'],
      ]),
      pidsDir: '/run/pids',
    });
    writeFastPlan(run, 'tool', 0, words);
    const [listed] = listPlans(run);
    expect(listed!.stale).toBeUndefined();
    expect(listed!.lowers).toEqual(['host/abc', 'l/0123456789']);
  });

  it("finds a kept instance's root that is no longer the same mount", () => {
    const run = join(work, 'mounts');
    const words = fastPlanWords(plan, {
      stamped: [],
      mounts: [join(work, 'gone')],
      envdeps: new Map([['HOME', '/h']]),
      callers: 0,
    });
    // Written as '-' (missing); a directory there now is another mount.
    mkdirSync(join(work, 'gone'));
    writeFastPlan(run, 'tool', 0, words);
    expect(listPlans(run)[0]!.stale).toBe(join(work, 'gone'));
  });

  it('calls a plan stale that the stub would decline: cut short, unknown, no program', () => {
    const run = join(work, 'invalid');
    const input = join(work, 'invalid.yaml');
    writeFileSync(input, 'a');
    const good = joinNul(fastPlanWords(plan, { stamped: [input], callers: 'all' }));
    const staleOf = (bytes: Buffer) => {
      writeFastPlan(run, 'tool', 0, ['x']);
      writeFileSync(planFile(run, 'tool', 0), bytes);
      return listPlans(run)[0]!.stale;
    };
    expect(staleOf(good)).toBeUndefined();
    const because = (why: string) => `the plan itself (${why})`;
    // Cut inside its last word, or inside a stamp record that is all there is.
    expect(staleOf(good.subarray(0, -1))).toBe(because('truncated plan'));
    const cut = joinNul(['pilot-plan', '2', 'program', '/bin/x', 'stamp', input]);
    expect(staleOf(cut)).toBe(because('truncated plan: stamp'));
    expect(staleOf(joinNul(['pilot-plan', '1', 'program', '/bin/x']))).toBe(
      because('unknown plan format'),
    );
    expect(staleOf(joinNul(['pilot-plan', '2', 'passenv', 'X', 'program', '/bin/x']))).toBe(
      because('unknown plan record: passenv'),
    );
    expect(staleOf(joinNul(['pilot-plan', '2', 'homebind', 'maybe', 'program', '/x']))).toBe(
      because('unknown homebind: maybe'),
    );
    expect(staleOf(joinNul(['pilot-plan', '2', 'opt', '--mnt']))).toBe(
      because('plan has no program'),
    );
    expect(staleOf(joinNul(['pilot-plan', '2', 'program', '/x']))).toBe(
      because('plan has no callers'),
    );
    expect(staleOf(joinNul(['pilot-plan', '2', 'callers', 'me', 'program', '/x']))).toBe(
      because('unknown callers: me'),
    );
    const words = ['pilot-plan', '2', 'callers', '7', 'program', '/x', 'fixed', ''];
    expect(readPlanRecords(joinNul(words))).toEqual({
      records: [
        ['callers', '7'],
        ['program', '/x'],
        ['fixed', ''],
      ],
    });
  });

  it('skips files that are not plans', () => {
    const run = join(work, 'others');
    mkdirSync(join(run, 'plans'), { recursive: true });
    writeFileSync(join(run, 'plans', 'notes.txt'), 'x');
    writeFileSync(join(run, 'plans', 'tool.uX.plan'), 'x');
    expect(listPlans(run)).toEqual([]);
  });
});
