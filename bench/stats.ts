// stats.ts: the figures bench/report.ts prints, from hyperfine's per-run times.
//
// The bench runs every row in rounds (bench/run.sh): one hyperfine call per group and
// round, so that a comparison of two rows pairs their runs of the same round, taken
// seconds apart, and a machine that slows down for a while slows both sides of a pair.
// A row is summed up over all its runs (median, quartiles, extremes); a comparison of two
// rows is the median over the rounds of (median of A in the round) op (median of B in
// the same round), with the smallest and largest round beside it as its spread.

/** Seconds of every timed run of one row in one round. */
export type RoundTimes = ReadonlyMap<string, readonly number[]>;

export interface Summary {
  runs: number;
  median: number;
  p25: number;
  p75: number;
  min: number;
  max: number;
}

export interface Paired {
  /** Median over the rounds of the per-round value. */
  median: number;
  min: number;
  max: number;
  /** Rounds in which both rows ran. */
  rounds: number;
}

export type PairKind = 'ratio' | 'diff';

/** Linear interpolation between the closest ranks (R's type 7, NumPy's default). */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) throw new Error('quantile of no values');
  if (!(q >= 0 && q <= 1)) throw new Error(`quantile ${q} is not within 0…1`);
  const sorted = [...values].sort((a, b) => a - b);
  const at = (sorted.length - 1) * q;
  const low = Math.floor(at);
  const high = Math.ceil(at);
  return sorted[low]! + (sorted[high]! - sorted[low]!) * (at - low);
}

export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

export function summarize(values: readonly number[]): Summary {
  if (values.length === 0) throw new Error('summary of no values');
  return {
    runs: values.length,
    median: median(values),
    p25: quantile(values, 0.25),
    p75: quantile(values, 0.75),
    min: Math.min(...values),
    max: Math.max(...values),
  };
}

/** Every run of a row over all rounds, in round order. */
export function allTimes(rounds: readonly RoundTimes[], row: string): number[] {
  return rounds.flatMap((round) => [...(round.get(row) ?? [])]);
}

/** A compared with B round by round: A/B or A−B of the two medians of each round. */
export function pair(
  rounds: readonly RoundTimes[],
  a: string,
  b: string,
  kind: PairKind,
): Paired | undefined {
  const values: number[] = [];
  for (const round of rounds) {
    const ta = round.get(a);
    const tb = round.get(b);
    if (!ta?.length || !tb?.length) continue;
    const ma = median(ta);
    const mb = median(tb);
    values.push(kind === 'ratio' ? ma / mb : ma - mb);
  }
  if (values.length === 0) return undefined;
  return {
    median: median(values),
    min: Math.min(...values),
    max: Math.max(...values),
    rounds: values.length,
  };
}
