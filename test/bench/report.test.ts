import { describe, expect, it } from 'vitest';
import { collectRounds, type ReportInput, renderMarkdown, renderSvg } from '../../bench/report.js';
import { TARGETS } from '../../bench/targets.js';

const hyperfine = (results: Record<string, number[]>) =>
  JSON.stringify({
    results: Object.entries(results).map(([command, times]) => ({ command, times })),
  });

const files: Record<string, string> = {
  'r1-warm.json': hyperfine({ native: [0.001, 0.001], 'pilot warm': [0.002, 0.003] }),
  'r1-cold.json': hyperfine({ 'podman run --rm': [0.15], 'pilot first, busybox base': [0.14] }),
  'r2-warm.json': hyperfine({ native: [0.002], 'pilot warm': [0.004] }),
  'r2-cold.json': hyperfine({ 'podman run --rm': [0.3], 'pilot first, busybox base': [0.28] }),
};

const input: ReportInput = {
  date: '2026-01-01 00:00 UTC',
  seconds: 99,
  machine: [['CPUs (nproc)', '2 × test']],
  method: 'two rounds',
  rows: [
    { name: 'native', what: 'the script', group: 'warm', kind: 'reference' },
    { name: 'pilot warm', what: 'the stub | cached plan', group: 'warm', kind: 'fast' },
    { name: 'pilot first, busybox base', what: 'first', group: 'cold', kind: 'first' },
    { name: 'podman run --rm', what: 'podman', group: 'cold', kind: 'reference' },
    { name: 'pilot load', what: 'never ran', group: 'load', kind: 'load' },
  ],
  rounds: Object.keys(files).map((file) => ({
    round: Number(file[1]),
    group: file.slice(3, 7),
    file,
    loadBefore: '0.1',
    loadAfter: '0.2',
  })),
  extraTargets: [{ issue: '7', text: 'store', rows: 'store size', figure: '1 MiB', holds: true }],
  sections: ['## Extra\n\ntext\n'],
  svgName: 'results.svg',
};
const read = (f: string) => files[f]!;

describe('bench report', () => {
  const rounds = collectRounds(input, read);

  it('merges the groups of one round and keeps the rounds apart', () => {
    expect(rounds).toHaveLength(2);
    expect(rounds[0]!.get('pilot warm')).toEqual([0.002, 0.003]);
    expect(rounds[1]!.get('podman run --rm')).toEqual([0.3]);
  });

  it('names, for every target, the rows it is read from, the figure and whether it holds', () => {
    const md = renderMarkdown(input, rounds);
    for (const t of TARGETS)
      expect(md).toContain(`| ${t.issue} | ${t.text.replace(/\|/g, '\\|')} |`);
    // pilot warm / podman run, per round: 0.0025/0.15 and 0.004/0.3
    expect(md).toMatch(
      /\| `pilot warm` \/ `podman run --rm` \| 0\.015 \(rounds 0\.013 … 0\.017, 2 pairs\) \| \*\*yes\*\* \|/,
    );
    // first / warm: 0.14/0.0025 = 56 and 0.28/0.004 = 70: fails today
    expect(md).toMatch(/`pilot first, busybox base` \/ `pilot warm` \| 63\.00 .*\| \*\*no\*\* \|/);
    expect(md).toMatch(/within 1 ms of native, root \| `pilot warm` − `native` \| 1\.75 ms/);
    expect(md).toMatch(/pilot load ≤ 1\.25 .* \| — \| not measured \|/);
    expect(md).toContain('| pilot load | never ran | not measured |');
    expect(md).toContain('the stub \\| cached plan');
    expect(md).toContain('![latency per path, log scale](results.svg)');
    expect(md).toContain('| 7 | store | store size | 1 MiB | **yes** |');
    expect(md).toContain('## Extra');
  });

  it('draws a bar for every row that ran, with the native and podman lines', () => {
    const svg = renderSvg(input, rounds);
    expect(svg.match(/class="bar"/g)).toHaveLength(4);
    expect(svg.match(/class="marker"/g)).toHaveLength(2);
    expect(svg).toContain('>native 1 ms<'); // median of 1, 1, 2 ms
    expect(svg).toContain('>podman run 225 ms<');
  });
});
