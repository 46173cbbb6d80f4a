// Plain SVG charts: a line chart for losses and a stacked bar per model for memory.
const NS = 'http://www.w3.org/2000/svg';

function el<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>, text?: string): SVGElementTagNameMap[K] {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

const SMOOTH = 20;

/** Mean of each value and the (up to) `window - 1` before it. */
function runningMean(values: number[], window: number): number[] {
  let sum = 0;
  return values.map((v, i) => {
    sum += v - (i >= window ? values[i - window]! : 0);
    return sum / Math.min(i + 1, window);
  });
}

export interface Series {
  name: string;
  color: string;
  values: number[];
}

/** Redraws `svg` as a line chart of every series against the step number (1 to the last), the y-axis labelled `yLabel`. */
export function lineChart(svg: SVGSVGElement, series: Series[], opts: { width?: number; height?: number; yLabel: string }): void {
  const w = opts.width ?? 420;
  const h = opts.height ?? 200;
  const pad = { l: 52, r: 10, t: 10, b: 24 };
  svg.replaceChildren();
  svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
  const all = series.flatMap((s) => s.values).filter(Number.isFinite);
  if (all.length === 0) return;
  const steps = Math.max(...series.map((s) => s.values.length));
  const lo = Math.min(...all);
  const hi = Math.max(...all);
  const span = hi - lo || 1;
  const x = (i: number) => pad.l + (i / Math.max(1, steps - 1)) * (w - pad.l - pad.r);
  const y = (v: number) => pad.t + (1 - (v - lo) / span) * (h - pad.t - pad.b);
  svg.append(el('line', { x1: pad.l, y1: h - pad.b, x2: w - pad.r, y2: h - pad.b, stroke: '#999' }));
  svg.append(el('line', { x1: pad.l, y1: pad.t, x2: pad.l, y2: h - pad.b, stroke: '#999' }));
  svg.append(el('text', { x: pad.l - 4, y: y(hi) + 4, 'text-anchor': 'end', 'font-size': 10 }, hi.toFixed(2)));
  svg.append(el('text', { x: pad.l - 4, y: y(lo) + 4, 'text-anchor': 'end', 'font-size': 10 }, lo.toFixed(2)));
  // Point i is step i + 1, so the last label is the number of steps taken.
  svg.append(el('text', { x: pad.l, y: h - 6, 'text-anchor': 'start', 'font-size': 10 }, 'step 1'));
  svg.append(el('text', { x: w - pad.r, y: h - 6, 'text-anchor': 'end', 'font-size': 10 }, `step ${steps}`));
  const mid = pad.t + (h - pad.t - pad.b) / 2;
  svg.append(el('text', { x: 12, y: mid, 'text-anchor': 'middle', 'font-size': 10, transform: `rotate(-90 12 ${mid})`, class: 'y-label' }, opts.yLabel));
  const path = (values: number[]) => values.map((v, i) => `${i ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)}`).join('');
  series.forEach((s, k) => {
    // Batch losses are noisy: the raw curve faint, its running mean over the last SMOOTH steps on top.
    const smooth = s.values.length > SMOOTH;
    svg.append(el('path', { d: path(s.values), fill: 'none', stroke: s.color, 'stroke-width': smooth ? 1 : 1.5, 'stroke-opacity': smooth ? 0.3 : 1 }));
    if (smooth) svg.append(el('path', { d: path(runningMean(s.values, SMOOTH)), fill: 'none', stroke: s.color, 'stroke-width': 2 }));
    svg.append(el('text', { x: w - pad.r, y: pad.t + 10 + 12 * k, 'text-anchor': 'end', 'font-size': 11, fill: s.color }, s.name));
  });
}

export interface Bar {
  label: string;
  parts: { name: string; color: string; bytes: number }[];
}

/** Redraws `svg` as one horizontal stacked bar per entry, on a shared byte scale. */
export function memoryChart(svg: SVGSVGElement, bars: Bar[], width = 480): void {
  const rowH = 26;
  const labelW = 90;
  const legendH = 18;
  const h = legendH + bars.length * rowH + 6;
  svg.replaceChildren();
  svg.setAttribute('viewBox', `0 0 ${width} ${h}`);
  const max = Math.max(1, ...bars.map((b) => b.parts.reduce((s, p) => s + p.bytes, 0)));
  const scale = (width - labelW - 70) / max;
  let lx = 0;
  for (const p of bars[0]?.parts ?? []) {
    svg.append(el('rect', { x: lx, y: 3, width: 10, height: 10, fill: p.color }));
    svg.append(el('text', { x: lx + 13, y: 12, 'font-size': 10 }, p.name));
    lx += 16 + p.name.length * 5.6;
  }
  bars.forEach((b, row) => {
    const y = legendH + row * rowH;
    svg.append(el('text', { x: 0, y: y + 15, 'font-size': 11 }, b.label));
    let x = labelW;
    for (const p of b.parts) {
      const bw = p.bytes * scale;
      const r = el('rect', { x, y: y + 3, width: Math.max(0, bw), height: rowH - 8, fill: p.color });
      r.append(el('title', {}, `${p.name}: ${kib(p.bytes)}`));
      svg.append(r);
      x += bw;
    }
    svg.append(el('text', { x: x + 4, y: y + 15, 'font-size': 10 }, kib(b.parts.reduce((s, p) => s + p.bytes, 0))));
  });
}

export function kib(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KiB`;
}

export interface GroupedBars {
  label: string;
  bars: { name: string; color: string; value: number }[];
}

/**
 * Redraws `svg` as one group of horizontal bars per entry (a case, its libraries), each group on
 * its own scale (cases differ by orders of magnitude), every bar labelled with its value.
 */
export function groupedBarChart(svg: SVGSVGElement, groups: GroupedBars[], caption: string, width = 640): void {
  const barH = 14, labelW = 120, gap = 22, top = 16;
  svg.replaceChildren();
  let y = top;
  svg.append(el('text', { x: 0, y: 11, 'font-size': 11 }, caption));
  for (const g of groups) {
    svg.append(el('text', { x: 0, y: y + 12, 'font-size': 11, 'font-weight': 'bold' }, g.label));
    y += 16;
    const max = Math.max(...g.bars.map((b) => b.value).filter(Number.isFinite), Number.MIN_VALUE);
    for (const b of g.bars) {
      const w = Number.isFinite(b.value) ? (b.value / max) * (width - labelW - 90) : 0;
      svg.append(el('text', { x: 0, y: y + 11, 'font-size': 10 }, b.name));
      const r = el('rect', { x: labelW, y, width: Math.max(1, w), height: barH - 2, fill: b.color });
      r.append(el('title', {}, `${b.name}: ${b.value.toFixed(2)} ms`));
      svg.append(r);
      svg.append(el('text', { x: labelW + w + 4, y: y + 11, 'font-size': 10 }, `${b.value.toFixed(2)} ms`));
      y += barH;
    }
    y += gap - barH;
  }
  svg.setAttribute('viewBox', `0 0 ${width} ${y + 4}`);
}
