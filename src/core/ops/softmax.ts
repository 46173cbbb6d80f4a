import { record } from '../autograd.js';
import { isFloat } from '../dtype.js';
import { check } from '../errors.js';
import { normalizeAxis } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { describe, wrap } from './operands.js';
import { defineMethod } from './define.js';

// Two paths. Composed from primitives (max, sub, exp, sum, div/log), softmax runs on every
// backend and its gradients come from theirs; the max is detached, since subtracting any
// constant leaves softmax unchanged. A backend may instead offer one fused kernel (one dispatch,
// no intermediate buffers); its backward is then written here in tensor ops on the output,
// which carries this node, so second-order gradients flow back through it to x.

/**
 * Softmax along `axis`, stable for large logits.
 *
 * @example
 * tensor([[1000, 1001]]).softmax(-1); // [[0.269, 0.731]]
 */
export function softmax(x: Tensor, axis: number): Tensor {
  const a = checkInput('softmax', x, axis);
  if (x.ndim === 0) return softmax(x.reshape([1]), 0).reshape([]);
  if (x.size === 0) return x.clone();
  const fused = fusedSoftmax('softmax', x, a, false);
  if (fused) return fused;
  const e = x.sub(x.max(a, true).detach()).exp();
  return e.div(e.sum(a, true));
}

/** log(softmax(x)) computed as x − max − log Σ exp(x − max), stable for large logits. */
export function logSoftmax(x: Tensor, axis: number): Tensor {
  const a = checkInput('logSoftmax', x, axis);
  if (x.ndim === 0) return logSoftmax(x.reshape([1]), 0).reshape([]);
  if (x.size === 0) return x.clone();
  const fused = fusedSoftmax('logSoftmax', x, a, true);
  if (fused) return fused;
  const shifted = x.sub(x.max(a, true).detach());
  return shifted.sub(shifted.exp().sum(a, true).log());
}

/** The normalized axis; a 0-d tensor takes axis 0 or -1 and an empty one passes through (as PyTorch). */
function checkInput(op: string, x: Tensor, axis: number): number {
  check(isFloat(x.dtype), op, () => `needs a float tensor, got ${describe(x)}; cast first with t.cast('float32')`);
  return normalizeAxis(op, axis, Math.max(x.ndim, 1));
}

/** The backend's fused kernel and its gradient, or null when the backend has none. */
function fusedSoftmax(op: string, x: Tensor, axis: number, log: boolean): Tensor | null {
  const b = x._storageRef(op).backend;
  const kernel = b.fused?.softmax;
  // Ints and empty axes take the composed path, which reports them.
  if (!kernel || !isFloat(x.dtype) || !(x.shape[axis]! > 0)) return null;
  const out = wrap(b, kernel(x._view(op), axis, log), x.shape, x.dtype);
  return record(op, [x], out, [out], (g) => [log ? g.sub(out.exp().mul(g.sum(axis, true))) : softmaxBackward(out, g, axis)]);
}

/**
 * Softmax's backward for its output y and gradient g, y·(g − Σ g·y) along `axis`: the backend's
 * fused kernel where it takes these views, recorded with its own gradient so second-order
 * gradients flow, else composed (the reference the kernel is tested against).
 */
export function softmaxBackward(y: Tensor, g: Tensor, axisIn: number): Tensor {
  const axis = normalizeAxis('softmax', axisIn, Math.max(y.ndim, 1));
  const b = y._storageRef('softmax').backend;
  const storage = b.fused?.softmaxBackward?.(y._view('softmax'), g._view('softmax'), axis) ?? null;
  if (!storage) return y.mul(g.sub(g.mul(y).sum(axis, true)));
  const out = wrap(b, storage, y.shape, y.dtype);
  // With s = Σ g·y, ∂out_i/∂y_j = δ_ij·(g_i − s) − y_i·g_j and ∂out/∂g is symmetric, so the
  // gradient for g is this same backward of h.
  return record('softmaxBackward', [y, g], out, [y, g], (h, [ny, ng]) => [
    ny ? h.mul(g.sub(g.mul(y).sum(axis, true))).sub(g.mul(h.mul(y).sum(axis, true))) : null,
    ng ? softmaxBackward(y, h, axis) : null,
  ]);
}

declare module '../tensor.js' {
  interface Tensor {
    /** Softmax along `axis`, stable for large values. @example logits.softmax(-1) */
    softmax(axis: number): Tensor;
    /** log(softmax) along `axis`, computed stably. @example logits.logSoftmax(-1) */
    logSoftmax(axis: number): Tensor;
  }
}

defineMethod('softmax', ['axis:int'], function (axis) { return softmax(this, axis); });
defineMethod('logSoftmax', ['axis:int'], function (axis) { return logSoftmax(this, axis); });
