import { record } from '../autograd.js';
import type { ArgReduceOp, ReduceOp } from '../backend.js';
import { check, fmt } from '../errors.js';
import { normalizeAxes, normalizeAxis } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { assertIntSumFits } from '../validate.js';
import { wrap } from './operands.js';
import { defineMethod } from './define.js';

function reducePrim(op: ReduceOp, x: Tensor, axes: number[], keepdim: boolean): Tensor {
  const b = x._storageRef(op).backend;
  const kept = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const out = wrap(b, b.reduce(op, x._view(op), axes), x.shape.filter((_, i) => !axes.includes(i)), x.dtype);
  return keepdim ? out.reshape(kept) : out;
}

/** The output gradient reshaped to keepdim form and broadcast back over the reduced axes. */
function spread(g: Tensor, x: Tensor, axes: number[]): Tensor {
  return g.reshape(x.shape.map((d, i) => (axes.includes(i) ? 1 : d))).expand(x.shape);
}

/**
 * Sum over `axis` (one, several, or all when omitted).
 *
 * @example
 * tensor([[1, 2], [3, 4]]).sum(0); // [4, 6]
 */
export function sum(x: Tensor, axis?: number | number[], keepdim = false): Tensor {
  const axes = normalizeAxes('sum', axis, x.ndim);
  if (x.dtype === 'int32') assertIntSumFits('sum', x, axes);
  const out = reducePrim('sum', x, axes, keepdim);
  return record('sum', [x], out, [], (g) => [spread(g, x, axes)]);
}

export function mean(x: Tensor, axis?: number | number[], keepdim = false): Tensor {
  const axes = normalizeAxes('mean', axis, x.ndim);
  const n = axes.reduce((p, a) => p * x.shape[a]!, 1);
  check(n > 0, 'mean', () => `cannot average over empty axes of shape ${fmt(x.shape)}`);
  return sum(x, axes, keepdim).div(n);
}

/** max/min values; the gradient is shared equally among tied extremes. */
function extreme(op: 'max' | 'min', x: Tensor, axis: number | number[] | undefined, keepdim: boolean): Tensor {
  const axes = normalizeAxes(op, axis, x.ndim);
  check(axes.every((a) => x.shape[a]! > 0), op, () => `cannot take the ${op} over an empty axis of shape ${fmt(x.shape)}`);
  const out = reducePrim(op, x, axes, keepdim);
  return record(op, [x], out, [x, out], (g) => {
    const hit = x.eq(spread(out, x, axes)).cast(g.dtype);
    const count = hit.sum(axes, true);
    return [spread(g, x, axes).mul(hit).div(count)];
  });
}

export function max(x: Tensor, axis?: number | number[], keepdim = false): Tensor {
  return extreme('max', x, axis, keepdim);
}

export function min(x: Tensor, axis?: number | number[], keepdim = false): Tensor {
  return extreme('min', x, axis, keepdim);
}

/** Index of the first maximum (or minimum) along `axis`, as int32. */
export function argReduce(op: ArgReduceOp, x: Tensor, axis: number, keepdim = false): Tensor {
  // A 0-d tensor is its own single element: index 0 (as PyTorch).
  if (x.ndim === 0) {
    check(axis === 0 || axis === -1, op, () => `axis ${axis} is out of range for a 0-d tensor (valid: 0 or -1)`);
    return argReduce(op, x.reshape([1]), 0, false).reshape([]);
  }
  const a = normalizeAxis(op, axis, x.ndim);
  check(x.shape[a]! > 0, op, () => `cannot take ${op} over empty axis ${axis} of shape ${fmt(x.shape)}`);
  const b = x._storageRef(op).backend;
  const out = wrap(b, b.argReduce(op, x._view(op), a), x.shape.filter((_, i) => i !== a), 'int32');
  return keepdim ? out.unsqueeze(a) : out;
}

declare module '../tensor.js' {
  interface Tensor {
    /** Sum over `axis` (one, several, or all when omitted). @example x.sum(0, true) */
    sum(axis?: number | number[], keepdim?: boolean): Tensor;
    /** Mean over `axis` (one, several, or all when omitted). @example x.mean(-1) */
    mean(axis?: number | number[], keepdim?: boolean): Tensor;
    /** Maximum over `axis` (all when omitted); ties share the gradient. @example x.max(1) */
    max(axis?: number | number[], keepdim?: boolean): Tensor;
    /** Minimum over `axis` (all when omitted); ties share the gradient. @example x.min(1) */
    min(axis?: number | number[], keepdim?: boolean): Tensor;
    /** int32 index of the first maximum along `axis`. @example logits.argmax(-1) */
    argmax(axis: number, keepdim?: boolean): Tensor;
    /** int32 index of the first minimum along `axis`. @example x.argmin(0) */
    argmin(axis: number, keepdim?: boolean): Tensor;
  }
}

defineMethod('sum', ['axis:axes?', 'keepdim:bool?'], function (axis, keepdim) { return sum(this, axis, keepdim); });
defineMethod('mean', ['axis:axes?', 'keepdim:bool?'], function (axis, keepdim) { return mean(this, axis, keepdim); });
defineMethod('max', ['axis:axes?', 'keepdim:bool?'], function (axis, keepdim) { return max(this, axis, keepdim); });
defineMethod('min', ['axis:axes?', 'keepdim:bool?'], function (axis, keepdim) { return min(this, axis, keepdim); });
defineMethod('argmax', ['axis:int', 'keepdim:bool?'], function (axis, keepdim) { return argReduce('argmax', this, axis, keepdim); });
defineMethod('argmin', ['axis:int', 'keepdim:bool?'], function (axis, keepdim) { return argReduce('argmin', this, axis, keepdim); });
