import { normalizeAxis } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { cat } from './join.js';
import { wrap } from './operands.js';
import { defineMethod } from './define.js';

/**
 * Running sums along `axis`, composed as a Hillis–Steele scan: ⌈log₂ n⌉ shifted adds, so it runs
 * on every backend and its gradient (a reversed running sum) comes from the adds.
 *
 * @example
 * tensor([1, 2, 3, 4]).cumsum(0); // [1, 3, 6, 10]
 */
export function cumsum(x: Tensor, axis: number): Tensor {
  if (x.ndim === 0) {
    normalizeAxis('cumsum', axis, 1);
    return x.clone();
  }
  const a = normalizeAxis('cumsum', axis, x.ndim);
  const n = x.shape[a]!;
  const b = x._backend;
  let y = x;
  for (let k = 1; k < n; k *= 2) {
    const padShape = x.shape.map((d, i) => (i === a ? k : d));
    const pad = wrap(b, b.fill(padShape.reduce((p, d) => p * d, 1), x.dtype, 0), padShape, x.dtype);
    const head = y.slice(x.shape.map((d, i) => (i === a ? [0, n - k] : [0, d]) as [number, number]));
    y = y.add(cat([pad, head], a));
  }
  return y === x ? x.clone() : y;
}

declare module '../tensor.js' {
  interface Tensor {
    /** Running sums along `axis`. @example tensor([1, 2, 3]).cumsum(0) // [1, 3, 6] */
    cumsum(axis: number): Tensor;
  }
}

defineMethod('cumsum', ['axis:int'], function (axis) { return cumsum(this, axis); });
