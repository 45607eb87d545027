import { describe, expect, it } from 'vitest';
import { parseCallerArgs } from '../../src/core/caller-args.js';

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
  ])('reads $args', ({ args, instance, options, app }) => {
    const parsed = parseCallerArgs(args);
    expect(parsed.instance).toBe(instance);
    expect([...parsed.options]).toEqual(options);
    expect(parsed.appArgs).toEqual(app);
  });

  it('marks pilot arguments so the fast path can step aside', () => {
    expect(parseCallerArgs(['x']).hadPilotArgs).toBe(false);
    expect(parseCallerArgs(['@@x']).hadPilotArgs).toBe(true);
  });

  it.each([
    [['%bogus'], /unknown launcher option "%bogus"/],
    [['@bad/name'], /invalid instance name/],
    [[`@${'a'.repeat(65)}`], /invalid instance name/],
    [['@a', '@b'], /two instance names/],
  ])('refuses %j', (args, message) => {
    expect(() => parseCallerArgs(args)).toThrow(message);
  });

  it.each([
    ['%'],
    ['@'],
  ])('quotes a short escaped excerpt of a long refused %s argument', (mark) => {
    const arg = `${mark}\x1b]0;${'x'.repeat(400)}`;
    expect(() => parseCallerArgs([arg])).toThrow(new RegExp(`"\\${mark}\\\\x1b\\]0;x{60,80}…"$`));
  });
});
