#!/usr/bin/env node
// bench/launcher-profile.mjs: where the Node launcher's start-up goes (issue 17).
//
//   PILOT_ROOT=ROOT node bench/launcher-profile.mjs APP [RUNS] [DIST]
//
// Runs DIST/pilot-launch.mjs (default dist/) RUNS times (default 9) for the registered
// APP under `node --cpu-prof`, as the stub hands a call over (PILOT_LAUNCH_AS), and
// prints, as medians over the runs: when the launcher's main() starts, when it spawns
// the exec helper and when the profile ends (ms since the profile started, which is
// during Node's own bootstrap); then the self time per file and per function, averaged,
// for the part before main() (loading) and the part from main() to the spawn (planning).
// The profiler slows everything down by about a third: compare runs of this script,
// not its figures with hyperfine's. --cpu-prof is a V8 flag, and V8 takes no code cache
// made under other flags: the runs keep theirs in a TMPDIR of their own, written by one
// run before the counted ones, so that they load as a launch with its cache does.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const [app, runsArg, distArg] = process.argv.slice(2);
if (!app || !process.env.PILOT_ROOT) {
  process.stderr.write('usage: PILOT_ROOT=ROOT node bench/launcher-profile.mjs APP [RUNS] [DIST]\n');
  process.exit(2);
}
const runs = Number(runsArg ?? 9);
const launcher = join(resolve(distArg ?? 'dist'), 'pilot-launch.mjs');
const out = mkdtempSync(join(tmpdir(), 'pilot-launcher-profile-'));

const cacheTmp = mkdtempSync(join(tmpdir(), 'pilot-launcher-profile-tmp-'));

try {
  for (let i = -1; i < runs; i++) {
    const run = spawnSync(
      process.execPath,
      ['--cpu-prof', '--cpu-prof-interval', '100', '--cpu-prof-dir', out, launcher],
      {
        env: { ...process.env, PILOT_LAUNCH_AS: app, TMPDIR: cacheTmp },
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    );
    if (run.status !== 0) throw new Error(`${launcher} for ${app} exited with ${run.status}`);
    if (i < 0) rmSync(out, { recursive: true, force: true });
  }
  report(readdirSync(out).map((f) => JSON.parse(readFileSync(join(out, f), 'utf8'))));
} finally {
  rmSync(out, { recursive: true, force: true });
  rmSync(cacheTmp, { recursive: true, force: true });
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1] ?? Number.NaN;
}

function report(profiles) {
  const marks = { main: [], spawn: [], end: [] };
  const self = [new Map(), new Map()];
  const selfFile = [new Map(), new Map()];
  for (const profile of profiles) {
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const parent = new Map();
    for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    const inside = (id, name) => {
      for (let at = id; at !== undefined; at = parent.get(at))
        if (byId.get(at).callFrame.functionName === name) return true;
      return false;
    };
    let t = 0;
    let phase = 0;
    for (let i = 0; i < profile.samples.length; i++) {
      const id = profile.samples[i];
      const dt = profile.timeDeltas[i] / 1000;
      t += dt;
      if (phase === 0 && inside(id, 'main')) {
        phase = 1;
        marks.main.push(t);
      }
      if (phase === 1 && inside(id, 'runHelper')) {
        phase = 2;
        marks.spawn.push(t);
      }
      if (phase > 1) continue;
      const frame = byId.get(id).callFrame;
      const file = (frame.url || `(${frame.functionName || 'native'})`).replace(/^.*\/dist\//, '');
      const fn = `${frame.functionName || '(anonymous)'} ${file}:${frame.lineNumber + 1}`;
      self[phase].set(fn, (self[phase].get(fn) ?? 0) + dt / profiles.length);
      selfFile[phase].set(file, (selfFile[phase].get(file) ?? 0) + dt / profiles.length);
    }
    marks.end.push((profile.endTime - profile.startTime) / 1000);
  }
  const ms = (v) => `${v.toFixed(1)} ms`;
  console.log(`${profiles.length} runs of ${launcher} for ${app}, medians since the profile started:`);
  for (const [name, values] of Object.entries(marks)) console.log(`  ${name.padEnd(6)} ${ms(median(values))}`);
  for (const [phase, title] of [
    [0, 'loading (before main)'],
    [1, 'planning (main until the helper is spawned)'],
  ]) {
    for (const [map, what] of [
      [selfFile[phase], 'file'],
      [self[phase], 'function'],
    ]) {
      const total = [...map.values()].reduce((a, b) => a + b, 0);
      console.log(`\n${title}: self time per ${what}, ${ms(total)} in all`);
      for (const [key, value] of [...map].sort((a, b) => b[1] - a[1]).slice(0, 15))
        console.log(`  ${value.toFixed(2).padStart(6)}  ${key}`);
    }
  }
}
