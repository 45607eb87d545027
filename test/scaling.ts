/**
 * Linear, not quadratic: a check that does not depend on how fast the machine is. The
 * same work is timed at size n and at 8n (the best of five interleaved runs each, so
 * that a pause or a busy spell of the machine does not count); linear work takes about
 * 8 times as long, quadratic work 64 times. The bound, 32, is half the quadratic ratio: it
 * still catches that, and leaves linear work room for garbage collection and the noise
 * of a loaded machine (other test files run beside these; 20 was crossed at 21.7).
 */
import { expect } from 'vitest';

export const SCALE = 8;
export const MAX_RATIO = 32;

/** The best of `runs` timings of `reps` calls of `work`. */
async function bestOf(runs: number, reps: number, work: () => unknown): Promise<number> {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    for (let r = 0; r < reps; r++) await work();
    best = Math.min(best, performance.now() - start);
  }
  return best;
}

/**
 * `prepare(n)` builds the input of size n (not timed) and returns the work to time (a
 * promise counts until it settles). The work is repeated until the small case takes
 * 10 ms or more, so that timer resolution is not what the ratio measures.
 */
export async function expectLinear(
  prepare: (n: number) => () => unknown,
  n: number,
  runs = 5,
): Promise<{ small: number; large: number }> {
  const smallWork = prepare(n);
  const largeWork = prepare(n * SCALE);
  await smallWork(); // warm up: the first run also compiles
  let reps = 1;
  while (reps < 1000 && (await bestOf(1, reps, smallWork)) < 10) reps *= 2;
  // Interleaved, so that a busy spell of the machine (other test files run in parallel
  // workers) falls on both sizes alike; the best of each is what counts.
  let small = Number.POSITIVE_INFINITY;
  let large = Number.POSITIVE_INFINITY;
  for (let i = 0; i < runs; i++) {
    small = Math.min(small, await bestOf(1, reps, smallWork));
    large = Math.min(large, await bestOf(1, reps, largeWork));
  }
  expect(
    large / small,
    `${n}: ${small.toFixed(1)} ms, ${n * SCALE}: ${large.toFixed(1)} ms (${reps} calls each)`,
  ).toBeLessThan(MAX_RATIO);
  return { small, large };
}
