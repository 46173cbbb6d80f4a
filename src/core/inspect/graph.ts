// core/inspect/: tools that look at the engine from outside (graph printers, trace, gradcheck).
// The engine never imports this folder (npm run deps checks it); a hook the engine runs on every op
// or allocation (anomaly mode, leak warnings, Tensor.toString) belongs to the engine instead.
import { check, fmt } from '../errors.js';
import type { GradNode } from '../autograd.js';
import type { Tensor } from '../tensor.js';
import { assertTensor, describeValue, isPlainObject } from '../validate.js';

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
  assertTensor('printGraph', t);
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
  /** Under each op, what its backward keeps (`in0`, `out`, or another tensor's shape), or `released`. */
  saved?: boolean;
  /**
   * Names of tensors, such as a model's `namedParameters()`: a named tensor is labelled by its
   * name (`net.0.lora_A [4,48] float32`), and with names given only a named tensor that does not
   * require grad is `frozen`; any other such tensor is a `constant`.
   */
  names?: Iterable<readonly [string, Tensor]>;
  /** Which way data flows in the picture: left to right (default) or top to bottom. */
  direction?: 'LR' | 'TB';
}

/**
 * How a tensor stands in the graph: `result` is the tensor drawn, `op` any other op output,
 * `leaf` requires grad, `frozen` is a float tensor that does not (a frozen weight, the data;
 * with `names` given, a named one only), `constant` cannot have a gradient (an int tensor, a
 * scalar, and with `names` given, any unnamed tensor that does not require grad).
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

/** What a node keeps for its backward, named by where each tensor stands: `in0`, `out`... */
function savedText(out: Tensor, node: GradNode): string {
  if (!node.saved) return 'released';
  if (!node.saved.length) return 'saves nothing';
  const name = (s: Tensor) => (s === out ? 'out' : node.inputs.includes(s) ? `in${node.inputs.indexOf(s)}` : `${fmt(s.shape)} ${s.dtype}`);
  return `saves ${node.saved.map(name).join(', ')}`;
}

/** The tensors behind `t`, each once, in depth-first order from `t` (as `printGraph` numbers them). */
function tensorsBehind(t: Tensor): Tensor[] {
  const seen = new Set<Tensor>();
  const stack = [t];
  while (stack.length) {
    const x = stack.pop()!;
    if (seen.has(x)) continue;
    seen.add(x);
    stack.push(...[...(x.gradFn?.inputs ?? [])].reverse());
  }
  return [...seen];
}

/**
 * Names a tensor by `names`: its own name, or for a view of a named tensor (a frozen weight
 * transposed inside `linear`), `<name>.T` or `view of <name>`.
 */
function namer(names: Iterable<readonly [string, Tensor]>): (x: Tensor) => string | undefined {
  const byTensor = new Map<Tensor, string>();
  const byStorage = new Map<unknown, { name: string; t: Tensor }>();
  for (const [name, t] of names) {
    byTensor.set(t, name);
    if (!t.isDisposed) byStorage.set(t._storageRef('graph'), { name, t });
  }
  return (x) => {
    const own = byTensor.get(x);
    if (own !== undefined || x.isDisposed) return own;
    const base = byStorage.get(x._storageRef('graph'));
    if (!base) return undefined;
    const transposed = x.ndim === 2 && base.t.ndim === 2 && x.offset === base.t.offset &&
      x.shape[0] === base.t.shape[1] && x.shape[1] === base.t.shape[0] && x.strides[0] === base.t.strides[1] && x.strides[1] === base.t.strides[0];
    return transposed ? `${base.name}.T` : `view of ${base.name}`;
  };
}

/** @internal Tensors and ops behind `t`: tensor `tN`, the op that made it `tN_op`. */
export function graphModel(t: Tensor, opts: GraphOptions = {}): GraphModel {
  const tensors = tensorsBehind(t);
  const ids = new Map(tensors.map((x, i) => [x, `t${i}`]));
  const nameOf = opts.names ? namer(opts.names) : null;
  const model: GraphModel = { nodes: [], edges: [] };
  for (const x of tensors) {
    const id = ids.get(x)!;
    const name = nameOf?.(x);
    let role: TensorRole = x === t ? 'result' : roleOf(x);
    // With names, only a named tensor is a frozen weight: an unnamed one is data or a constant.
    if (role === 'frozen' && nameOf && name === undefined) role = 'constant';
    const kind = x.gradFn || role === 'result' ? '' : `${name ?? role} `;
    const lines = [`${kind}${fmt(x.shape)} ${x.dtype}`];
    if (opts.values) lines.push(`data ${preview(x)}`);
    if (opts.grads && (x.grad || (x.requiresGrad && (x.isLeaf || x._retainsGrad)))) lines.push(`grad ${preview(x.grad)}`);
    model.nodes.push({ id, kind: 'tensor', role, lines });
    const node = x.gradFn;
    if (!node) continue;
    const opLines = opts.saved ? [node.op, savedText(x, node)] : [node.op];
    model.nodes.push({ id: `${id}_op`, kind: 'op', role: 'op', lines: opLines });
    model.edges.push({ from: `${id}_op`, to: id, skipped: false });
    for (const input of node.inputs) model.edges.push({ from: ids.get(input)!, to: `${id}_op`, skipped: !input.requiresGrad });
  }
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
  assertTensor('toDot', t);
  check(isPlainObject(opts as unknown), 'toDot', () => `options must be an object such as { values: true }, got ${describeValue(opts)}`);
  const { nodes, edges } = graphModel(t, opts);
  const lines = nodes.map((n) =>
    n.kind === 'op'
      ? `  ${n.id} [label=${quote(n.lines)},shape=ellipse,style=filled,fillcolor=lightyellow];`
      : `  ${n.id} [label=${quote(n.lines)},${DOT_STYLE[n.role]}];`,
  );
  const arrows = edges.map((e) => `  ${e.from} -> ${e.to}${e.skipped ? ' [style=dashed,color=gray]' : ''};`);
  return ['digraph autograd {', `  rankdir=${opts.direction ?? 'LR'};`, '  node [fontname="monospace",fontsize=10];', ...lines, ...arrows, '}'].join('\n');
}
