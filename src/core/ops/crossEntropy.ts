import { isGradEnabled, record } from '../autograd.js';
import type { Tensor } from '../tensor.js';
import { intConstant } from './constants.js';
import { where } from './elementwise.js';
import { wrap } from './operands.js';

// Two paths, as LayerNorm (see layerNorm.ts). Composed, the loss is log-softmax, a gather of each
// target and (with label smoothing) a sum, and its gradient is theirs. A backend may instead
// offer fused kernels: one for the loss (keeping the log-softmax), one for the gradient of the
// logits. The gradient is also written here in tensor ops: it runs when a graph of the
// gradient is wanted (createGraph) or the backend has no backward kernel, and it is the
// reference the kernels are tested against.

/**
 * Cross-entropy of each row of `scores` [..., C] against int32 class indices `target` [...]:
 * log Σ exp(x) − (1 − ε)·x[t] − (ε/C)·Σ x with ε = `labelSmoothing`, and 0 where the target is
 * `ignoreIndex`. Shapes and target values are checked by the caller (`nn.functional.crossEntropy`).
 *
 * @example
 * crossEntropyRows(logits, targets, -100, 0).mean();
 */
export function crossEntropyRows(scores: Tensor, target: Tensor, ignoreIndex: number, labelSmoothing: number): Tensor {
  const op = 'crossEntropy';
  const b = scores._storageRef(op).backend;
  const kernel = b.fused?.crossEntropy;
  if (!kernel || scores.size === 0 || scores.dtype === 'int32') return composedCrossEntropy(scores, target, ignoreIndex, labelSmoothing);
  const [loss, logp] = kernel(scores._view(op), target._view(op), ignoreIndex, labelSmoothing);
  const out = wrap(b, loss, target.shape, scores.dtype);
  const logProbs = wrap(b, logp, scores.shape, scores.dtype);
  record(op, [scores], out, [scores, target, logProbs], (g) => [crossEntropyBackward(g, scores, target, ignoreIndex, labelSmoothing, logProbs)]);
  if (!out.gradFn) logProbs.dispose();
  return out;
}

/** The cross-entropy of each row in tensor ops, whose gradient is that of its primitives. */
export function composedCrossEntropy(scores: Tensor, target: Tensor, ignoreIndex: number, labelSmoothing: number): Tensor {
  const logp = scores.logSoftmax(-1);
  const keep = target.ne(ignoreIndex);
  const kept = keep.cast(scores.dtype);
  const nll = logp.gather(-1, where(keep, target, 0).unsqueeze(-1)).squeeze(-1).neg().mul(kept);
  if (labelSmoothing === 0) return nll;
  const c = scores.shape[scores.ndim - 1]!;
  return nll.mul(1 - labelSmoothing).add(logp.sum(-1).mul(-labelSmoothing / c).mul(kept));
}

/**
 * The gradient of the rows' losses, given `g` [...], with respect to the scores:
 * g·(softmax(x) − (1 − ε)·onehot(t) − ε/C), 0 on ignored rows. The backend's kernel computes it
 * from the forward's log-softmax when no graph of the gradient is wanted; otherwise tensor ops do.
 */
export function crossEntropyBackward(g: Tensor, scores: Tensor, target: Tensor, ignoreIndex: number, labelSmoothing: number, logp?: Tensor): Tensor {
  const op = 'crossEntropy';
  const b = scores._storageRef(op).backend;
  const kernel = b.fused?.crossEntropyBackward;
  if (kernel && logp && !isGradEnabled()) {
    return wrap(b, kernel(g._view(op), logp._view(op), target._view(op), ignoreIndex, labelSmoothing), scores.shape, scores.dtype);
  }
  const c = scores.shape[scores.ndim - 1]!;
  const keep = target.ne(ignoreIndex);
  const onehot = where(keep, target, 0).unsqueeze(-1).eq(intConstant(b, [c], (k) => k)).cast(scores.dtype);
  const perRow = g.mul(keep.cast(scores.dtype)).unsqueeze(-1);
  return scores.softmax(-1).sub(onehot.mul(1 - labelSmoothing)).sub(labelSmoothing / c).mul(perRow);
}
