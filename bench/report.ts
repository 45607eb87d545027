// report.ts: writes bench/results.md and bench/results.svg from one `make bench` run.
//
//   node report.mjs INPUT.json RESULTS.md RESULTS.svg
//
// bench/run.sh bundles this file with esbuild into its work dir and hands it INPUT.json:
// the machine, the rows (name, what, group, chart kind), one hyperfine JSON file per group
// and round, the targets it checked itself (store size) and markdown sections to append.
// Both outputs are written beside their final names and renamed into place.

import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { allTimes, type RoundTimes, type Summary, summarize } from './stats.js';
import { type BarKind, type ChartRow, formatSeconds, renderChart } from './svg-chart.js';
import { evaluateTarget, TARGETS, type TargetResult } from './targets.js';

export interface ReportRow {
  name: string;
  what: string;
  group: string;
  kind: BarKind;
}

export interface ReportInput {
  date: string;
  seconds: number;
  machine: [string, string][];
  /** How the rounds were run (runs per round, warm-ups), one sentence or more. */
  method: string;
  rows: ReportRow[];
  rounds: { round: number; group: string; file: string; loadBefore: string; loadAfter: string }[];
  extraTargets: { issue: string; text: string; rows: string; figure: string; holds: boolean }[];
  sections: string[];
  svgName: string;
}

interface HyperfineJson {
  results: { command: string; times: number[] }[];
}

/** One map per round number: row name → its timed runs in that round (all groups). */
export function collectRounds(
  input: ReportInput,
  read: (file: string) => string = (f) => readFileSync(f, 'utf8'),
): RoundTimes[] {
  const byRound = new Map<number, Map<string, number[]>>();
  for (const r of input.rounds) {
    const json = JSON.parse(read(r.file)) as HyperfineJson;
    const round = byRound.get(r.round) ?? new Map<string, number[]>();
    byRound.set(r.round, round);
    for (const result of json.results) {
      round.set(result.command, [...(round.get(result.command) ?? []), ...result.times]);
    }
  }
  return [...byRound.entries()].sort((a, b) => a[0] - b[0]).map(([, m]) => m);
}

function times(s: Summary): string {
  return `| ${formatSeconds(s.median)} | ${formatSeconds(s.p25)} … ${formatSeconds(s.p75)} | ${formatSeconds(s.min)} … ${formatSeconds(s.max)} | ${s.runs} |`;
}

const cell = (text: string) => text.replace(/\|/g, '\\|');

export function summaries(input: ReportInput, rounds: readonly RoundTimes[]) {
  const out = new Map<string, Summary>();
  for (const row of input.rows) {
    const t = allTimes(rounds, row.name);
    if (t.length > 0) out.set(row.name, summarize(t));
  }
  return out;
}

export function renderMarkdown(input: ReportInput, rounds: readonly RoundTimes[]): string {
  const sums = summaries(input, rounds);
  const podman = sums.get('podman run --rm')?.median;
  const flake = sums.get('flake-pilot flow')?.median;
  const times100 = (v: number, ref: number | undefined) =>
    ref ? String(Math.round((v / ref) * 1000) / 1000) : '—';
  const lines: string[] = [];
  lines.push(
    '# pilot benchmark',
    '',
    `Written by \`make bench\` (bench/run.sh) on ${input.date}; took ${input.seconds}s.`,
    '',
    '| machine | |',
    '| --- | --- |',
    ...input.machine.map(([k, v]) => `| ${cell(k)} | ${cell(v)} |`),
    '',
    '## Launch time',
    '',
    `![latency per path, log scale](${input.svgName})`,
    '',
    input.method,
    '',
    '| round | group | load average before → after |',
    '| ---: | --- | --- |',
    ...input.rounds.map((r) => `| ${r.round} | ${r.group} | ${r.loadBefore} → ${r.loadAfter} |`),
    '',
    '| command | what | median | middle half (p25 … p75) | min … max | runs | × podman run | × flake-pilot flow |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  );
  for (const row of input.rows) {
    const s = sums.get(row.name);
    if (!s) {
      lines.push(`| ${cell(row.name)} | ${cell(row.what)} | not measured | | | 0 | | |`);
      continue;
    }
    lines.push(
      `| ${cell(row.name)} | ${cell(row.what)} ${times(s)} ${times100(s.median, podman)} | ${times100(s.median, flake)} |`,
    );
  }
  const results: TargetResult[] = TARGETS.map((t) => evaluateTarget(t, rounds));
  lines.push(
    '',
    '## Targets',
    '',
    'A comparison of two rows is paired by round: the figure is the median over the rounds of',
    "(A's median in the round) / or − (B's median in the same round), with the smallest and",
    'largest round beside it; a single row is its median over all runs. It holds when that',
    'median is within the limit.',
    '',
    '| issue | target | read from rows | figure | holds |',
    '| --- | --- | --- | --- | --- |',
    ...results.map(
      (r) =>
        `| ${r.issue} | ${cell(r.text)} | ${cell(r.rows)} | ${cell(r.figure)} | ${r.holds === 'not measured' ? r.holds : `**${r.holds}**`} |`,
    ),
    ...input.extraTargets.map(
      (t) =>
        `| ${t.issue} | ${cell(t.text)} | ${cell(t.rows)} | ${cell(t.figure)} | **${t.holds ? 'yes' : 'no'}** |`,
    ),
  );
  for (const section of input.sections) lines.push('', section.trimEnd());
  lines.push('');
  return lines.join('\n');
}

export function chartRows(input: ReportInput, rounds: readonly RoundTimes[]): ChartRow[] {
  const sums = summaries(input, rounds);
  return input.rows.flatMap((row) => {
    const s = sums.get(row.name);
    return s ? [{ name: row.name, kind: row.kind, ...s }] : [];
  });
}

export function renderSvg(input: ReportInput, rounds: readonly RoundTimes[]): string {
  const rows = chartRows(input, rounds);
  const marker = (label: string, name: string) => {
    const r = rows.find((x) => x.name === name);
    return r ? [{ label, value: r.median }] : [];
  };
  return renderChart({
    title: 'pilot: time per call, by path',
    subtitle: `make bench, ${input.date}; ${input.machine.find(([k]) => k.startsWith('CPUs'))?.[1] ?? ''}`,
    rows,
    markers: [...marker('native', 'native'), ...marker('podman run', 'podman run --rm')],
  });
}

function writeAtomically(path: string, text: string) {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

function main(argv: string[]) {
  const [inputPath, mdPath, svgPath] = argv;
  if (!inputPath || !mdPath || !svgPath) {
    process.stderr.write('usage: report.mjs INPUT.json RESULTS.md RESULTS.svg\n');
    process.exit(2);
  }
  const input = JSON.parse(readFileSync(inputPath, 'utf8')) as ReportInput;
  const rounds = collectRounds(input);
  writeAtomically(svgPath, renderSvg(input, rounds));
  writeAtomically(mdPath, renderMarkdown(input, rounds));
  const targets = TARGETS.map((t) => evaluateTarget(t, rounds));
  for (const t of targets) process.stdout.write(`${t.holds.padEnd(12)} ${t.text}: ${t.figure}\n`);
}

// Run only as the bundled script, not when a test imports this module.
if (process.argv[1]?.endsWith('report.mjs')) main(process.argv.slice(2));
