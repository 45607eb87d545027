/**
 * How many cases a property-based test runs. CI runs the given (bounded) number;
 * `make fuzz` sets PILOT_FUZZ_SCALE (e.g. 100) for a long run outside CI.
 */
export function fuzzRuns(base: number): number {
  const scale = Number(process.env.PILOT_FUZZ_SCALE ?? '1');
  return Number.isFinite(scale) && scale > 0 ? Math.ceil(base * scale) : base;
}
