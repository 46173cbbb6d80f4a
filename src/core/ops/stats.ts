import { noGrad } from '../autograd.js';
import { check, fmt } from '../errors.js';
import { normalizeAxes } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { where } from './elementwise.js';
import { defineMethod } from './define.js';

/** Options of `var`/`std`: Bessel's correction and keeping reduced dims. */
export interface VarOptions {
  /** Divide by n − 1 (Bessel's correction, PyTorch's default) rather than n. */
  unbiased?: boolean;
  keepdim?: boolean;
}

/**
 * Variance over `axis` (all axes when omitted), unbiased by default as in PyTorch; with one
 * element and `unbiased` the result is NaN, as there.
 *
 * @example
 * tensor([1, 2, 3, 4]).var(); // 1.6667
 */
export function variance(x: Tensor, axis?: number | number[], opts: VarOptions = {}): Tensor {
  const axes = normalizeAxes('var', axis, x.ndim);
  const n = axes.reduce((p, a) => p * x.shape[a]!, 1);
  check(n > 0, 'var', () => `cannot take the variance over empty axes of shape ${fmt(x.shape)}`);
  const centered = x.sub(x.mean(axes, true));
  return centered.mul(centered).sum(axes, opts.keepdim ?? false).div(n - (opts.unbiased ?? true ? 1 : 0));
}

/** Standard deviation: the square root of `var`. @example randn([100]).std() // ≈ 1 */
export function std(x: Tensor, axis?: number | number[], opts: VarOptions = {}): Tensor {
  return variance(x, axis, opts).sqrt();
}

/**
 * log Σ exp(x) over `axis`, computed around the (detached) maximum so large values stay finite;
 * rows of −∞ give −∞.
 *
 * @example
 * tensor([[1000, 1000]]).logsumexp(1); // [1000.6931]
 */
export function logsumexp(x: Tensor, axis: number | number[], keepdim = false): Tensor {
  const axes = normalizeAxes('logsumexp', axis, x.ndim);
  check(axes.every((a) => x.shape[a]! > 0), 'logsumexp', () => `cannot reduce over an empty axis of shape ${fmt(x.shape)}`);
  const m = noGrad(() => {
    const raw = x.max(axes, true);
    return where(raw.abs().eq(Infinity), 0, raw);
  });
  const out = x.sub(m).exp().sum(axes, true).log().add(m);
  return keepdim ? out : out.reshape(x.shape.filter((_, i) => !axes.includes(i)));
}

declare module '../tensor.js' {
  interface Tensor {
    /** Variance (unbiased by default) over `axis`, or all. @example x.var(0, { unbiased: false }) */
    var(axis?: number | number[], opts?: VarOptions): Tensor;
    /** Standard deviation (unbiased by default) over `axis`, or all. @example x.std(-1, { keepdim: true }) */
    std(axis?: number | number[], opts?: VarOptions): Tensor;
    /** log Σ exp over `axis`, stable for large values. @example logits.logsumexp(-1) */
    logsumexp(axis: number | number[], keepdim?: boolean): Tensor;
  }
}

defineMethod('var', ['axis:axes?', 'opts:object?'], function (axis, opts) { return variance(this, axis, opts); });
defineMethod('std', ['axis:axes?', 'opts:object?'], function (axis, opts) { return std(this, axis, opts); });
defineMethod('logsumexp', ['axis:axes', 'keepdim:bool?'], function (axis, keepdim) { return logsumexp(this, axis, keepdim); });
