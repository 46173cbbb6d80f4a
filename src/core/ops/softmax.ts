import { record } from '../autograd.js';
import { isFloat } from '../dtype.js';
import { normalizeAxis } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { wrap } from './operands.js';

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
  const a = normalizeAxis('softmax', axis, x.ndim);
  const fused = fusedSoftmax('softmax', x, a, false);
  if (fused) return fused;
  const e = x.sub(x.max(a, true).detach()).exp();
  return e.div(e.sum(a, true));
}

/** log(softmax(x)) computed as x − max − log Σ exp(x − max), stable for large logits. */
export function logSoftmax(x: Tensor, axis: number): Tensor {
  const a = normalizeAxis('logSoftmax', axis, x.ndim);
  const fused = fusedSoftmax('logSoftmax', x, a, true);
  if (fused) return fused;
  const shifted = x.sub(x.max(a, true).detach());
  return shifted.sub(shifted.exp().sum(a, true).log());
}

/** The backend's fused kernel and its gradient, or null when the backend has none. */
function fusedSoftmax(op: string, x: Tensor, axis: number, log: boolean): Tensor | null {
  const b = x._storageRef(op).backend;
  const kernel = b.fused?.softmax;
  // Ints and empty axes take the composed path, which reports them.
  if (!kernel || !isFloat(x.dtype) || !(x.shape[axis]! > 0)) return null;
  const out = wrap(b, kernel(x._view(op), axis, log), x.shape, x.dtype);
  return record(op, [x], out, [out], (g) => [
    log ? g.sub(out.exp().mul(g.sum(axis, true))) : out.mul(g.sub(g.mul(out).sum(axis, true))),
  ]);
}
