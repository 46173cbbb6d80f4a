import { normalizeAxis } from '../shape.js';
import type { Tensor } from '../tensor.js';

// Composed from primitives, so gradients (and second-order ones) come from theirs. The max is
// detached: subtracting any constant leaves softmax unchanged, so it needs no gradient.

/**
 * Softmax along `axis`, stable for large logits.
 *
 * @example
 * tensor([[1000, 1001]]).softmax(-1); // [[0.269, 0.731]]
 */
export function softmax(x: Tensor, axis: number): Tensor {
  const a = normalizeAxis('softmax', axis, x.ndim);
  const e = x.sub(x.max(a, true).detach()).exp();
  return e.div(e.sum(a, true));
}

/** log(softmax(x)) computed as x − max − log Σ exp(x − max), stable for large logits. */
export function logSoftmax(x: Tensor, axis: number): Tensor {
  const a = normalizeAxis('logSoftmax', axis, x.ndim);
  const shifted = x.sub(x.max(a, true).detach());
  return shifted.sub(shifted.exp().sum(a, true).log());
}
