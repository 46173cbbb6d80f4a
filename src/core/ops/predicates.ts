import { isFloat } from '../dtype.js';
import type { Tensor } from '../tensor.js';
import { defineMethod } from './define.js';

/** int32 1 where the element is NaN. @example tensor([1, NaN]).isnan() // [0, 1] */
export function isnan(x: Tensor): Tensor {
  return isFloat(x.dtype) ? x.ne(x) : x.zerosLike();
}

/** int32 1 where the element is +∞ or −∞. @example tensor([1, -Infinity]).isinf() // [0, 1] */
export function isinf(x: Tensor): Tensor {
  return isFloat(x.dtype) ? x.abs().eq(Infinity) : x.zerosLike();
}

/** int32 1 where the element is neither NaN nor ±∞ (x − x is 0 only then). @example tensor([1, NaN, Infinity]).isfinite() // [1, 0, 0] */
export function isfinite(x: Tensor): Tensor {
  return isFloat(x.dtype) ? x.sub(x).eq(0) : x.onesLike();
}

declare module '../tensor.js' {
  interface Tensor {
    /** int32 1 where NaN. @example x.isnan().sum() */
    isnan(): Tensor;
    /** int32 1 where ±∞. @example x.isinf() */
    isinf(): Tensor;
    /** int32 1 where finite. @example x.isfinite() */
    isfinite(): Tensor;
  }
}

defineMethod('isnan', [], function () { return isnan(this); });
defineMethod('isinf', [], function () { return isinf(this); });
defineMethod('isfinite', [], function () { return isfinite(this); });
