import { check, fmt } from '../errors.js';
import { normalizeAxis } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { intConstant } from './constants.js';
import { defineMethod } from './define.js';

/** Values and their int32 indices; destructures like PyTorch's `(values, indices)` tuple too. */
export type ValuesIndices = [Tensor, Tensor] & { values: Tensor; indices: Tensor };

function pair(values: Tensor, indices: Tensor): ValuesIndices {
  return Object.assign([values, indices] as [Tensor, Tensor], { values, indices });
}

/**
 * Sort indices along the last axis, from comparisons only, so every backend runs it with its
 * existing kernels and no readback: element i's rank counts the elements before it (smaller, or
 * equal and earlier: a stable sort), and position r takes the element of rank r. It costs n²
 * comparisons per row, fine for the few thousand elements of a vocabulary.
 */
function sortIndices(x: Tensor, descending: boolean): Tensor {
  const n = x.shape[x.ndim - 1]!;
  const b = x._backend;
  const xi = x.unsqueeze(-1), xj = x.unsqueeze(-2);
  const earlier = intConstant(b, [n, n], (k) => Number(k % n < Math.floor(k / n)));
  const before = (descending ? xj.gt(xi) : xj.lt(xi)).add(xj.eq(xi).mul(earlier));
  const rank = before.sum(-1);
  const position = intConstant(b, [n, 1], (k) => k);
  const source = intConstant(b, [n], (k) => k);
  return rank.unsqueeze(-2).eq(position).mul(source).sum(-1);
}

/**
 * Sorts along `axis` (ascending unless `descending`), stably; returns the values (differentiable,
 * through gather) and int32 indices. NaN elements are not ordered. Costs n² comparisons per row.
 *
 * @example
 * const [values, indices] = tensor([3, 1, 2]).sort(); // [1, 2, 3], [1, 2, 0]
 */
export function sort(x: Tensor, axis = -1, descending = false): ValuesIndices {
  if (x.ndim === 0) {
    normalizeAxis('sort', axis, 1);
    return pair(x.clone(), x.zerosLike().cast('int32'));
  }
  const a = normalizeAxis('sort', axis, x.ndim);
  const last = x.ndim - 1;
  const indices = sortIndices(x.transpose(a, last), descending).transpose(a, last).contiguous();
  return pair(x.gather(a, indices), indices);
}

/** The int32 indices that sort `x` along `axis`. @example tensor([3, 1, 2]).argsort() // [1, 2, 0] */
export function argsort(x: Tensor, axis = -1, descending = false): Tensor {
  return sort(x, axis, descending).indices;
}

/**
 * The `k` largest (or, with `largest: false`, smallest) elements along `axis`, in order, with
 * their int32 indices.
 *
 * @example
 * const [top, idx] = logits.topk(5); // the 5 best classes per row
 */
export function topk(x: Tensor, k: number, axis = -1, largest = true): ValuesIndices {
  const a = normalizeAxis('topk', axis, Math.max(x.ndim, 1));
  const n = x.ndim === 0 ? 1 : x.shape[a]!;
  check(Number.isInteger(k) && k >= 0 && k <= n, 'topk', () => `k = ${k} must be an integer in 0..${n} for axis ${axis} of shape ${fmt(x.shape)}`);
  const { values, indices } = sort(x, axis, largest);
  if (x.ndim === 0) return pair(values, indices);
  const ranges = x.shape.map((d, i) => (i === a ? [0, k] : [0, d]) as [number, number]);
  return pair(values.slice(ranges), indices.slice(ranges));
}

declare module '../tensor.js' {
  interface Tensor {
    /** Stable sort along `axis`: `[values, indices]` (also `.values`, `.indices`). @example const [v, i] = x.sort(-1, true) */
    sort(axis?: number, descending?: boolean): ValuesIndices;
    /** Indices (int32) that sort along `axis`. @example x.argsort() */
    argsort(axis?: number, descending?: boolean): Tensor;
    /** The k largest (or smallest) along `axis`: `[values, indices]`. @example const [v, i] = logits.topk(3) */
    topk(k: number, axis?: number, largest?: boolean): ValuesIndices;
  }
}

defineMethod('sort', ['axis:int?', 'descending:bool?'], function (axis, descending) { return sort(this, axis, descending); });
defineMethod('argsort', ['axis:int?', 'descending:bool?'], function (axis, descending) { return argsort(this, axis, descending); });
defineMethod('topk', ['k:int', 'axis:int?', 'largest:bool?'], function (k, axis, largest) { return topk(this, k, axis, largest); });
