import { check } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { assertTensor } from '../validate.js';

/**
 * SiLU (swish), x·σ(x), as PyTorch's `F.silu`; its gradient is that of the product.
 *
 * @example
 * silu(tensor([-1, 0, 1])); // [-0.2689, 0, 0.7311]
 */
export function silu(input: Tensor): Tensor {
  assertTensor('silu', input, 'input');
  check(input.dtype !== 'int32', 'silu', () => `needs a float input, got int32; cast first with t.cast('float32')`);
  return input.mul(input.sigmoid());
}
