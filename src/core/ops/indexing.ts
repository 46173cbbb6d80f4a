import { record } from '../autograd.js';
import { check, fmt } from '../errors.js';
import { normalizeAxis } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { assertIndexRange, assertTensor } from '../validate.js';
import { broadcastTo, sameBackend, wrap } from './operands.js';
import { defineMethod } from './define.js';

function checkIndex(op: string, x: Tensor, axis: number, index: Tensor): void {
  assertTensor(op, index, 'index');
  check(index.dtype === 'int32', op, () => `index must be int32, got ${index.dtype}`);
  check(index.ndim === x.ndim, op, () => `index of shape ${fmt(index.shape)} must have the rank of input ${fmt(x.shape)}`);
  check(index.shape.every((d, i) => i === axis || d <= x.shape[i]!), op, () =>
    `index of shape ${fmt(index.shape)} is larger than input ${fmt(x.shape)} outside axis ${axis}`);
  // GPU backends write NaN for an out-of-range index instead of reading stray memory.
  const n = x.shape[axis]!;
  assertIndexRange(op, index, n, (bad) => `index ${bad} is out of range for axis ${axis} of size ${n}`);
}

/**
 * torch.gather: picks, along `axis`, the element named by `index` (same rank as `x`).
 *
 * @example
 * logits.gather(1, targets.unsqueeze(1)); // one logit per row
 */
export function gather(x: Tensor, axis: number, index: Tensor): Tensor {
  const a = normalizeAxis('gather', axis, x.ndim);
  checkIndex('gather', x, a, index);
  const b = sameBackend('gather', x, index);
  const out = wrap(b, b.gather(x._view('gather'), a, index._view('gather')), index.shape, x.dtype);
  return record('gather', [x], out, [index], (g) => [scatterAdd(g, a, index, x.shape)]);
}

/** The backward of gather: zeros of `shape` with `src` summed in at `index` along `axis`. */
export function scatterAdd(src: Tensor, axis: number, index: Tensor, shape: readonly number[]): Tensor {
  const b = sameBackend('scatterAdd', src, index);
  const out = wrap(b, b.scatterAdd(src._view('scatterAdd'), axis, index._view('scatterAdd'), shape), shape, src.dtype);
  return record('scatterAdd', [src], out, [index], (g) => [gather(g, axis, index)]);
}

/**
 * Selects whole slices along `axis` by a 1-D int32 index (rows of an embedding table).
 *
 * @example
 * weight.indexSelect(0, tensor([3, 1], { dtype: 'int32' })); // rows 3 and 1
 */
export function indexSelect(x: Tensor, axis: number, index: Tensor): Tensor {
  const a = normalizeAxis('indexSelect', axis, x.ndim);
  assertTensor('indexSelect', index, 'index');
  check(index.ndim === 1, 'indexSelect', () => `index must be 1-D, got shape ${fmt(index.shape)}`);
  check(index.dtype === 'int32', 'indexSelect', () => `index must be int32, got ${index.dtype}`);
  const n = x.shape[a]!;
  assertIndexRange('indexSelect', index, n, (bad) => `index ${bad} is out of range for axis ${axis} of size ${n}`);
  const shape = x.shape.map((d, i) => (i === a ? index.shape[0]! : d));
  const lifted = index.reshape(x.shape.map((_, i) => (i === a ? index.shape[0]! : 1)));
  return gather(x, a, broadcastTo(lifted, shape));
}

declare module '../tensor.js' {
  interface Tensor {
    /** torch.gather: picks elements along `axis` named by an int32 `index` of the same rank. @example logits.gather(1, y.unsqueeze(1)) */
    gather(axis: number, index: Tensor): Tensor;
    /** Whole slices along `axis` at a 1-D int32 index. @example table.indexSelect(0, ids) */
    indexSelect(axis: number, index: Tensor): Tensor;
  }
}

defineMethod('gather', ['axis:int', 'index:tensor'], function (axis, index) { return gather(this, axis, index); });
defineMethod('indexSelect', ['axis:int', 'index:tensor'], function (axis, index) { return indexSelect(this, axis, index); });
