/**
 * Linear, not quadratic: a check that does not depend on how fast the machine is. The
 * same work is timed at size n and at 8n (the best of a few runs each, so that one
 * pause of the machine does not count); linear work takes about 8 times as long,
 * quadratic work 64 times. The bound, 20, leaves room for noise and still catches the
 * quadratic case.
 */
import { expect } from 'vitest';

export const SCALE = 8;
export const MAX_RATIO = 20;

function bestOf(runs: number, work: () => void): number {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    work();
    best = Math.min(best, performance.now() - start);
  }
  return best;
}

/**
 * `prepare(n)` builds the input of size n (not timed) and returns the work to time.
 * Returns both times, for messages.
 */
export function expectLinear(
  prepare: (n: number) => () => void,
  n: number,
  runs = 3,
): { small: number; large: number } {
  const smallWork = prepare(n);
  const largeWork = prepare(n * SCALE);
  smallWork(); // warm up: the first run also compiles
  // At least a millisecond for the small case, so that timer resolution is not the ratio.
  const small = Math.max(1, bestOf(runs, smallWork));
  const large = bestOf(runs, largeWork);
  expect(
    large / small,
    `${n}: ${small.toFixed(1)} ms, ${n * SCALE}: ${large.toFixed(1)} ms`,
  ).toBeLessThan(MAX_RATIO);
  return { small, large };
}
