import { anomalyEnabled, checkedBackward } from './anomaly.js';
import { TsgradError, check, fmt } from './errors.js';
import { assertTensorList, describeValue, isPlainObject } from './validate.js';
import { keep, scope } from './scope.js';
import { backendStats } from './backend.js';
import { shapesEqual } from './shape.js';
import type { Tensor } from './tensor.js';

/**
 * Computes the gradients of one op's inputs from the gradient of its output. `needs[i]` says
 * whether input i wants a gradient; an entry that is not needed must be `null` and cost nothing.
 */
export type BackwardFn = (grad: Tensor, needs: readonly boolean[]) => (Tensor | null)[];

/**
 * A node of the graph: one recorded op, linking its output back to its inputs. The output
 * reaches it as `t.gradFn` (PyTorch's grad_fn); leaves have none.
 */
export interface GradNode {
  readonly op: string;
  readonly inputs: readonly Tensor[];
  /** The tensors the backward reads besides `g` (see `record`); null once released. */
  saved: readonly Tensor[] | null;
  /** The saved tensors' storage versions at record time (an in-place write changes them). */
  readonly versions: readonly number[];
  backward: BackwardFn | null;
  /**
   * For an op whose one input's gradient is mostly zeros (a slice): adds that gradient for `g`
   * into `into`, an input-shaped contiguous gradient the engine owns alone, in place, or returns
   * a new one when `into` is null. The engine uses it instead of `backward` when it records no
   * graph, so the slices of one tensor (q, k and v split from one projection) fill one gradient
   * instead of each padding a full-size one that is then summed.
   */
  readonly addInto?: (g: Tensor, into: Tensor | null) => Tensor;
}

let gradEnabled = true;

/** True unless inside `noGrad`. */
export function isGradEnabled(): boolean {
  return gradEnabled;
}

/**
 * Runs `fn` without recording a graph (inference, optimizer updates). Async functions keep
 * recording off until their promise settles.
 *
 * @example
 * const y = noGrad(() => model.forward(x)); // y.requiresGrad === false
 */
export function noGrad<T>(fn: () => T): T {
  check(typeof fn === 'function', 'noGrad', () => `expects a function to run without recording, e.g. noGrad(() => w.add_(g)), got ${describeValue(fn)}`);
  const prev = gradEnabled;
  gradEnabled = false;
  let result: T;
  try {
    result = fn();
  } catch (e) {
    gradEnabled = prev;
    throw e;
  }
  if (result instanceof Promise) return result.finally(() => (gradEnabled = prev)) as T;
  gradEnabled = prev;
  return result;
}

/**
 * Makes `out` the output of a new node when grad mode is on and some input requires grad.
 * `saved` lists every tensor the backward reads besides `g` (inputs, the output, an index):
 * backward refuses to run when one was written in place since (its version changed), and
 * release drops them. A tensor the backward reads but `saved` omits escapes that check.
 */
export function record(
  op: string, inputs: readonly Tensor[], out: Tensor, saved: readonly Tensor[], backward: BackwardFn, addInto?: GradNode['addInto'],
): Tensor {
  if (gradEnabled && inputs.some((t) => t.requiresGrad)) {
    const anomaly = anomalyEnabled();
    const bw = anomaly ? checkedBackward(op, inputs, out, backward) : backward;
    // Anomaly mode checks every backward's results, so there the plain backward runs.
    out._setGradFn({ op, inputs, saved, versions: saved.map((t) => t._version), backward: bw, ...(addInto && !anomaly ? { addInto } : {}) });
  }
  return out;
}

/**
 * Tensors reachable from `outputs` through recorded ops, each after all of its inputs
 * (micrograd's build_topo). An explicit stack stands in for recursion, which would overflow on
 * a deep graph (thousands of ops: a long unrolled sequence): a tensor is pushed a second time, marked
 * `done`, under its inputs, and is emitted when that mark comes back to the top.
 */
export function topoSort(outputs: readonly Tensor[]): Tensor[] {
  const order: Tensor[] = [];
  const visited = new Set<Tensor>();
  const stack = outputs.filter((t) => t.requiresGrad).map((t) => ({ t, done: false }));
  while (stack.length) {
    const { t, done } = stack.pop()!;
    if (done) {
      order.push(t);
      continue;
    }
    if (visited.has(t)) continue;
    visited.add(t);
    stack.push({ t, done: true });
    for (const input of t.gradFn?.inputs ?? []) {
      if (input.requiresGrad && !visited.has(input)) stack.push({ t: input, done: false });
    }
  }
  return order;
}

/** Options of `backward()` and `grad()`. */
export interface BackwardOptions {
  /** Keep the graph so backward can run through it again. */
  retainGraph?: boolean;
  /** Record the backward pass itself, for higher-order gradients. Implies retainGraph. */
  createGraph?: boolean;
}

/** @internal What the engine tells an observer (`traceBackward`) about each tensor it visits. */
export interface Visit {
  tensor: Tensor;
  grad: Tensor;
  /** Which of the node's inputs were asked for a gradient (empty for leaves). */
  needs: readonly boolean[];
  /** Backend kernels run while visiting it: its backward, unbroadcasting, accumulation. */
  kernels: number;
}

/** @internal */
export interface EngineOptions extends BackwardOptions {
  /** Return the gradients of these tensors instead of accumulating into `.grad` (`grad()`). */
  capture?: readonly Tensor[];
  observe?: (visit: Visit) => void;
}

/**
 * The engine. Sort the graph, walk it from the output back, and at each tensor: hand its summed
 * gradient to its node's backward, which returns one gradient per input (null where `needs`
 * says no), and sum those into the inputs' entries. Leaves receive theirs in `.grad`.
 */
export function runBackward(outputs: readonly Tensor[], outGrads: readonly Tensor[], opts: EngineOptions): Map<Tensor, Tensor> {
  const order = topoSort(outputs);
  const capture = opts.capture ? new Set(opts.capture) : null;
  const wanted = capture ? leadingTo(capture, order) : null;
  const owned = new Handout(outGrads);
  const captured = new Map<Tensor, Tensor>();
  const grads = new Map<Tensor, Tensor>();
  // Gradients this walk made (sums, addInto's) that nothing else holds yet: the only ones it may
  // update in place. A tensor's gradient leaves the set when the tensor is visited, since its
  // node's backward or `.grad` may then hold it.
  const fresh = new Set<Tensor>();
  const add = (t: Tensor, g: Tensor) => {
    const prev = grads.get(t);
    if (!prev) return void grads.set(t, g);
    const sum = prev.add(g);
    grads.set(t, sum);
    fresh.add(sum);
  };
  outputs.forEach((t, i) => add(t, outGrads[i]!));

  const visit = (t: Tensor, g: Tensor): boolean[] => {
    fresh.delete(g);
    if (capture?.has(t)) captured.set(t, owned.take(g));
    else if (!wanted && (t.isLeaf || t._retainsGrad)) accumulate(t, g, opts.createGraph ?? false, owned);
    const node = t.gradFn;
    if (!node) return [];
    checkUsable(t, node);
    const needs = node.inputs.map((x) => x.requiresGrad && (!wanted || wanted.has(x)));
    if (node.addInto && !opts.createGraph && needs[0]) {
      const x = node.inputs[0]!, prev = grads.get(x);
      // A gradient the walk does not own alone is copied first: adding into it changes no one else's.
      const next = node.addInto(g, prev === undefined ? null : fresh.has(prev) ? prev : prev.clone());
      grads.set(x, next);
      fresh.add(next);
      return needs;
    }
    const inGrads = node.backward!(g, needs);
    // Broadcasting is undone here, once for every op: each input gets a gradient of its shape.
    node.inputs.forEach((x, i) => needs[i] && inGrads[i] && add(x, sumTo(inGrads[i]!, x.shape)));
    return needs;
  };
  const step = opts.observe ? observed(visit, opts.observe) : visit;
  const walk = () => {
    for (const t of [...order].reverse()) {
      const g = grads.get(t);
      if (g && (!wanted || wanted.has(t))) step(t, g);
    }
    return owned.all(); // what the scope below must not free
  };
  // With createGraph the backward ops are recorded like any others: that is all second order
  // takes. Otherwise they run unrecorded, in a scope that frees every tensor the walk made.
  if (opts.createGraph) walk();
  else scope(() => noGrad(walk));
  if (!(opts.retainGraph ?? opts.createGraph)) for (const t of order) if (t.gradFn) release(t.gradFn);
  return captured;
}

/** Wraps a visit to report it, with the kernels it ran, to `traceBackward`. */
function observed(visit: (t: Tensor, g: Tensor) => boolean[], observe: (v: Visit) => void) {
  return (t: Tensor, g: Tensor): boolean[] => {
    const before = kernelCount(t);
    const needs = visit(t, g);
    observe({ tensor: t, grad: g, needs, kernels: kernelCount(t) - before });
    return needs;
  };
}

/** For `grad()`: the tensors whose gradient leads to a captured one; the walk skips the rest. */
function leadingTo(capture: ReadonlySet<Tensor>, order: readonly Tensor[]): Set<Tensor> {
  const wanted = new Set<Tensor>();
  for (const t of order) {
    if (capture.has(t) || t.gradFn?.inputs.some((x) => wanted.has(x))) wanted.add(t);
  }
  return wanted;
}

/**
 * The gradients a backward hands out (the user's output gradients, `.grad`, `grad()`'s results)
 * outlive it, and no two receivers may share one tensor, or an in-place update of one would
 * change the other.
 */
class Handout {
  private readonly given: Set<Tensor>;
  constructor(outGrads: readonly Tensor[]) {
    this.given = new Set(outGrads);
  }

  take(g: Tensor): Tensor {
    const own = this.given.has(g) ? g.clone() : g;
    this.given.add(own);
    return own;
  }

  all(): Tensor[] {
    return [...this.given];
  }
}

function kernelCount(t: Tensor): number {
  return backendStats(t.backend).kernels;
}

/** Errors instead of computing a wrong gradient from a released, disposed or overwritten input. */
function checkUsable(t: Tensor, node: GradNode): void {
  const where = `op '${node.op}' (output shape ${fmt(t.shape)})`;
  if (!node.backward) {
    throw new TsgradError('backward', `${where} was already released by an earlier backward; pass { retainGraph: true } to the first backward to run it twice`);
  }
  const saved = node.saved ?? [];
  if (t.isDisposed || node.inputs.some((i) => i.isDisposed) || saved.some((s) => s.isDisposed)) {
    throw new TsgradError('backward', `${where} needs a tensor that was disposed (by dispose() or the end of a scope); run backward before disposing, e.g. inside the scope`);
  }
  saved.forEach((s, i) => {
    if (s._version !== node.versions[i]) {
      throw new TsgradError('backward', `a tensor of shape ${fmt(s.shape)} saved by ${where} was modified in place (copy_) after the forward pass; recompute the forward, or write into a copy`);
    }
  });
}

/**
 * Drops the node's backward and its saved tensors, so garbage collection can free them; tensors
 * a scope left alive for this graph (`_freeWithGraph`) are disposed at once.
 */
function release(node: GradNode): void {
  for (const t of node.saved ?? []) if (t._freeWithGraph) t.dispose();
  for (const t of node.inputs) if (t._freeWithGraph) t.dispose();
  node.backward = null;
  node.saved = null;
}

/** Adds `g` into `.grad` (its own contiguous tensor, kept out of scopes). */
function accumulate(t: Tensor, g: Tensor, createGraph: boolean, owned: Handout): void {
  if (!shapesEqual(g.shape, t.shape)) {
    throw new TsgradError('backward', `gradient of shape ${fmt(g.shape)} does not match tensor of shape ${fmt(t.shape)}`);
  }
  const prev = t.grad;
  // A gradient owns its storage: a view into another tensor's memory (a slice of cat's gradient,
  // a reshape of another leaf's) would let an in-place update of one grad hit both.
  const next = prev ? prev.add(g) : createGraph || g._ownsStorage ? g : g.clone();
  if (prev && !createGraph) prev.dispose();
  t.grad = keep(owned.take(next));
}

/**
 * Gradients of `outputs` with respect to `inputs`, returned rather than accumulated into
 * `.grad` (PyTorch's torch.autograd.grad). `inputs` is one tensor or a list; the result is a
 * list either way, as PyTorch's tuple. With `createGraph`, the results are differentiable.
 *
 * @example
 * const [dx] = grad(x.pow(3).sum(), [x], { createGraph: true }); // 3x²
 * const [ddx] = grad(dx.sum(), [x]);                                 // 6x
 */
export function grad(
  outputs: Tensor | readonly Tensor[],
  inputs: Tensor | readonly Tensor[],
  opts: BackwardOptions & { gradOutputs?: readonly Tensor[]; allowUnused?: boolean } = {},
): (Tensor | null)[] {
  const outs = Array.isArray(outputs) ? (outputs as Tensor[]) : [outputs as Tensor];
  assertTensorList('grad', outs, 'outputs');
  const ins = Array.isArray(inputs) ? (inputs as readonly Tensor[]) : [inputs as Tensor];
  assertTensorList('grad', ins, 'inputs');
  check(isPlainObject(opts as unknown), 'grad', () => `options must be an object such as { createGraph: true }, got ${describeValue(opts)}`);
  for (const x of ins) {
    if (!x.requiresGrad) throw new TsgradError('grad', `an input of shape ${fmt(x.shape)} does not require grad; set requiresGrad: true`);
  }
  const gradOutputs = opts.gradOutputs ?? outs.map((o) => defaultGrad('grad', o));
  const got = runBackward(outs, gradOutputs, { ...opts, capture: ins });
  return ins.map((x) => {
    const g = got.get(x) ?? null;
    if (!g && !opts.allowUnused) {
      throw new TsgradError('grad', `an input of shape ${fmt(x.shape)} was not used to compute the outputs; pass { allowUnused: true } to get null`);
    }
    return g;
  });
}

/** The implicit gradient of a scalar output: ones. */
export function defaultGrad(op: string, out: Tensor): Tensor {
  if (out.size !== 1) {
    throw new TsgradError(op, `output of shape ${fmt(out.shape)} is not a scalar; pass a gradient of the same shape (e.g. backward(ones(shape)))`);
  }
  return out.onesLike();
}

/** Sums a broadcast gradient back down to `shape` (the backward of broadcasting). */
function sumTo(g: Tensor, shape: readonly number[]): Tensor {
  if (shapesEqual(g.shape, shape)) return g;
  const lead = g.shape.length - shape.length;
  const axes: number[] = [];
  g.shape.forEach((d, i) => {
    if (i < lead || (shape[i - lead] === 1 && d !== 1)) axes.push(i);
  });
  const summed = axes.length ? g.sum(axes, true) : g;
  return summed.reshape(shape);
}
