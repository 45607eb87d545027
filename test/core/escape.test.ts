import { describe, expect, it } from 'vitest';
import { escapeControl } from '../../src/core/escape.js';

describe('escapeControl', () => {
  it.each([
    ['plain-name@dev', 'plain-name@dev'],
    ['a\x1b[2Jb', 'a\\x1b[2Jb'],
    ['row\nfake  running', 'row\\x0afake  running'],
    ['c1\x9b', 'c1\\x9b'],
    ['back\\slash', 'back\\\\slash'],
    ['ü', 'ü'],
  ])('%j → %j', (name, printed) => {
    expect(escapeControl(name)).toBe(printed);
  });
});
