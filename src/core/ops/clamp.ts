import { check } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { defineMethod } from './define.js';
import { where } from './elementwise.js';

/**
 * Limits elements to `[min, max]` (either bound may be omitted; tensors broadcast). The gradient
 * passes where `min ≤ x ≤ max`, and to a tensor bound where it was chosen, as in PyTorch; with
 * `min > max` every element is `max`.
 *
 * @example
 * tensor([-2, 0.5, 3]).clamp(0, 1); // [0, 0.5, 1]
 */
export function clamp(x: Tensor, min?: Tensor | number | null, max?: Tensor | number | null): Tensor {
  return clampAs('clamp', x, min, max);
}

/** `clamp` under the name of the call that asked for it (`clip`, `clamp_`). */
export function clampAs(op: string, x: Tensor, min?: Tensor | number | null, max?: Tensor | number | null): Tensor {
  check(min != null || max != null, op, () => 'needs at least one of min and max');
  let out = x;
  if (min != null) out = where(out.lt(min), min, out);
  if (max != null) out = where(out.gt(max), max, out);
  return out;
}

declare module '../tensor.js' {
  interface Tensor {
    /** Limits elements to `[min, max]`; either bound may be omitted (pass null). @example x.clamp(0, 1) */
    clamp(min?: Tensor | number | null, max?: Tensor | number | null): Tensor;
    /** Alias of `clamp`, as in PyTorch. @example x.clip(-1, 1) */
    clip(min?: Tensor | number | null, max?: Tensor | number | null): Tensor;
  }
}

defineMethod('clamp', ['min:bound?', 'max:bound?'], function (min, max) { return clampAs('clamp', this, min, max); });
defineMethod('clip', ['min:bound?', 'max:bound?'], function (min, max) { return clampAs('clip', this, min, max); });
