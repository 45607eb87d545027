import { describe, expect, it } from 'vitest';
import { namedCallerOption, parseCallerArgs } from '../../src/core/caller-args.js';

const kept = { kept: true };
const oneShot = { kept: false };

describe('parseCallerArgs', () => {
  it.each([
    { args: [], instance: '', options: [], app: [] },
    { args: ['a', '', 'b c', 'ü'], instance: '', options: [], app: ['a', '', 'b c', 'ü'] },
    { args: ['@dev', 'x'], instance: 'dev', options: [], app: ['x'] },
    { args: ['x', '@dev'], instance: 'dev', options: [], app: ['x'] },
    {
      args: ['%remove', 'x', '%ignore_sync_error'],
      instance: '',
      options: ['remove', 'ignore_sync_error'],
      app: ['x'],
    },
    { args: ['@@mail', '%%50'], instance: '', options: [], app: ['@mail', '%50'] },
    { args: ['@', '%'], instance: '', options: [], app: ['@', '%'] },
    { args: ['a=b', 'user@host'], instance: '', options: [], app: ['a=b', 'user@host'] },
  ])('reads $args for a resume/attach flake', ({ args, instance, options, app }) => {
    const parsed = parseCallerArgs(args, kept);
    expect(parsed.instance).toBe(instance);
    expect([...parsed.options]).toEqual(options);
    expect(parsed.appArgs).toEqual(app);
  });

  it("passes a one-shot app's @… unchanged (curl -d @file), but still reads @@x as @x", () => {
    const parsed = parseCallerArgs(['-d', '@file', '@dev', '@@x', '@bad/name!'], oneShot);
    expect(parsed.instance).toBe('');
    expect(parsed.appArgs).toEqual(['-d', '@file', '@dev', '@x', '@bad/name!']);
  });

  it('passes every % argument but the named options unchanged (printf %s)', () => {
    const parsed = parseCallerArgs(['%s\\n', '%bogus', '%d', '%removed', '%Progress'], oneShot);
    expect(parsed.appArgs).toEqual(['%s\\n', '%bogus', '%d', '%removed', '%Progress']);
    expect(parsed.options.size).toBe(0);
    expect(parsed.hadPilotArgs).toBe(false);
  });

  it('takes the named options with a :value, split at the last ":" as flake-pilot does', () => {
    const parsed = parseCallerArgs(
      ['%progress:1', '%remove:', '%ignore_sync_error:a:b', '%interactive:yes', 'x'],
      kept,
    );
    expect([...parsed.options].sort()).toEqual(['interactive', 'progress', 'remove']);
    // "%ignore_sync_error:a" is the name there: no option of pilot's, so the app gets it.
    expect(parsed.appArgs).toEqual(['%ignore_sync_error:a:b', 'x']);
  });

  it('marks the arguments pilot took, so that such a call writes no fast plan', () => {
    expect(parseCallerArgs(['x', '%s', '@f'], oneShot).hadPilotArgs).toBe(false);
    expect(parseCallerArgs(['@@x'], oneShot).hadPilotArgs).toBe(true);
    expect(parseCallerArgs(['%progress:1'], oneShot).hadPilotArgs).toBe(true);
    expect(parseCallerArgs(['@dev'], kept).hadPilotArgs).toBe(true);
  });

  it.each([
    [['@bad/name'], /invalid instance name/],
    [[`@${'a'.repeat(65)}`], /invalid instance name/],
    [['@a', '@b'], /two instance names/],
  ])('refuses %j for a resume/attach flake', (args, message) => {
    expect(() => parseCallerArgs(args, kept)).toThrow(message);
  });

  it('quotes a short escaped excerpt of a long refused @ argument', () => {
    const arg = `@\x1b]0;${'x'.repeat(400)}`;
    expect(() => parseCallerArgs([arg], kept)).toThrow(/"@\\x1b\]0;x{60,80}…"$/);
  });
});

describe('namedCallerOption', () => {
  it.each([
    ['%remove', 'remove'],
    ['%progress:', 'progress'],
    ['%progress:x:', undefined],
    ['%ignore_missing_volume_path:true', 'ignore_missing_volume_path'],
    ['%%remove', undefined],
    ['remove', undefined],
    ['%', undefined],
    ['%:remove', undefined],
  ])('%s is %s', (arg, option) => {
    expect(namedCallerOption(arg)).toBe(option);
  });
});
