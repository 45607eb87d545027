import { describe, expect, it } from 'vitest';
import { escapeName } from '../../src/core/excerpt.js';

describe('escapeName', () => {
  it.each([
    ['plain-name@dev', 'plain-name@dev'],
    ['a\x1b[2Jb', 'a\\x1b[2Jb'],
    ['row\nfake  running', 'row\\x0afake  running'],
    ['c1\x9b', 'c1\\u009b'],
    ['bidi\u202eevil', 'bidi\\u202eevil'],
    ['emoji 😀', 'emoji 😀'],
    ['back\\slash', 'back\\\\slash'],
    ['ü', 'ü'],
  ])('%j → %j', (name, printed) => {
    expect(escapeName(name)).toBe(printed);
  });
});
