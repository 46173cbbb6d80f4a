import { check, fmt } from '../errors.js';
import { normalizeAxis } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { defineMethod } from './define.js';

/**
 * Merges dims `startDim..endDim` (inclusive) into one; all dims by default.
 *
 * @example
 * randn([2, 3, 4]).flatten(1); // [2, 12]
 */
export function flatten(x: Tensor, startDim = 0, endDim = -1): Tensor {
  if (x.ndim === 0) return x.reshape([1]);
  const s = normalizeAxis('flatten', startDim, x.ndim), e = normalizeAxis('flatten', endDim, x.ndim);
  check(s <= e, 'flatten', () => `startDim ${startDim} comes after endDim ${endDim} for shape ${fmt(x.shape)}`);
  const merged = x.shape.slice(s, e + 1).reduce((p, d) => p * d, 1);
  return x.reshape([...x.shape.slice(0, s), merged, ...x.shape.slice(e + 1)]);
}

/**
 * Splits dim `axis` into `sizes` (one may be −1), the inverse of `flatten`.
 *
 * @example
 * randn([2, 12]).unflatten(1, [3, 4]); // [2, 3, 4]
 */
export function unflatten(x: Tensor, axis: number, sizes: readonly number[]): Tensor {
  const a = normalizeAxis('unflatten', axis, x.ndim);
  const n = x.shape[a]!;
  const known = sizes.filter((d) => d !== -1).reduce((p, d) => p * d, 1);
  const filled = sizes.map((d) => (d === -1 && known > 0 ? n / known : d));
  check(sizes.length > 0 && filled.every((d) => Number.isInteger(d) && d >= 0) && filled.reduce((p, d) => p * d, 1) === n, 'unflatten', () =>
    `sizes ${fmt(sizes)} do not multiply to ${n}, the size of axis ${axis} of shape ${fmt(x.shape)}`);
  return x.reshape([...x.shape.slice(0, a), ...filled, ...x.shape.slice(a + 1)]);
}

declare module '../tensor.js' {
  interface Tensor {
    /** Merges dims `startDim..endDim` into one (all by default). @example randn([2, 3, 4]).flatten(1) // [2, 12] */
    flatten(startDim?: number, endDim?: number): Tensor;
    /** Splits dim `axis` into `sizes`. @example randn([2, 12]).unflatten(1, [3, 4]) */
    unflatten(axis: number, sizes: readonly number[]): Tensor;
  }
}

defineMethod('flatten', ['startDim:int?', 'endDim:int?'], function (startDim, endDim) { return flatten(this, startDim, endDim); });
defineMethod('unflatten', ['axis:int', 'sizes:numbers'], function (axis, sizes) { return unflatten(this, axis, sizes); });
