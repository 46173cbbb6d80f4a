// The loss curves as an SVG, for the demos: every run on one chart (training loss, averaged over
// windows of steps), pretraining first, the adaptation runs after it, each run's held-out loss a dot.

export interface Curve {
  name: string;
  /** Step of the chart's x axis where this run's first step is. */
  startStep: number;
  losses: number[];
  heldOutLoss: number;
}

export interface LossPlotOptions {
  title: string;
  /** What the x axis counts, e.g. 'step (pretraining on X, then adaptation on Y)'. */
  xLabel: string;
  /** The loss axis' range; losses outside it are drawn at its edges. */
  yRange: [number, number];
  /** Spacing of the loss axis' grid lines. */
  yStep?: number;
}

const COLORS = ['#555555', '#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b'];

/** Averages of `values` over `bins` consecutive windows, with the step at each window's middle. */
function smooth(values: number[], bins: number): [number, number][] {
  const size = Math.max(1, Math.floor(values.length / bins));
  const out: [number, number][] = [];
  for (let at = 0; at < values.length; at += size) {
    const w = values.slice(at, at + size);
    out.push([at + w.length / 2, w.reduce((a, b) => a + b, 0) / w.length]);
  }
  return out;
}

/** One SVG chart of `curves`: smoothed training losses as lines, held-out losses as dots, a legend. */
export function lossPlot(curves: Curve[], opts: LossPlotOptions): string {
  const W = 780, H = 420, left = 60, right = 170, top = 40, bottom = 50;
  const maxStep = Math.max(...curves.map((c) => c.startStep + Math.max(c.losses.length, 1)));
  const [lo, hi] = opts.yRange, yStep = opts.yStep ?? 0.25;
  const x = (s: number) => left + ((W - left - right) * s) / maxStep;
  const y = (l: number) => top + ((H - top - bottom) * (hi - Math.min(hi, Math.max(lo, l)))) / (hi - lo);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="14">${opts.title}</text>`,
  ];
  for (let l = lo; l <= hi + 1e-9; l += yStep) {
    parts.push(`<line x1="${left}" x2="${W - right}" y1="${y(l)}" y2="${y(l)}" stroke="#eeeeee"/>`,
      `<text x="${left - 6}" y="${y(l) + 4}" text-anchor="end">${l.toFixed(2)}</text>`);
  }
  const tick = 10 ** Math.floor(Math.log10(maxStep / 2));
  for (let s = 0; s <= maxStep; s += tick * (maxStep / tick > 8 ? 2 : 1)) {
    parts.push(`<text x="${x(s)}" y="${H - bottom + 16}" text-anchor="middle">${s}</text>`);
  }
  parts.push(`<line x1="${left}" x2="${left}" y1="${top}" y2="${H - bottom}" stroke="black"/>`,
    `<line x1="${left}" x2="${W - right}" y1="${H - bottom}" y2="${H - bottom}" stroke="black"/>`,
    `<text x="${(left + W - right) / 2}" y="${H - 12}" text-anchor="middle">${opts.xLabel}</text>`,
    `<text transform="translate(16 ${(top + H - bottom) / 2}) rotate(-90)" text-anchor="middle">loss (nats/char)</text>`);
  curves.forEach((c, i) => {
    const color = COLORS[i % COLORS.length]!;
    const points = smooth(c.losses, 60).map(([s, l]) => `${x(c.startStep + s).toFixed(1)},${y(l).toFixed(1)}`).join(' ');
    if (points) parts.push(`<polyline fill="none" stroke="${color}" stroke-width="1.5" points="${points}"/>`);
    const end = c.startStep + c.losses.length;
    parts.push(`<circle cx="${x(end).toFixed(1)}" cy="${y(c.heldOutLoss).toFixed(1)}" r="4" fill="${color}" stroke="black"/>`);
    const ly = top + 18 * i;
    parts.push(`<line x1="${W - right + 12}" x2="${W - right + 30}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="3"/>`,
      `<text x="${W - right + 36}" y="${ly + 4}">${c.name} ${c.heldOutLoss.toFixed(2)}</text>`);
  });
  parts.push(`<text x="${W - right + 12}" y="${top + 18 * curves.length + 8}" font-size="11">dots: held-out loss</text>`, '</svg>');
  return `${parts.join('\n')}\n`;
}
