import { tensor } from '../core/creation.js';
import type { DType } from '../core/dtype.js';
import { TsgradError } from '../core/errors.js';
import { beside } from '../core/ops/constants.js';
import { Tensor } from '../core/tensor.js';
import { assertTensor } from '../core/validate.js';

/** A tensor, or what PyTorch would turn into one here: nested arrays of numbers, or a number. */
export type TensorLike = Tensor | number | readonly TensorLike[];

/**
 * `v` as a tensor: tensors pass through; nested arrays and numbers become a tensor of `dtype`
 * on the backend of `like` (the layer's weight, the other operand), so `linear.forward([[1, 2]])`
 * works as in PyTorch.
 */
export function asTensor(op: string, v: TensorLike, dtype: DType, like?: Tensor | null): Tensor {
  if (v instanceof Tensor) {
    assertTensor(op, v);
    return v;
  }
  if (typeof v === 'number' || Array.isArray(v)) {
    try {
      return like ? beside(v, like, dtype) : tensor(v, { dtype });
    } catch (e) {
      // Report a malformed nested array under the call the user made, not the inner tensor().
      throw e instanceof TsgradError ? new TsgradError(op, e.message.slice(e.op.length + 2)) : e;
    }
  }
  throw new TsgradError(op, `expected a Tensor or nested arrays of numbers, got ${v === null ? 'null' : typeof v}`);
}
