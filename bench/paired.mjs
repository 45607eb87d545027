#!/usr/bin/env node
// bench/paired.mjs: times two commands in turn (A B A B ..., the order of each pair
// swapped every other pair) and prints the median of each, the median of the paired
// differences A - B and their spread. Pairing cancels most of a drift in the machine's
// speed during the run; the spawn overhead of this script is the same on both sides and
// cancels in the difference.
//
//   node bench/paired.mjs [--runs N] [--warmup N] [--json FILE] NAME_A 'CMD A' NAME_B 'CMD B'
//
// A command is split at spaces (no shell); it must exit 0 with nothing on stderr.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

const args = process.argv.slice(2);
let runs = 200;
let warmup = 10;
let json;
while (args[0]?.startsWith('--')) {
  const flag = args.shift();
  const value = args.shift();
  if (flag === '--runs') runs = Number(value);
  else if (flag === '--warmup') warmup = Number(value);
  else if (flag === '--json') json = value;
  else usage(`unknown option ${flag}`);
}
if (args.length !== 4 || !(runs > 0) || !(warmup >= 0)) usage('two names and two commands');
const [nameA, cmdA, nameB, cmdB] = args;

function usage(why) {
  process.stderr.write(
    `paired.mjs: ${why}\nusage: paired.mjs [--runs N] [--warmup N] [--json FILE] NAME_A 'CMD A' NAME_B 'CMD B'\n`,
  );
  process.exit(2);
}

function timeOnce(command) {
  const [program, ...rest] = command.split(' ').filter((w) => w !== '');
  const start = process.hrtime.bigint();
  const r = spawnSync(program, rest, { stdio: ['ignore', 'ignore', 'pipe'] });
  const ns = process.hrtime.bigint() - start;
  if (r.status !== 0 || r.stderr.length > 0) {
    process.stderr.write(
      `paired.mjs: ${command} failed (exit ${r.status ?? r.signal}): ${r.stderr.toString()}\n`,
    );
    process.exit(1);
  }
  return Number(ns) / 1e6;
}

const quantile = (sorted, q) => {
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  return sorted[lo] + (sorted[Math.min(lo + 1, sorted.length - 1)] - sorted[lo]) * (at - lo);
};
const sorted = (xs) => [...xs].sort((x, y) => x - y);
const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

for (let i = 0; i < warmup; i++) {
  timeOnce(cmdA);
  timeOnce(cmdB);
}
const loadBefore = load();
const a = [];
const b = [];
for (let i = 0; i < runs; i++) {
  if (i % 2 === 0) {
    a.push(timeOnce(cmdA));
    b.push(timeOnce(cmdB));
  } else {
    b.push(timeOnce(cmdB));
    a.push(timeOnce(cmdA));
  }
}
const loadAfter = load();
const diff = sorted(a.map((x, k) => x - b[k]));
const sa = sorted(a);
const sb = sorted(b);
const f = (x) => x.toFixed(2);
const result = {
  a: nameA,
  b: nameB,
  runs,
  medianA: quantile(sa, 0.5),
  medianB: quantile(sb, 0.5),
  medianDiff: quantile(diff, 0.5),
  diffP25: quantile(diff, 0.25),
  diffP75: quantile(diff, 0.75),
  iqrA: quantile(sa, 0.75) - quantile(sa, 0.25),
  iqrB: quantile(sb, 0.75) - quantile(sb, 0.25),
  load: `${loadBefore} -> ${loadAfter}`,
};
process.stdout.write(
  `${nameA} − ${nameB}: median ${f(result.medianDiff)} ms (paired, IQR ${f(result.diffP25)} … ${f(result.diffP75)}); ` +
    `${nameA} ${f(result.medianA)} ms (IQR ${f(result.iqrA)}), ${nameB} ${f(result.medianB)} ms (IQR ${f(result.iqrB)}); ` +
    `${runs} pairs, load ${result.load}\n`,
);
if (json) writeFileSync(json, `${JSON.stringify(result)}\n`);
