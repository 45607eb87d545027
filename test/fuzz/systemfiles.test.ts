/**
 * `/systemfiles` is data: KIWI's shape (`set -e`, `rpm --noghost -ql PKG`, `rpm -ql PKG`,
 * `dpkg -L PKG`, comments) is read as package requests naming file:line; any other line
 * is a short PilotError naming file:line; nothing is ever run.
 */
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { PilotError } from '../../src/core/errors.js';
import { parseSystemFiles } from '../../src/runtime/host-packages.js';
import { fuzzRuns } from '../fuzz.js';
import { attempt, oddString } from './helpers.js';

const ran = vi.hoisted(() => [] as string[]);
vi.mock('node:child_process', () => {
  const refuse = (name: string) => (command: string) => {
    ran.push(`${name} ${command}`);
    throw new Error(`${name} must not run while /systemfiles is read`);
  };
  return {
    execFileSync: refuse('execFileSync'),
    execFile: refuse('execFile'),
    execSync: refuse('execSync'),
    exec: refuse('exec'),
    spawn: refuse('spawn'),
    spawnSync: refuse('spawnSync'),
  };
});

const SOURCE = '/systemfiles of image base:1';
const PACKAGE = /^[A-Za-z0-9][A-Za-z0-9_.+~-]*(?::[A-Za-z0-9_-]+)?$/;
const packageName = fc.stringMatching(/^[a-z0-9][a-z0-9.+-]{0,20}(:amd64)?$/);
const blank = fc.constantFrom('', ' ', '\t', '\r');
const comment = oddString(30).map((text) => `# ${text.replace(/\n/g, ' ')}`);

type Line = { text: string; names: string[] };
const documented: fc.Arbitrary<Line> = fc.oneof(
  fc.constant<Line>({ text: 'set -e', names: [] }),
  fc.oneof(blank, comment).map((text) => ({ text, names: [] })),
  fc
    .tuple(
      fc.constantFrom('rpm --noghost -ql', 'rpm -ql', 'dpkg -L', '  rpm  -ql'),
      fc.array(packageName, { minLength: 1, maxLength: 3 }),
    )
    .map(([query, names]) => ({ text: `${query} ${names.join(' ')}`, names })),
);

describe('/systemfiles under random input', () => {
  it("reads KIWI's shape as package requests, each naming its line", () => {
    fc.assert(
      fc.property(fc.array(documented, { maxLength: 15 }), (lines) => {
        const requests = parseSystemFiles(lines.map((l) => l.text).join('\n'), SOURCE);
        expect(requests).toEqual(
          lines.flatMap((line, index) =>
            line.names.map((name) => ({
              name,
              source: `${SOURCE}:${index + 1}`,
              dependencies: false,
            })),
          ),
        );
      }),
      { numRuns: fuzzRuns(300) },
    );
    expect(ran).toEqual([]);
  });

  it('refuses any other line with a short PilotError naming file:line, and runs nothing', () => {
    const shellish = fc
      .array(
        fc.oneof(
          packageName,
          fc.constantFrom('rpm', 'dpkg', '-ql', '-L', '--noghost', ';', '|', '$(id)', '`id`'),
          fc.constantFrom('&&', '>', '/etc/shadow', 'sh', '-e', 'set', '\\', '"', "'", '*'),
          oddString(12),
        ),
        { minLength: 1, maxLength: 6 },
      )
      .map((words) => words.join(' '));
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            documented.map((l) => l.text),
            shellish,
          ),
          { maxLength: 10 },
        ),
        (lines) => {
          const result = attempt(() => parseSystemFiles(lines.join('\n'), SOURCE));
          if (result instanceof PilotError) {
            expect(result.code).toBe('PILOT_IMAGE_INVALID');
            expect(result.message).toMatch(/^\/systemfiles of image base:1:\d+: .*never run/);
            expect(result.hint).toBeTruthy();
          } else {
            for (const request of result) expect(request.name).toMatch(PACKAGE);
            // Every line it accepted is one of the documented forms (or a comment or blank).
            const physical = lines.join('\n').split('\n');
            for (const request of result) {
              const line = Number(request.source.slice(SOURCE.length + 1));
              expect(physical[line - 1]!.trim().split(/\s+/).join(' ')).toMatch(
                /^(rpm( -ql| --noghost| -lq| -q| -l| --query| --list)+|dpkg(-query)? (-L|--listfiles))( [A-Za-z0-9][A-Za-z0-9_.+~:-]*)+$/,
              );
            }
          }
        },
      ),
      { numRuns: fuzzRuns(400) },
    );
    expect(ran).toEqual([]);
  });
});
