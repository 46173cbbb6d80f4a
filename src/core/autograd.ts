import { anomalyEnabled, checkedBackward } from './anomaly.js';
import { TsgradError, fmt } from './errors.js';
import { keep, scope } from './scope.js';
import { shapesEqual } from './shape.js';
import type { Tensor } from './tensor.js';

/**
 * Computes the gradients of one op's inputs from the gradient of its output. `needs[i]` says
 * whether input i wants a gradient; an entry that is not needed must be `null` and cost nothing.
 */
export type BackwardFn = (grad: Tensor, needs: readonly boolean[]) => (Tensor | null)[];

/** One recorded op: the edge from an output back to its inputs (PyTorch's grad_fn). */
export interface GradNode {
  readonly op: string;
  readonly inputs: readonly Tensor[];
  /** Tensors kept alive for the backward step; dropped when the graph is released. */
  saved: readonly Tensor[] | null;
  /** The saved tensors' storage versions at record time (an in-place write changes them). */
  readonly versions: readonly number[];
  backward: BackwardFn | null;
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

/** Attaches a backward step to `out` when grad mode is on and some input requires grad. */
export function record(op: string, inputs: readonly Tensor[], out: Tensor, saved: readonly Tensor[], backward: BackwardFn): Tensor {
  if (gradEnabled && inputs.some((t) => t.requiresGrad)) {
    const bw = anomalyEnabled() ? checkedBackward(op, inputs, out, backward) : backward;
    out._setNode({ op, inputs, saved, versions: saved.map((t) => t._version), backward: bw });
  }
  return out;
}

/** Tensors reachable from `outputs` through recorded ops, inputs before the ops that use them. */
export function topoSort(outputs: readonly Tensor[]): Tensor[] {
  const order: Tensor[] = [];
  const visited = new Set<Tensor>();
  const stack: [Tensor, number][] = outputs.filter((t) => t.requiresGrad).map((t) => [t, 0]);
  while (stack.length) {
    const top = stack[stack.length - 1]!;
    const [t, i] = top;
    if (i === 0 && visited.has(t)) {
      stack.pop();
      continue;
    }
    visited.add(t);
    const inputs = t.gradFn?.inputs ?? [];
    if (i < inputs.length) {
      top[1]++;
      const next = inputs[i]!;
      if (next.requiresGrad && !visited.has(next)) stack.push([next, 0]);
    } else {
      stack.pop();
      order.push(t);
    }
  }
  return order;
}

export interface BackwardOptions {
  /** Keep the graph so backward can run through it again. */
  retainGraph?: boolean;
  /** Record the backward pass itself, for higher-order gradients. Implies retainGraph. */
  createGraph?: boolean;
}

/**
 * The engine: walks the graph once in reverse topological order, summing each tensor's
 * gradient before passing it on. With `capture`, gradients of those tensors are returned
 * instead of accumulated into leaves' `.grad`, and only the ops leading to them run.
 */
export function runBackward(
  outputs: readonly Tensor[],
  outGrads: readonly Tensor[],
  opts: BackwardOptions & { capture?: readonly Tensor[] },
): Map<Tensor, Tensor> {
  const createGraph = opts.createGraph ?? false;
  const retainGraph = opts.retainGraph ?? createGraph;
  const order = topoSort(outputs);
  const capture = opts.capture ? new Set(opts.capture) : null;
  // With capture, an op runs only when its output leads to a captured tensor.
  const useful = new Set<Tensor>();
  for (const t of order) {
    if (capture ? capture.has(t) || t.gradFn?.inputs.some((i) => useful.has(i)) : true) useful.add(t);
  }
  const grads = new Map<Tensor, Tensor>();
  // Tensors handed out (user gradients, leaves' .grad, grad()'s results) outlive this call, and
  // no two receivers share one tensor object.
  const claimed = new Set<Tensor>(outGrads);
  const claim = (g: Tensor): Tensor => {
    const own = claimed.has(g) ? g.clone() : g;
    claimed.add(own);
    return own;
  };
  const add = (t: Tensor, g: Tensor) => {
    const prev = grads.get(t);
    grads.set(t, prev ? prev.add(g) : g);
  };
  outputs.forEach((t, i) => add(t, outGrads[i]!));
  const result = new Map<Tensor, Tensor>();

  const step = () => {
    for (let k = order.length - 1; k >= 0; k--) {
      const t = order[k]!;
      const g = grads.get(t);
      if (!g || !useful.has(t)) continue;
      if (capture?.has(t)) result.set(t, claim(g));
      const node = t.gradFn;
      if (!node) {
        if (!capture) accumulate(t, g, createGraph, claim);
        continue;
      }
      checkUsable(t, node);
      const needs = node.inputs.map((i) => i.requiresGrad && useful.has(i));
      const inGrads = node.backward!(g, needs);
      node.inputs.forEach((input, i) => {
        const ig = inGrads[i];
        if (needs[i] && ig) add(input, ig);
      });
    }
    return [...claimed];
  };
  // Without createGraph, every tensor the walk creates (partial sums, masks, intermediate
  // gradients) is freed at its end, except the claimed ones; with it they form the new graph.
  if (createGraph) step();
  else scope(() => noGradRun(step));

  if (!retainGraph) for (const t of order) if (t.gradFn) release(t.gradFn);
  return result;
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

function noGradRun<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/** Drops what a node kept for backward; tensors a scope left to the graph are freed with it. */
function release(node: GradNode): void {
  for (const t of node.saved ?? []) if (t._freeWithGraph) t.dispose();
  for (const t of node.inputs) if (t._freeWithGraph) t.dispose();
  node.backward = null;
  node.saved = null;
}

/** Adds `g` into a leaf's `.grad` (its own contiguous tensor, kept out of scopes). */
function accumulate(leaf: Tensor, g: Tensor, createGraph: boolean, claim: (g: Tensor) => Tensor): void {
  if (!shapesEqual(g.shape, leaf.shape)) {
    throw new TsgradError('backward', `gradient of shape ${fmt(g.shape)} does not match leaf of shape ${fmt(leaf.shape)}`);
  }
  const prev = leaf.grad;
  // A leaf's gradient owns its storage: a view into another tensor's memory (a slice of cat's
  // gradient, a reshape of another leaf's) would let an in-place update of one grad hit both.
  const next = prev ? prev.add(g) : createGraph || g._ownsStorage ? g : g.clone();
  if (prev && !createGraph) prev.dispose();
  leaf.grad = keep(claim(next));
}

/**
 * Gradients of `outputs` with respect to `inputs`, returned rather than accumulated into
 * `.grad` (PyTorch's torch.autograd.grad). With `createGraph`, the results are differentiable.
 *
 * @example
 * const [dx] = grad(x.pow(3).sum(), [x], { createGraph: true }); // 3x²
 * const [ddx] = grad(dx.sum(), [x]);                                 // 6x
 */
export function grad(
  outputs: Tensor | readonly Tensor[],
  inputs: readonly Tensor[],
  opts: BackwardOptions & { gradOutputs?: readonly Tensor[]; allowUnused?: boolean } = {},
): (Tensor | null)[] {
  const outs = Array.isArray(outputs) ? (outputs as Tensor[]) : [outputs as Tensor];
  for (const x of inputs) {
    if (!x.requiresGrad) throw new TsgradError('grad', `an input of shape ${fmt(x.shape)} does not require grad; set requiresGrad: true`);
  }
  const gradOutputs = opts.gradOutputs ?? outs.map((o) => defaultGrad('grad', o));
  const got = runBackward(outs, gradOutputs, { ...opts, capture: inputs });
  return inputs.map((x) => {
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
