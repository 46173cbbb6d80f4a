import type { Backend } from '../backend.js';
import { type DType, isHalf } from '../dtype.js';
import type { Tensor } from '../tensor.js';

/**
 * The product of matmul's broadcast operands `a` [...batch, m, k] and `b` [...batch, k, n] when
 * one is float16/bfloat16 and the other float32 or float64 (`dtype`): a mixed-precision forward,
 * the 16-bit operand read as `dtype` and the result `dtype`. A backend's fused `halfMatmul` reads
 * it in place; otherwise it is widened for this product only. A new storage of `dtype`.
 */
export function halfProduct(be: Backend, a: Tensor, b: Tensor, dtype: DType): unknown {
  const op = 'matmul';
  const fused = dtype === 'float32' ? be.fused?.halfMatmul?.(a._view(op), b._view(op)) : null;
  if (fused) return fused;
  const wa = isHalf(a.dtype) ? a.cast(dtype) : a, wb = isHalf(b.dtype) ? b.cast(dtype) : b;
  const out = be.matmul(wa._view(op), wb._view(op));
  if (wa !== a) wa.dispose();
  if (wb !== b) wb.dispose();
  return out;
}
