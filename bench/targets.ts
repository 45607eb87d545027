// targets.ts: what bench/results.md checks, each target read from named bench rows.
//
// A target compares two rows round by round (stats.ts `pair`: the median over the rounds
// of A/B or A−B, its spread the smallest and largest round) or holds one row's median
// against a limit. The row names are bench/run.sh's; a row that did not run makes its
// targets say "not measured", never a guess.

import { allTimes, median, type PairKind, pair, type RoundTimes } from './stats.js';
import { formatSeconds } from './svg-chart.js';

/** `note`: said after the figure (e.g. where a floor under the target is measured). */
export type Target =
  | {
      issue: string;
      text: string;
      kind: PairKind;
      a: string;
      b: string;
      limit: number;
      note?: string;
    }
  | { issue: string; text: string; kind: 'value'; a: string; limit: number; note?: string };

export interface TargetResult {
  issue: string;
  text: string;
  rows: string;
  figure: string;
  holds: 'yes' | 'no' | 'not measured';
}

export const TARGETS: readonly Target[] = [
  {
    issue: '7',
    text: 'pilot warm ≤ 0.6 × podman run',
    kind: 'ratio',
    a: 'pilot warm',
    b: 'podman run --rm',
    limit: 0.6,
  },
  {
    issue: '7',
    text: 'pilot warm ≤ 0.25 × flake-pilot flow',
    kind: 'ratio',
    a: 'pilot warm',
    b: 'flake-pilot flow',
    limit: 0.25,
  },
  {
    issue: '7',
    text: "pilot's own work ≤ 30 ms over node -e 0 (warm call through the Node launcher)",
    kind: 'diff',
    a: 'pilot warm, Node launcher',
    b: 'node -e 0',
    limit: 0.03,
  },
  {
    issue: '7',
    text: 'first launch, Debian base ≤ 1.2 × busybox base',
    kind: 'ratio',
    a: 'pilot first, Debian base',
    b: 'pilot first, busybox base',
    limit: 1.2,
  },
  { issue: '9', text: 'pilot warm ≤ 15 ms, root', kind: 'value', a: 'pilot warm', limit: 0.015 },
  {
    issue: '9',
    text: 'pilot warm ≤ 15 ms, nobody',
    kind: 'value',
    a: 'pilot warm, nobody',
    limit: 0.015,
  },
  {
    issue: '9',
    text: 'pilot warm ≤ 0.05 × podman run, root',
    kind: 'ratio',
    a: 'pilot warm',
    b: 'podman run --rm',
    limit: 0.05,
  },
  {
    issue: '9',
    text: 'pilot warm ≤ 0.05 × podman run, nobody',
    kind: 'ratio',
    a: 'pilot warm, nobody',
    b: 'podman run --rm',
    limit: 0.05,
  },
  {
    issue: '13',
    text: 'restricted warm call ≤ 3 ms over the plain one, root',
    kind: 'diff',
    a: 'pilot warm, restricted',
    b: 'pilot warm',
    limit: 0.003,
  },
  {
    issue: '13',
    text: '… the same, nobody',
    kind: 'diff',
    a: 'pilot warm, restricted, nobody',
    b: 'pilot warm, nobody',
    limit: 0.003,
  },
  {
    issue: '17',
    text: 'first call after register ≤ 2 × a warm call, root',
    kind: 'ratio',
    a: 'pilot first, busybox base',
    b: 'pilot warm',
    limit: 2,
  },
  {
    issue: '17',
    text: 'first call after register ≤ 2 × a warm call, nobody',
    kind: 'ratio',
    a: 'pilot first, busybox base, nobody',
    b: 'pilot warm, nobody',
    limit: 2,
  },
  {
    issue: '17',
    text: 'first call after a host package upgrade (dpkg -i) ≤ 2 × a warm call',
    kind: 'ratio',
    a: 'pilot first after package upgrade',
    b: 'pilot warm, host package',
    limit: 2,
  },
  {
    issue: '17',
    text: 'Node launcher (an `@@x` argument sends the call there) within 30 ms of node -e 0',
    kind: 'diff',
    a: 'pilot Node launcher, @@x argument',
    b: 'node -e 0',
    limit: 0.03,
  },
  {
    issue: '17',
    text: 'warm call within 1 ms of native, root',
    kind: 'diff',
    a: 'pilot warm',
    b: 'native',
    limit: 0.001,
    note: 'the floor of isolation (mount namespace, tmpfs, fresh upper, one overlay, chroot) is measured in “Warm call against native, paired” below',
  },
  {
    issue: '17',
    text: 'warm call within 3 ms of native, nobody',
    kind: 'diff',
    a: 'pilot warm, nobody',
    b: 'native, nobody',
    limit: 0.003,
    note: 'the floor of isolation (mount namespace, tmpfs, fresh upper, one overlay, chroot) is measured in “Warm call against native, paired” below',
  },
  {
    issue: '17',
    text: 'warm call with 5,000 host files within 2 ms of one with 10',
    kind: 'diff',
    a: 'pilot warm, 5000 host files',
    b: 'pilot warm, 10 host files',
    limit: 0.002,
  },
  {
    issue: '17',
    text: 'pilot load ≤ 1.25 × the physical limit (gzip -dc | tar -x, sync -f)',
    kind: 'ratio',
    a: 'pilot load',
    b: 'load limit',
    limit: 1.25,
  },
];

function spread(lo: number, hi: number, show: (v: number) => string): string {
  return `${show(lo)} … ${show(hi)}`;
}

const ratioText = (v: number) => v.toFixed(v < 0.1 ? 3 : 2);
const diffText = (v: number) => (v < 0 ? `−${formatSeconds(-v)}` : formatSeconds(v));

export function evaluateTarget(target: Target, rounds: readonly RoundTimes[]): TargetResult {
  const base = { issue: target.issue, text: target.text };
  if (target.kind === 'value') {
    const times = allTimes(rounds, target.a);
    const rows = `\`${target.a}\``;
    if (times.length === 0) return { ...base, rows, figure: '—', holds: 'not measured' };
    const m = median(times);
    return {
      ...base,
      rows,
      figure: `median ${formatSeconds(m)} (runs ${spread(Math.min(...times), Math.max(...times), formatSeconds)})`,
      holds: m <= target.limit ? 'yes' : 'no',
    };
  }
  const rows = `\`${target.a}\` ${target.kind === 'ratio' ? '/' : '−'} \`${target.b}\``;
  const p = pair(rounds, target.a, target.b, target.kind);
  if (!p) return { ...base, rows, figure: '—', holds: 'not measured' };
  const show = target.kind === 'ratio' ? ratioText : diffText;
  return {
    ...base,
    rows,
    figure: `${show(p.median)} (rounds ${spread(p.min, p.max, show)}, ${p.rounds} pairs)${target.note ? `; ${target.note}` : ''}`,
    holds: p.median <= target.limit ? 'yes' : 'no',
  };
}
