import { record } from '../autograd.js';
import { check } from '../errors.js';
import { broadcastShapes } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { checkArgs } from '../validate.js';
import { where } from './elementwise.js';
import { broadcastTo, sameBackend, scalarOn, wrap } from './operands.js';
import { defineMethod } from './define.js';

/**
 * `value` where the int32 `mask` is non-zero (true), `x` elsewhere (PyTorch's `masked_fill`). The
 * mask broadcasts with `x`; the gradient flows to `x` where the mask is false.
 *
 * @example
 * scores.maskedFill(ones([T, T]).tril().eq(0), -Infinity); // causal attention scores
 */
export function maskedFill(x: Tensor, mask: Tensor, value: number): Tensor {
  checkArgs('maskedFill', [x, mask, value], ['input:tensor', 'mask:tensor', 'value:number']);
  check(mask.dtype === 'int32', 'maskedFill', () =>
    `mask must be an int32 (boolean) tensor as comparisons return, got ${mask.dtype}; pass mask.ne(0)`);
  if (x.dtype === 'int32') {
    check(Number.isFinite(value) && value > -(2 ** 31) - 1 && value < 2 ** 31, 'maskedFill', () =>
      `value ${value} does not fit in the int32 input; cast the input first with t.cast('float32')`);
  }
  const be = sameBackend('maskedFill', x, mask);
  const shape = broadcastShapes('maskedFill', x.shape, mask.shape);
  // An int32 input takes the value truncated, as PyTorch does.
  const fill = scalarOn(be, x.dtype === 'int32' ? Math.trunc(value) : value, x.dtype);
  const view = (t: Tensor) => broadcastTo(t, shape)._view('maskedFill');
  const out = wrap(be, be.where(view(mask), view(fill), view(x)), shape, x.dtype);
  fill.dispose();
  return record('maskedFill', [x], out, [mask], (g) => [where(mask, 0, g)]);
}

declare module '../tensor.js' {
  interface Tensor {
    /** `value` where the int32 `mask` is non-zero, this elsewhere. @example x.maskedFill(x.lt(0), 0) */
    maskedFill(mask: Tensor, value: number): Tensor;
  }
}

defineMethod('maskedFill', ['mask:tensor', 'value:number'], function (mask, value) { return maskedFill(this, mask, value); });
