// svg-chart.ts: bench/results.svg, written by hand (no network, no dependency).
//
// One horizontal bar per bench row, its length the row's median on a log scale (the rows
// span 1 ms to seconds: on a linear scale every fast path would be an invisible sliver),
// a thin line over the bar from its fastest to its slowest run and a thicker one over the
// middle half (p25…p75), and dashed vertical lines at the marked rows (native, podman
// run), so that the gap between a path and those two reads at a glance.

export type BarKind = 'reference' | 'fast' | 'node' | 'first' | 'load';

export interface ChartRow {
  name: string;
  kind: BarKind;
  /** Seconds. */
  median: number;
  p25: number;
  p75: number;
  min: number;
  max: number;
}

export interface ChartMarker {
  label: string;
  /** Seconds. */
  value: number;
}

export interface Chart {
  title: string;
  subtitle: string;
  rows: readonly ChartRow[];
  markers: readonly ChartMarker[];
}

const COLOURS: Record<BarKind, string> = {
  reference: '#8c8c8c',
  fast: '#2e8b57',
  node: '#e08a1e',
  first: '#c0392b',
  load: '#3a6ea5',
};
const LEGEND: Record<BarKind, string> = {
  reference: 'native, Node, podman, flake-pilot',
  fast: 'pilot: exec stub (warm)',
  node: 'pilot: Node launcher',
  first: 'pilot: first call',
  load: 'loading an image',
};

const WIDTH = 960;
const LABEL_WIDTH = 300;
const RIGHT_PAD = 70;
const ROW_HEIGHT = 22;
const BAR_HEIGHT = 14;
const TOP = 78;
const AXIS_HEIGHT = 40;
const LEGEND_HEIGHT = 28;

/** The decades (powers of ten, in seconds) that hold every value, at least one wide. */
export function decadeDomain(values: readonly number[]): [number, number] {
  const positive = values.filter((v) => v > 0 && Number.isFinite(v));
  if (positive.length === 0) return [1e-3, 1];
  const low = Math.floor(Math.log10(Math.min(...positive)));
  const high = Math.max(Math.ceil(Math.log10(Math.max(...positive))), low + 1);
  return [decade(low), decade(high)];
}

/** 10^k exactly as written (10 ** -4 is 0.00009999999999999999 in IEEE doubles). */
function decade(k: number): number {
  return Number(`1e${k}`);
}

/** Where VALUE lies between LEFT and RIGHT on a log scale over DOMAIN (clamped to it). */
export function logPosition(
  value: number,
  domain: readonly [number, number],
  left: number,
  right: number,
): number {
  const [low, high] = domain;
  const clamped = Math.min(Math.max(value, low), high);
  const t = (Math.log10(clamped) - Math.log10(low)) / (Math.log10(high) - Math.log10(low));
  return left + t * (right - left);
}

export function formatSeconds(s: number): string {
  const ms = s * 1000;
  if (ms >= 1000) return `${trim(s, s < 10 ? 2 : 1)} s`;
  if (ms >= 100) return `${Math.round(ms)} ms`;
  if (ms >= 10) return `${trim(ms, 1)} ms`;
  return `${trim(ms, 2)} ms`;
}

function trim(v: number, digits: number): string {
  return String(Number(v.toFixed(digits)));
}

export function escapeXml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

const r1 = (v: number) => Math.round(v * 10) / 10;

export function renderChart(chart: Chart): string {
  const domain = decadeDomain(chart.rows.flatMap((r) => [r.min, r.max, r.median]));
  const left = LABEL_WIDTH;
  const right = WIDTH - RIGHT_PAD;
  const x = (v: number) => r1(logPosition(v, domain, left, right));
  const plotBottom = TOP + chart.rows.length * ROW_HEIGHT;
  const height = plotBottom + AXIS_HEIGHT + LEGEND_HEIGHT + 10;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="12" data-log-domain="${domain[0]} ${domain[1]}">`,
    `<rect x="0" y="0" width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    `<text x="12" y="22" font-size="16" font-weight="bold">${escapeXml(chart.title)}</text>`,
    `<text x="12" y="42" fill="#555555">${escapeXml(chart.subtitle)}</text>`,
  );

  // decade grid and axis labels
  const [k0, k1] = domain.map((d) => Math.round(Math.log10(d)));
  for (let k = k0!; k <= k1!; k++) {
    const d = decade(k);
    const gx = x(d);
    out.push(
      `<line class="grid" x1="${gx}" y1="${TOP - 6}" x2="${gx}" y2="${plotBottom}" stroke="#dddddd"/>`,
      `<text x="${gx}" y="${plotBottom + 16}" text-anchor="middle" fill="#333333">${escapeXml(formatSeconds(d))}</text>`,
    );
  }
  out.push(
    `<text x="${WIDTH / 2}" y="${plotBottom + 34}" text-anchor="middle" fill="#333333">median time per call (per load for the load rows), log scale (bar: median; thick line: middle half of the runs; thin line: fastest to slowest)</text>`,
  );

  chart.rows.forEach((row, i) => {
    const y = TOP + i * ROW_HEIGHT;
    const mid = r1(y + ROW_HEIGHT / 2);
    const colour = COLOURS[row.kind];
    const end = x(row.median);
    out.push(
      `<g class="row" data-name="${escapeXml(row.name)}">`,
      `<text x="${left - 8}" y="${mid + 4}" text-anchor="end">${escapeXml(row.name)}</text>`,
      `<rect class="bar" x="${left}" y="${r1(y + (ROW_HEIGHT - BAR_HEIGHT) / 2)}" width="${r1(end - left)}" height="${BAR_HEIGHT}" fill="${colour}" fill-opacity="0.85" data-median="${row.median}"/>`,
      `<line class="range" x1="${x(row.min)}" y1="${mid}" x2="${x(row.max)}" y2="${mid}" stroke="#222222" stroke-width="1"/>`,
      `<line class="iqr" x1="${x(row.p25)}" y1="${mid}" x2="${x(row.p75)}" y2="${mid}" stroke="#222222" stroke-width="3"/>`,
      `<text x="${Math.max(end, x(row.max)) + 6}" y="${mid + 4}" fill="#333333">${escapeXml(formatSeconds(row.median))}</text>`,
      '</g>',
    );
  });

  for (const m of chart.markers) {
    const mx = x(m.value);
    out.push(
      `<line class="marker" x1="${mx}" y1="${TOP - 10}" x2="${mx}" y2="${plotBottom}" stroke="#000000" stroke-dasharray="5,3" data-value="${m.value}"/>`,
      `<text x="${mx}" y="${TOP - 14}" text-anchor="middle" font-weight="bold">${escapeXml(`${m.label} ${formatSeconds(m.value)}`)}</text>`,
    );
  }

  const kinds = [...new Set(chart.rows.map((r) => r.kind))];
  let lx = 12;
  const ly = plotBottom + AXIS_HEIGHT + 14;
  for (const kind of kinds) {
    out.push(
      `<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${COLOURS[kind]}"/>`,
      `<text x="${lx + 16}" y="${ly}">${escapeXml(LEGEND[kind])}</text>`,
    );
    lx += 30 + LEGEND[kind].length * 6.5;
  }
  out.push('</svg>', '');
  return out.join('\n');
}
