import { keep } from '../core/scope.js';
import { Tensor } from '../core/tensor.js';
import { type DType, isFloat, isHalf } from '../core/dtype.js';
import { check } from '../core/errors.js';
import { storageOf } from '../core/seams.js';
import { assertTensor, describeValue } from '../core/validate.js';

/**
 * A tensor a Module owns and an optimizer trains: a leaf that requires grad by default and
 * survives `scope()` (it is kept when created). It shares `data`'s storage, as PyTorch's
 * nn.Parameter does; `Parameter.from` takes ownership of a fresh tensor instead.
 *
 * @example
 * this.scale = new nn.Parameter(ones([4]));
 */
export class Parameter extends Tensor {
  constructor(data: Tensor, requiresGrad = true) {
    assertTensor('Parameter', data, 'data');
    check(typeof requiresGrad === 'boolean', 'Parameter', () => `requiresGrad must be a boolean, got ${describeValue(requiresGrad)}`);
    check(!requiresGrad || isFloat(data.dtype), 'Parameter', () => `a ${data.dtype} tensor cannot require gradients; cast it first (t.cast('float32')) or pass requiresGrad false`);
    super(storageOf(data, 'Parameter'), data.shape, data.dtype, data.strides, data.offset);
    this.requiresGrad = requiresGrad;
    keep(this);
  }

  /** Wraps `data` and disposes it, so the parameter is the storage's only owner. */
  static from(data: Tensor, requiresGrad = true): Parameter {
    const p = new Parameter(data, requiresGrad);
    data.dispose();
    return p;
  }
}

/**
 * A layer's new parameter of `dtype`, made by `make` in that dtype, or for float16/bfloat16 made
 * in float32 and rounded once (as `model.to({ dtype })` would) and frozen, since a 16-bit tensor
 * cannot require grad. Only one tensor's float32 copy exists at a time, never the whole model's.
 */
export function layerParameter(dtype: DType, make: (dtype: 'float32' | 'float64') => Tensor): Parameter {
  if (!isHalf(dtype)) return Parameter.from(make(dtype === 'float64' ? 'float64' : 'float32'));
  const wide = make('float32');
  const p = Parameter.from(wide.cast(dtype), false);
  wide.dispose();
  return p;
}
