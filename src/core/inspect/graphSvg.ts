import { type GraphModel, type GraphOptions, type TensorRole, graphModel } from './graph.js';
import type { Tensor } from '../tensor.js';

// A small layered layout, enough for the graphs a learner draws: every node sits in the rank
// (column, or row top to bottom) of its longest path to the result (so a leaf stands just before
// the op that uses it), the result last; within a rank, nodes follow the average place of what
// they feed. Top to bottom suits deep graphs on a page: its width is that of the widest rank.

const CHAR = 6.6; // width of one character of 11px monospace
const LINE = 14;
/** Space between ranks, along the flow. */
const GAP_RANK = { LR: 36, TB: 28 };
/** Space between the nodes of a rank. */
const GAP_NODE = 14;
const PAD = 12;

type Direction = 'LR' | 'TB';

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

function layout(model: GraphModel, dir: Direction): { boxes: Box[]; routes: Route[]; width: number; height: number } {
  // A box's extent along the flow, and across it.
  const along = (b: Box) => (dir === 'LR' ? b.w : b.h);
  const across = (b: Box) => (dir === 'LR' ? b.h : b.w);
  const depth = depths(model);
  const ranks: Box[][] = [];
  const place = (b: Box, d: number) => (ranks[d] ??= []).push(b);
  const boxOf = new Map<string, Box>();
  for (const n of model.nodes) {
    const chars = Math.max(...n.lines.map((l) => l.length));
    const [w, h] = n.kind === 'op' ? [chars * CHAR * 1.15 + 24, n.lines.length * LINE + 12] : [chars * CHAR + 16, n.lines.length * LINE + 10];
    const box: Box = { ...n, w, h, x: 0, y: 0 };
    boxOf.set(n.id, box);
    place(box, depth.get(n.id)!);
  }
  // An edge that skips ranks gets an empty box in each, so it runs between nodes, not through them.
  const routes = model.edges.map((e) => {
    const via = [boxOf.get(e.from)!];
    for (let d = depth.get(e.from)! - 1; d > depth.get(e.to)!; d--) {
      const gap: Box = { id: `${e.from}-${e.to}-${d}`, kind: 'tensor', role: 'op', lines: [], w: dir === 'LR' ? 0 : 4, h: dir === 'LR' ? 4 : 0, x: 0, y: 0 };
      place(gap, d);
      via.push(gap);
    }
    via.push(boxOf.get(e.to)!);
    return { via, skipped: e.skipped };
  });
  const feeds = new Map<Box, Box[]>();
  for (const { via } of routes) via.slice(0, -1).forEach((b, i) => feeds.set(b, [...(feeds.get(b) ?? []), via[i + 1]!]));
  // Order each rank by the mean place of the boxes it feeds, walking away from the result.
  const order = new Map<Box, number>();
  for (const rank of ranks) {
    const key = (b: Box) => {
      const places = (feeds.get(b) ?? []).map((t) => order.get(t)!);
      return places.length ? places.reduce((s, r) => s + r, 0) / places.length : 0;
    };
    rank.sort((a, b) => key(a) - key(b)).forEach((b, i) => order.set(b, i / Math.max(1, rank.length - 1)));
  }
  const spans = ranks.map((rank) => rank.reduce((s, b) => s + across(b), 0) + GAP_NODE * (rank.length - 1));
  const breadth = Math.max(...spans) + 2 * PAD;
  let at = PAD;
  for (let d = ranks.length - 1; d >= 0; d--) {
    const rank = ranks[d]!;
    const thickness = Math.max(...rank.map(along));
    let side = (breadth - spans[d]!) / 2;
    for (const b of rank) {
      if (!b.lines.length) {
        if (dir === 'LR') b.w = thickness;
        else b.h = thickness;
      }
      const flow = at + (thickness - along(b)) / 2;
      [b.x, b.y] = dir === 'LR' ? [flow, side] : [side, flow];
      side += across(b) + GAP_NODE;
    }
    at += thickness + GAP_RANK[dir];
  }
  const length = at - GAP_RANK[dir] + PAD;
  const [width, height] = dir === 'LR' ? [length, breadth] : [breadth, length];
  return { boxes: ranks.flat().filter((b) => b.lines.length), routes, width, height };
}

/** A smooth curve from each box's outgoing side to the next one's incoming side, straight across placeholders. */
function drawRoute({ via, skipped }: Route, dir: Direction): string {
  // Where the flow leaves a box and where it enters one.
  const out = (b: Box) => (dir === 'LR' ? [b.x + b.w, b.y + b.h / 2] : [b.x + b.w / 2, b.y + b.h]) as [number, number];
  const into = (b: Box) => (dir === 'LR' ? [b.x, b.y + b.h / 2] : [b.x + b.w / 2, b.y]) as [number, number];
  let d = '';
  via.slice(0, -1).forEach((a, i) => {
    const [x1, y1] = out(a);
    const [x2, y2] = into(via[i + 1]!);
    if (i === 0) d += `M${(a.lines.length ? [x1, y1] : into(a)).join(' ')}`;
    if (!a.lines.length) d += ` L${x1} ${y1}`;
    d += dir === 'LR' ? ` C${x1 + (x2 - x1) / 2} ${y1} ${x2 - (x2 - x1) / 2} ${y2} ${x2} ${y2}` : ` C${x1} ${y1 + (y2 - y1) / 2} ${x2} ${y2 - (y2 - y1) / 2} ${x2} ${y2}`;
  });
  const style = skipped ? 'stroke="#aaa" stroke-dasharray="4 3"' : 'stroke="#555"';
  return `<path d="${d}" fill="none" ${style} marker-end="url(#arrow)"/>`;
}

/** A node's shape and text, in a group whose title (a tooltip) holds its whole label. */
function drawNode(b: Box): string {
  return `<g><title>${escape(b.lines.join('\n'))}</title>${drawShape(b)}</g>`;
}

function drawShape(b: Box): string {
  const cx = b.x + b.w / 2;
  const text = (line: string, i: number) =>
    `<text x="${cx}" y="${b.y + 5 + LINE * (i + 0.8)}" text-anchor="middle"${b.role === 'constant' ? ' fill="#888"' : ''}>${escape(line)}</text>`;
  if (b.kind === 'op') {
    const top = b.y + b.h / 2 - ((b.lines.length - 1) * LINE) / 2 + 4;
    return `<ellipse cx="${cx}" cy="${b.y + b.h / 2}" rx="${b.w / 2}" ry="${b.h / 2}" fill="#fff3c4" stroke="#555"/>` +
      b.lines.map((line, i) => `<text x="${cx}" y="${top + i * LINE}" text-anchor="middle">${escape(line)}</text>`).join('');
  }
  const stroke = b.role === 'constant' ? '#999' : '#333';
  const dash = b.role === 'frozen' || b.role === 'constant' ? ' stroke-dasharray="4 3"' : '';
  const rect = `<rect x="${b.x}" y="${b.y}" width="${b.w}" height="${b.h}" rx="3" fill="${FILL[b.role]}" stroke="${stroke}" stroke-width="${b.role === 'result' ? 2 : 1}"${dash}/>`;
  return rect + b.lines.map(text).join('');
}

/**
 * The graph behind `t` as a standalone SVG image, laid out here (no Graphviz needed): the same
 * nodes, edges and options as `toDot`, each node's whole label also in its tooltip. Values and
 * gradients show as far as they can be read synchronously (cpu tensors); GPU tensors' nodes say
 * they were not read. `direction: 'TB'` draws deep graphs top to bottom, as narrow as their widest rank.
 *
 * @example
 * writeFileSync('graph.svg', toSvg(loss, { values: true, grads: true, names: model.namedParameters() }));
 */
export function toSvg(t: Tensor, opts: GraphOptions = {}): string {
  const dir = opts.direction ?? 'LR';
  const { boxes, routes, width, height } = layout(graphModel(t, opts), dir);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${Math.ceil(width)}" height="${Math.ceil(height)}" viewBox="0 0 ${Math.ceil(width)} ${Math.ceil(height)}" font-family="monospace" font-size="11">`,
    '<defs><marker id="arrow" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="7" markerHeight="7" orient="auto"><path d="M0 0L8 4L0 8z" fill="#555"/></marker></defs>',
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    ...routes.map((r) => drawRoute(r, dir)),
    ...boxes.map(drawNode),
    '</svg>',
  ].join('\n');
}
