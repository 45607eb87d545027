import { describe, expect, it } from 'vitest';
import {
  type ChartRow,
  decadeDomain,
  escapeXml,
  formatSeconds,
  logPosition,
  renderChart,
} from '../../bench/svg-chart.js';

interface Element {
  name: string;
  attrs: Record<string, string>;
  children: Element[];
  text: string;
}

/**
 * A strict reader for the XML subset an SVG writer emits (elements, attributes in double
 * quotes, text, the five predefined entities): it throws on anything not well-formed, so
 * the test holds the writer to XML without a parser dependency.
 */
function parseXml(xml: string): Element {
  const root: Element = { name: '#document', attrs: {}, children: [], text: '' };
  const stack: Element[] = [root];
  const name = /^[A-Za-z_][\w.:-]*/;
  const checkText = (t: string) => {
    const bad = t.replace(/&(amp|lt|gt|quot|apos);/g, '');
    if (/[<&]/.test(bad)) throw new Error(`bad character data: ${t}`);
  };
  let i = 0;
  while (i < xml.length) {
    if (xml[i] !== '<') {
      const next = xml.indexOf('<', i);
      const text = xml.slice(i, next === -1 ? xml.length : next);
      checkText(text);
      if (text.trim() && stack.length === 1) throw new Error('text outside the root element');
      stack.at(-1)!.text += text;
      i = next === -1 ? xml.length : next;
      continue;
    }
    if (xml.startsWith('</', i)) {
      const m = name.exec(xml.slice(i + 2));
      if (!m) throw new Error(`bad end tag at ${i}`);
      const open = stack.pop();
      if (!open || open.name !== m[0]) throw new Error(`</${m[0]}> closes <${open?.name}>`);
      i += 2 + m[0].length;
      if (xml[i] !== '>') throw new Error(`bad end tag ${m[0]}`);
      i++;
      continue;
    }
    const m = name.exec(xml.slice(i + 1));
    if (!m) throw new Error(`bad start tag at ${i}`);
    const el: Element = { name: m[0], attrs: {}, children: [], text: '' };
    i += 1 + m[0].length;
    for (;;) {
      const ws = /^\s*/.exec(xml.slice(i))![0];
      i += ws.length;
      if (xml.startsWith('/>', i)) {
        i += 2;
        stack.at(-1)!.children.push(el);
        break;
      }
      if (xml[i] === '>') {
        i++;
        stack.at(-1)!.children.push(el);
        stack.push(el);
        break;
      }
      if (!ws) throw new Error(`no space before an attribute of <${el.name}>`);
      const a = /^([A-Za-z_][\w.:-]*)="([^"]*)"/.exec(xml.slice(i));
      if (!a) throw new Error(`bad attribute in <${el.name}>: ${xml.slice(i, i + 30)}`);
      if (a[1]! in el.attrs) throw new Error(`attribute ${a[1]} twice in <${el.name}>`);
      checkText(a[2]!);
      el.attrs[a[1]!] = a[2]!;
      i += a[0].length;
    }
  }
  if (stack.length !== 1) throw new Error(`<${stack.at(-1)!.name}> is not closed`);
  if (root.children.length !== 1) throw new Error('not exactly one root element');
  return root.children[0]!;
}

function all(el: Element, pred: (e: Element) => boolean): Element[] {
  return [...(pred(el) ? [el] : []), ...el.children.flatMap((c) => all(c, pred))];
}

const row = (name: string, median: number, kind: ChartRow['kind'] = 'fast'): ChartRow => ({
  name,
  kind,
  median,
  p25: median * 0.9,
  p75: median * 1.1,
  min: median * 0.8,
  max: median * 1.3,
});

describe('the bench chart (bench/results.svg)', () => {
  const rows = [
    row('native', 0.001, 'reference'),
    row('pilot warm', 0.01),
    row('pilot first <&> "quoted"', 0.1, 'first'),
    row('podman run --rm', 1, 'reference'),
  ];
  const svg = renderChart({
    title: 'a & b',
    subtitle: 'x < y',
    rows,
    markers: [
      { label: 'native', value: 0.001 },
      { label: 'podman run', value: 1 },
    ],
  });
  const doc = parseXml(svg);

  it('is well-formed XML with an svg root in the SVG namespace', () => {
    expect(doc.name).toBe('svg');
    expect(doc.attrs.xmlns).toBe('http://www.w3.org/2000/svg');
    expect(() => parseXml('<svg><g></svg>')).toThrow(/closes/);
    expect(() => parseXml('<svg a="1" a="2"/>')).toThrow(/twice/);
    expect(() => parseXml('<svg><text>a < b</text></svg>')).toThrow();
  });

  it('draws one bar per row, each labelled with its name (escaped)', () => {
    const bars = all(doc, (e) => e.name === 'rect' && e.attrs.class === 'bar');
    expect(bars).toHaveLength(rows.length);
    const groups = all(doc, (e) => e.name === 'g' && e.attrs.class === 'row');
    expect(groups.map((g) => g.attrs['data-name'])).toEqual(rows.map((r) => escapeXml(r.name)));
    expect(svg).toContain('pilot first &lt;&amp;&gt; &quot;quoted&quot;');
  });

  it('puts bar ends on a log scale: equal steps for each factor of ten', () => {
    const bars = all(doc, (e) => e.name === 'rect' && e.attrs.class === 'bar');
    const ends = bars.map((b) => Number(b.attrs.x) + Number(b.attrs.width));
    const steps = ends.slice(1).map((e, k) => e - ends[k]!);
    for (const s of steps) expect(s).toBeCloseTo(steps[0]!, 0);
    expect(steps[0]!).toBeGreaterThan(50);
  });

  it('marks the native and podman lines at their values', () => {
    const markers = all(doc, (e) => e.name === 'line' && e.attrs.class === 'marker');
    expect(markers).toHaveLength(2);
    const bars = all(doc, (e) => e.name === 'rect' && e.attrs.class === 'bar');
    const end = (b: Element) => Number(b.attrs.x) + Number(b.attrs.width);
    expect(Number(markers[0]!.attrs.x1)).toBeCloseTo(end(bars[0]!), 0);
    expect(Number(markers[1]!.attrs.x1)).toBeCloseTo(end(bars[3]!), 0);
  });

  it('has a grid line per decade the values span', () => {
    const grid = all(doc, (e) => e.name === 'line' && e.attrs.class === 'grid');
    // min 0.8 ms … max 1.3 s: 0.1 ms … 10 s
    expect(doc.attrs['data-log-domain']).toBe('0.0001 10');
    expect(grid).toHaveLength(6);
  });
});

describe('log scale helpers', () => {
  it('logPosition maps decades linearly and clamps to the domain', () => {
    const d: [number, number] = [0.001, 1];
    expect(logPosition(0.001, d, 0, 300)).toBeCloseTo(0);
    expect(logPosition(0.01, d, 0, 300)).toBeCloseTo(100);
    expect(logPosition(0.1, d, 0, 300)).toBeCloseTo(200);
    expect(logPosition(1, d, 0, 300)).toBeCloseTo(300);
    expect(logPosition(Math.sqrt(0.1 * 0.01), d, 0, 300)).toBeCloseTo(150);
    expect(logPosition(5, d, 0, 300)).toBe(300);
    expect(logPosition(0, d, 0, 300)).toBe(0);
  });

  it('decadeDomain covers the values with whole decades', () => {
    expect(decadeDomain([0.0019, 0.15])).toEqual([0.001, 1]);
    expect(decadeDomain([0.01])).toEqual([0.01, 0.1]);
    expect(decadeDomain([])).toEqual([0.001, 1]);
  });

  it('formatSeconds reads as a person would write it', () => {
    expect(formatSeconds(0.00195)).toBe('1.95 ms');
    expect(formatSeconds(0.0634)).toBe('63.4 ms');
    expect(formatSeconds(0.1137)).toBe('114 ms');
    expect(formatSeconds(2.613)).toBe('2.61 s');
    expect(formatSeconds(0.0001)).toBe('0.1 ms');
  });
});
