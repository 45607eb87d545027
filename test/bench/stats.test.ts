import { describe, expect, it } from 'vitest';
import { allTimes, pair, quantile, summarize } from '../../bench/stats.js';

describe('bench statistics', () => {
  it('quantiles interpolate between ranks', () => {
    expect(quantile([4, 1, 3, 2], 0.5)).toBe(2.5);
    expect(quantile([1, 2, 3, 4, 5], 0.25)).toBe(2);
    expect(quantile([7], 0.75)).toBe(7);
    expect(() => quantile([], 0.5)).toThrow(/no values/);
  });

  it('summarize gives median, middle half and extremes', () => {
    expect(summarize([5, 1, 4, 2, 3])).toEqual({
      runs: 5,
      median: 3,
      p25: 2,
      p75: 4,
      min: 1,
      max: 5,
    });
  });

  it('pairs two rows round by round, so a slow round slows both sides', () => {
    const rounds = [
      new Map([
        ['a', [2, 2, 9]],
        ['b', [1, 1, 1]],
      ]),
      // the whole machine twice as slow in this round
      new Map([
        ['a', [4, 4]],
        ['b', [2, 2]],
      ]),
      new Map([['a', [1]]]), // b did not run: no pair
    ];
    expect(pair(rounds, 'a', 'b', 'ratio')).toEqual({ median: 2, min: 2, max: 2, rounds: 2 });
    expect(pair(rounds, 'a', 'b', 'diff')).toEqual({ median: 1.5, min: 1, max: 2, rounds: 2 });
    expect(pair(rounds, 'a', 'missing', 'diff')).toBeUndefined();
    expect(allTimes(rounds, 'a')).toEqual([2, 2, 9, 4, 4, 1]);
  });
});
