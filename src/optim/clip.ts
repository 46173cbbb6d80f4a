import { noGrad } from '../core/autograd.js';
import { check } from '../core/errors.js';
import { scope } from '../core/scope.js';
import type { Tensor } from '../core/tensor.js';
import { assertTensor, describeValue, isPlainObject } from '../core/validate.js';

/**
 * Rescales the gradients of `params` in place so their joint norm is at most `maxNorm`
 * (PyTorch's clip_grad_norm_: factor min(1, maxNorm / (norm + 1e-6))). Returns the norm
 * before clipping as a 0-d tensor; nothing is read back, so it is cheap on a GPU.
 *
 * @example
 * const norm = optim.clipGradNorm(model.parameters(), 1.0);
 */
export function clipGradNorm(params: Iterable<Tensor>, maxNorm: number, opts: { normType?: number } = {}): Tensor | null {
  check(typeof params === 'object' && params !== null && Symbol.iterator in params, 'clipGradNorm', () =>
    `params must be an iterable of tensors such as model.parameters(), got ${describeValue(params)}`);
  check(isPlainObject(opts), 'clipGradNorm', () => `options must be an object such as { normType: 2 }, got ${describeValue(opts)}`);
  const normType = opts.normType ?? 2;
  check(typeof maxNorm === 'number' && maxNorm >= 0, 'clipGradNorm', () => `maxNorm must be ≥ 0, got ${describeValue(maxNorm)}`);
  check(normType === Infinity || (typeof normType === 'number' && normType > 0), 'clipGradNorm', () => `normType must be > 0 or Infinity, got ${describeValue(normType)}`);
  const list = [...params];
  list.forEach((p, i) => assertTensor('clipGradNorm', p, `params[${i}]`));
  const grads = list.flatMap((p) => (p.grad ? [p.grad] : []));
  grads.forEach((g) => assertTensor('clipGradNorm', g, 'a gradient'));
  if (grads.length === 0) return null;
  return noGrad(() =>
    scope(() => {
      const parts = grads.map((g) => (normType === Infinity ? g.abs().max() : g.abs().pow(normType).sum()));
      const total = normType === Infinity
        ? parts.reduce((a, b) => a.maximum(b))
        : parts.reduce((a, b) => a.add(b)).pow(1 / normType);
      const coef = total.add(1e-6).pow(-1).mul(maxNorm).minimum(1);
      for (const g of grads) g.copy_(g.mul(coef));
      return total;
    }),
  );
}
