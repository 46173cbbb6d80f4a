import { tensor } from '../core/creation.js';
import { type DType, isHalf } from '../core/dtype.js';
import { TsgradError } from '../core/errors.js';
import { beside } from '../core/ops/constants.js';
import { Tensor } from '../core/tensor.js';
import { assertTensor } from '../core/validate.js';

/** A tensor, or what PyTorch would turn into one here: nested arrays of numbers, or a number. */
export type TensorLike = Tensor | number | readonly TensorLike[];

/**
 * The dtype a layer with `dtype` weights computes in: float32 for float16/bfloat16 weights (a
 * mixed-precision forward: the activations stay float32), else the weights' own.
 */
export function computeDType(dtype: DType): DType {
  return isHalf(dtype) ? 'float32' : dtype;
}

/** A small 16-bit parameter (a bias, a norm's scale) cast to `dtype` for one forward; other tensors pass. */
export function castForCompute(t: Tensor, dtype: DType): Tensor {
  return isHalf(t.dtype) ? t.cast(dtype) : t;
}

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
    // tensor(data, { dtype: 'int32' }) truncates as torch.tensor does; here the dtype is the op's
    // choice, not the caller's, so a 1.5 among indices or class targets is refused, as PyTorch
    // refuses float indices.
    const bad = dtype === 'int32' ? firstNonInteger(v) : undefined;
    if (bad !== undefined) {
      throw new TsgradError(op, `expected whole numbers (indices or class targets become int32), got ${bad}; round them, or pass tensor(..., { dtype: 'int32' })`);
    }
    try {
      return like ? beside(v, like, dtype) : tensor(v, { dtype });
    } catch (e) {
      // Report a malformed nested array under the call the user made, not the inner tensor().
      throw e instanceof TsgradError ? new TsgradError(op, e.message.slice(e.op.length + 2)) : e;
    }
  }
  throw new TsgradError(op, `expected a Tensor or nested arrays of numbers, got ${v === null ? 'null' : typeof v}`);
}

/**
 * Checks nested arrays of indices while their values are at hand, before they become a tensor:
 * an asynchronous backend can check a tensor's values only when a result is read, too late to
 * name the call. Tensors are checked by the op itself.
 */
export function checkIndexValues(op: string, v: TensorLike, ok: (i: number) => boolean, message: (bad: number) => string): void {
  if (v instanceof Tensor) return;
  const bad = firstFailing(v, ok);
  if (bad !== undefined) throw new TsgradError(op, message(bad));
}

function firstFailing(v: unknown, ok: (i: number) => boolean): number | undefined {
  if (typeof v === 'number') return ok(v) ? undefined : v;
  if (Array.isArray(v)) {
    for (const x of v) {
      const bad = firstFailing(x, ok);
      if (bad !== undefined) return bad;
    }
  }
  return undefined;
}

/** The first number in nested arrays that is not an integer (NaN included), if any. */
function firstNonInteger(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isInteger(v) ? undefined : v;
  if (Array.isArray(v)) {
    for (const x of v) {
      const bad = firstNonInteger(x);
      if (bad !== undefined) return bad;
    }
  }
  return undefined;
}
