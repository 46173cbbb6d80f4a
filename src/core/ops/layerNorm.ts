import { isGradEnabled, record } from '../autograd.js';
import type { Tensor } from '../tensor.js';
import { wrap } from './operands.js';

// Two paths, as softmax. Composed from mean, sub, mul and sqrt, LayerNorm runs on every backend
// and its gradients come from theirs. A backend may instead offer fused kernels: one pass for
// the forward (keeping each row's mean and 1/std), one for the backward (dx, dweight and dbias
// together). The backward is also written here in tensor ops, recomputing the statistics from
// x: it is what a gradient that must itself be differentiated (createGraph) runs, what runs when
// the backend has no backward kernel, and the reference the kernels are tested against.

/**
 * LayerNorm over the last dim of `x` [..., D]: (x − mean) / √(var + eps) · weight + bias, the
 * variance biased, `weight` and `bias` [D] or null. Inputs are checked by the caller
 * (`nn.functional.layerNorm`).
 *
 * @example
 * layerNorm(x, gamma, beta, 1e-5);
 */
export function layerNorm(x: Tensor, weight: Tensor | null, bias: Tensor | null, eps: number): Tensor {
  const op = 'layerNorm';
  const b = x._storageRef(op).backend;
  const kernel = b.fused?.layerNorm;
  const sameDType = [weight, bias].every((t) => !t || t.dtype === x.dtype);
  if (!kernel || x.size === 0 || x.dtype === 'int32' || !sameDType) return composedLayerNorm(x, weight, bias, eps);
  const [y, mean, rstd] = kernel(x._view(op), weight?._view(op) ?? null, bias?._view(op) ?? null, eps);
  const rows = [...x.shape.slice(0, -1), 1];
  const out = wrap(b, y, x.shape, x.dtype);
  const mu = wrap(b, mean, rows, x.dtype), rs = wrap(b, rstd, rows, x.dtype);
  const inputs = [x, weight, bias].filter((t): t is Tensor => t !== null);
  record(op, inputs, out, [x, ...(weight ? [weight] : []), mu, rs], (g) => {
    const [dx, dw, db] = layerNormBackward(g, x, weight, eps, { mean: mu, rstd: rs });
    return [dx, ...(weight ? [dw] : []), ...(bias ? [db] : [])];
  });
  if (!out.gradFn) {
    mu.dispose();
    rs.dispose();
  }
  return out;
}

/** LayerNorm in tensor ops, whose gradients are those of its primitives. */
export function composedLayerNorm(x: Tensor, weight: Tensor | null, bias: Tensor | null, eps: number): Tensor {
  const centered = x.sub(x.mean(-1, true));
  const variance = centered.mul(centered).mean(-1, true);
  let y = centered.div(variance.add(eps).sqrt());
  if (weight) y = y.mul(weight);
  if (bias) y = y.add(bias);
  return y;
}

/**
 * The gradients of LayerNorm's output, given `g`, with respect to x, weight and bias (the last
 * two [D]): with x̂ = (x − mean)·rstd and ĝ = g·weight, dx = rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)),
 * dweight = Σ g·x̂ and dbias = Σ g over the rows. The backend's fused kernel computes them from
 * the forward's saved statistics when no graph of the gradient is wanted; otherwise tensor ops
 * recompute the statistics from x, so that second-order gradients reach x through them.
 */
export function layerNormBackward(g: Tensor, x: Tensor, weight: Tensor | null, eps: number, saved?: { mean: Tensor; rstd: Tensor }): [Tensor, Tensor, Tensor] {
  const op = 'layerNorm';
  const b = x._storageRef(op).backend;
  const kernel = b.fused?.layerNormBackward;
  const d = x.shape[x.ndim - 1]!;
  if (kernel && saved && !isGradEnabled()) {
    const [dx, dw, db] = kernel(g._view(op), x._view(op), saved.mean._view(op), saved.rstd._view(op), weight?._view(op) ?? null);
    return [wrap(b, dx, x.shape, x.dtype), wrap(b, dw, [d], x.dtype), wrap(b, db, [d], x.dtype)];
  }
  const centered = x.sub(x.mean(-1, true));
  const std = centered.mul(centered).mean(-1, true).add(eps).sqrt();
  const xhat = centered.div(std);
  const gy = weight ? g.mul(weight) : g;
  const dx = gy.sub(gy.mean(-1, true)).sub(xhat.mul(gy.mul(xhat).mean(-1, true))).div(std);
  const rowsOf = (t: Tensor) => t.reshape([-1, d]).sum(0);
  return [dx, rowsOf(g.mul(xhat)), rowsOf(g)];
}
