import { type GraphModel, type GraphOptions, type TensorRole, graphModel } from './graph.js';
import type { Tensor } from './tensor.js';

// A small layered layout, enough for the graphs a learner draws: every node sits in the column
// of its longest path to the result (so a leaf stands just left of the op that uses it), the
// result at the right; within a column, nodes follow the average row of what they feed.

const CHAR = 6.6; // width of one character of 11px monospace
const LINE = 14;
const GAP_X = 36;
const GAP_Y = 14;
const PAD = 12;

interface Box {
  id: string;
  kind: 'tensor' | 'op';
  role: TensorRole;
  lines: string[];
  w: number;
  h: number;
  x: number;
  y: number;
}

const FILL: Record<TensorRole, string> = { result: '#ffffff', op: '#ffffff', leaf: '#cfe8ff', frozen: '#f2f2f2', constant: '#ffffff' };

function escape(s: string): string {
  return s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');
}

/** Each node's column: how many edges its longest path to the result takes. */
function depths(model: GraphModel): Map<string, number> {
  const succ = new Map(model.nodes.map((n) => [n.id, [] as string[]]));
  const pred = new Map(model.nodes.map((n) => [n.id, [] as string[]]));
  for (const e of model.edges) {
    succ.get(e.from)!.push(e.to);
    pred.get(e.to)!.push(e.from);
  }
  const depth = new Map<string, number>();
  const waiting = new Map(model.nodes.map((n) => [n.id, succ.get(n.id)!.length]));
  const ready = model.nodes.filter((n) => waiting.get(n.id) === 0).map((n) => n.id);
  while (ready.length) {
    const id = ready.pop()!;
    depth.set(id, Math.max(0, ...succ.get(id)!.map((s) => depth.get(s)! + 1)));
    for (const p of pred.get(id)!) {
      waiting.set(p, waiting.get(p)! - 1);
      if (waiting.get(p) === 0) ready.push(p);
    }
  }
  return depth;
}

/** A model edge as drawn: through one placeholder box in every column it crosses. */
interface Route {
  via: Box[];
  skipped: boolean;
}

function layout(model: GraphModel): { boxes: Box[]; routes: Route[]; width: number; height: number } {
  const depth = depths(model);
  const columns: Box[][] = [];
  const place = (b: Box, d: number) => (columns[d] ??= []).push(b);
  const boxOf = new Map<string, Box>();
  for (const n of model.nodes) {
    const chars = Math.max(...n.lines.map((l) => l.length));
    const box: Box = { ...n, w: chars * CHAR + (n.kind === 'op' ? 28 : 16), h: n.kind === 'op' ? 26 : n.lines.length * LINE + 10, x: 0, y: 0 };
    boxOf.set(n.id, box);
    place(box, depth.get(n.id)!);
  }
  // An edge that skips columns gets an empty box in each, so it runs between nodes, not through them.
  const routes = model.edges.map((e) => {
    const via = [boxOf.get(e.from)!];
    for (let d = depth.get(e.from)! - 1; d > depth.get(e.to)!; d--) {
      const gap: Box = { id: `${e.from}-${e.to}-${d}`, kind: 'tensor', role: 'op', lines: [], w: 0, h: 4, x: 0, y: 0 };
      place(gap, d);
      via.push(gap);
    }
    via.push(boxOf.get(e.to)!);
    return { via, skipped: e.skipped };
  });
  const feeds = new Map<Box, Box[]>();
  for (const { via } of routes) via.slice(0, -1).forEach((b, i) => feeds.set(b, [...(feeds.get(b) ?? []), via[i + 1]!]));
  // Order each column by the mean row of the boxes it feeds, walking away from the result.
  const row = new Map<Box, number>();
  for (const col of columns) {
    const key = (b: Box) => {
      const rows = (feeds.get(b) ?? []).map((t) => row.get(t)!);
      return rows.length ? rows.reduce((s, r) => s + r, 0) / rows.length : 0;
    };
    col.sort((a, b) => key(a) - key(b)).forEach((b, i) => row.set(b, i / Math.max(1, col.length - 1)));
  }
  const heights = columns.map((col) => col.reduce((s, b) => s + b.h, 0) + GAP_Y * (col.length - 1));
  const height = Math.max(...heights) + 2 * PAD;
  let x = PAD;
  for (let d = columns.length - 1; d >= 0; d--) {
    const col = columns[d]!;
    const colWidth = Math.max(...col.map((b) => b.w));
    let y = (height - heights[d]!) / 2;
    for (const b of col) {
      if (!b.lines.length) b.w = colWidth;
      b.x = x + (colWidth - b.w) / 2;
      b.y = y;
      y += b.h + GAP_Y;
    }
    x += colWidth + GAP_X;
  }
  return { boxes: columns.flat().filter((b) => b.lines.length), routes, width: x - GAP_X + PAD, height };
}

/** A smooth curve from each box's right side to the next one's left, straight across placeholders. */
function drawRoute({ via, skipped }: Route): string {
  let d = '';
  via.slice(0, -1).forEach((a, i) => {
    const b = via[i + 1]!;
    const x1 = a.x + a.w, y1 = a.y + a.h / 2, x2 = b.x, y2 = b.y + b.h / 2, bend = (x2 - x1) / 2;
    if (i === 0) d += `M${a.lines.length ? x1 : a.x} ${y1}`;
    d += (a.lines.length ? '' : ` L${x1} ${y1}`) + ` C${x1 + bend} ${y1} ${x2 - bend} ${y2} ${x2} ${y2}`;
  });
  const style = skipped ? 'stroke="#aaa" stroke-dasharray="4 3"' : 'stroke="#555"';
  return `<path d="${d}" fill="none" ${style} marker-end="url(#arrow)"/>`;
}

function drawNode(b: Box): string {
  const cx = b.x + b.w / 2;
  const text = (line: string, i: number) =>
    `<text x="${cx}" y="${b.y + 5 + LINE * (i + 0.8)}" text-anchor="middle"${b.role === 'constant' ? ' fill="#888"' : ''}>${escape(line)}</text>`;
  if (b.kind === 'op') {
    return `<ellipse cx="${cx}" cy="${b.y + b.h / 2}" rx="${b.w / 2}" ry="${b.h / 2}" fill="#fff3c4" stroke="#555"/>` +
      `<text x="${cx}" y="${b.y + b.h / 2 + 4}" text-anchor="middle">${escape(b.lines[0]!)}</text>`;
  }
  const stroke = b.role === 'constant' ? '#999' : '#333';
  const dash = b.role === 'frozen' || b.role === 'constant' ? ' stroke-dasharray="4 3"' : '';
  const rect = `<rect x="${b.x}" y="${b.y}" width="${b.w}" height="${b.h}" rx="3" fill="${FILL[b.role]}" stroke="${stroke}" stroke-width="${b.role === 'result' ? 2 : 1}"${dash}/>`;
  return rect + b.lines.map(text).join('');
}

/**
 * The graph behind `t` as a standalone SVG image, laid out here (no Graphviz needed): the same
 * nodes, edges and options as `toDot`. Values and gradients show as far as they can be read
 * synchronously (cpu tensors); GPU tensors' nodes say they were not read.
 *
 * @example
 * writeFileSync('graph.svg', toSvg(loss, { values: true, grads: true }));
 */
export function toSvg(t: Tensor, opts: GraphOptions = {}): string {
  const { boxes, routes, width, height } = layout(graphModel(t, opts));
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${Math.ceil(width)}" height="${Math.ceil(height)}" viewBox="0 0 ${Math.ceil(width)} ${Math.ceil(height)}" font-family="monospace" font-size="11">`,
    '<defs><marker id="arrow" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="7" markerHeight="7" orient="auto"><path d="M0 0L8 4L0 8z" fill="#555"/></marker></defs>',
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    ...routes.map(drawRoute),
    ...boxes.map(drawNode),
    '</svg>',
  ].join('\n');
}
