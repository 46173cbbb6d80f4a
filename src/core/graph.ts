import { fmt } from './errors.js';
import type { Tensor } from './tensor.js';

function label(t: Tensor): string {
  const kind = t.gradFn ? t.gradFn.op : t.requiresGrad ? 'leaf (requires grad)' : 'constant';
  return `${kind} ${fmt(t.shape)} ${t.dtype}`;
}

/**
 * The autograd graph behind `t` as an indented tree, one line per tensor; a tensor reached
 * twice is printed once and then referred to by number.
 *
 * @example
 * console.log(printGraph(x.mul(w).sum()));
 * // #0 sum [] float32
 * //   #1 mul [3] float32
 * //     #2 leaf (requires grad) [3] float32
 * //     #3 constant [3] float32
 */
export function printGraph(t: Tensor): string {
  const ids = new Map<Tensor, number>();
  const lines: string[] = [];
  const walk = (x: Tensor, depth: number) => {
    const pad = '  '.repeat(depth);
    const seen = ids.get(x);
    if (seen !== undefined) {
      lines.push(`${pad}#${seen} (see above)`);
      return;
    }
    ids.set(x, ids.size);
    lines.push(`${pad}#${ids.get(x)} ${label(x)}`);
    for (const input of x.gradFn?.inputs ?? []) walk(input, depth + 1);
  };
  walk(t, 0);
  return lines.join('\n');
}

/** What `toDot` and `toSvg` show besides op, shape and dtype. */
export interface GraphOptions {
  /** Each tensor's elements (the first few of a large one). */
  values?: boolean;
  /** Each tensor's `.grad`, where it has one (leaves after backward, `retainGrad()` tensors). */
  grads?: boolean;
}

/**
 * How a tensor stands in the graph: `result` is the tensor drawn, `op` any other op output,
 * `leaf` requires grad, `frozen` is a float tensor that does not (a frozen weight, the data),
 * `constant` cannot have a gradient (an int tensor, a scalar).
 */
export type TensorRole = 'result' | 'op' | 'leaf' | 'frozen' | 'constant';

/** @internal The picture both renderers draw: tensor nodes, op nodes, and edges between them. */
export interface GraphModel {
  nodes: { id: string; kind: 'tensor' | 'op'; role: TensorRole; lines: string[] }[];
  /** Data-flow edges; `skipped` when no gradient flows back along it. */
  edges: { from: string; to: string; skipped: boolean }[];
}

export function roleOf(t: Tensor): Exclude<TensorRole, 'result'> {
  if (t.gradFn) return 'op';
  if (t.requiresGrad) return 'leaf';
  return t.dtype === 'int32' || t.ndim === 0 ? 'constant' : 'frozen';
}

function formatNumber(v: number): string {
  return String(Number(v.toPrecision(4)));
}

/** A short text of `t`'s elements; only what a synchronous backend can read now. */
function preview(t: Tensor | null, max = 6): string {
  if (!t) return 'none';
  if (t.isDisposed) return 'disposed';
  if (!t._backend.readSync) return `on ${t.backend} (read asynchronously: not shown)`;
  const data = Array.from(t.dataSync());
  if (t.ndim === 0) return formatNumber(data[0]!);
  const shown = data.slice(0, max).map(formatNumber);
  return `[${shown.join(', ')}${data.length > max ? ', …' : ''}]`;
}

/** @internal Tensors and ops behind `t`, numbered in depth-first order from `t`. */
export function graphModel(t: Tensor, opts: GraphOptions = {}): GraphModel {
  const model: GraphModel = { nodes: [], edges: [] };
  const ids = new Map<Tensor, string>();
  const visit = (x: Tensor): string => {
    const known = ids.get(x);
    if (known) return known;
    const id = `t${ids.size}`;
    ids.set(x, id);
    const role = x === t ? 'result' : roleOf(x);
    const head = x.gradFn || role === 'result' ? `${fmt(x.shape)} ${x.dtype}` : `${role} ${fmt(x.shape)} ${x.dtype}`;
    const lines = [head];
    if (opts.values) lines.push(`data ${preview(x)}`);
    if (opts.grads && (x.grad || (x.requiresGrad && (x.isLeaf || x._retainsGrad)))) lines.push(`grad ${preview(x.grad)}`);
    model.nodes.push({ id, kind: 'tensor', role, lines });
    const node = x.gradFn;
    if (node) {
      const op = `${id}_op`;
      model.nodes.push({ id: op, kind: 'op', role: 'op', lines: [node.op] });
      model.edges.push({ from: op, to: id, skipped: false });
      for (const input of node.inputs) model.edges.push({ from: visit(input), to: op, skipped: !input.requiresGrad });
    }
    return id;
  };
  visit(t);
  return model;
}

const DOT_STYLE: Record<TensorRole, string> = {
  result: 'shape=box,penwidth=2',
  op: 'shape=box',
  leaf: 'shape=box,style=filled,fillcolor=lightblue',
  frozen: 'shape=box,style=dashed',
  constant: 'shape=box,color=gray,fontcolor=gray',
};

/** A DOT string literal; `\n` breaks the label's lines. */
const quote = (lines: string[]) => `"${lines.map((s) => s.replaceAll('\\', '\\\\').replaceAll('"', '\\"')).join('\\n')}"`;

/**
 * The graph in Graphviz DOT (`dot -Tsvg graph.dot > graph.svg`), drawn like micrograd's
 * draw_dot: op nodes (ellipses) apart from tensor nodes (boxes), data flowing left to right.
 * Frozen and constant inputs are dashed boxes whose edge is dashed: no gradient work runs
 * for them. `values`/`grads` add each tensor's data and `.grad`, as far as they can be read
 * synchronously (cpu); on GPU backends the node says they were not read.
 *
 * @example
 * writeFileSync('graph.dot', toDot(loss, { values: true, grads: true }));
 */
export function toDot(t: Tensor, opts: GraphOptions = {}): string {
  const { nodes, edges } = graphModel(t, opts);
  const lines = nodes.map((n) =>
    n.kind === 'op'
      ? `  ${n.id} [label=${quote(n.lines)},shape=ellipse,style=filled,fillcolor=lightyellow];`
      : `  ${n.id} [label=${quote(n.lines)},${DOT_STYLE[n.role]}];`,
  );
  const arrows = edges.map((e) => `  ${e.from} -> ${e.to}${e.skipped ? ' [style=dashed,color=gray]' : ''};`);
  return ['digraph autograd {', '  rankdir=LR;', '  node [fontname="monospace",fontsize=10];', ...lines, ...arrows, '}'].join('\n');
}
