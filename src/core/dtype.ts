import { TsgradError } from './errors.js';

/** Element types. float64 is CPU-only and exists for exact gradient checks. */
export type DType = 'float32' | 'float64' | 'int32';

/** The typed arrays tensors are read into and created from, one per dtype. */
export type TypedArray = Float32Array | Float64Array | Int32Array;

export const DTYPES: readonly DType[] = ['float32', 'float64', 'int32'];

export function isFloat(dtype: DType): boolean {
  return dtype !== 'int32';
}

export function bytesPerElement(dtype: DType): number {
  return dtype === 'float64' ? 8 : 4;
}

export function typedArrayFor(dtype: DType, size: number): TypedArray {
  switch (dtype) {
    case 'float32':
      return new Float32Array(size);
    case 'float64':
      return new Float64Array(size);
    case 'int32':
      return new Int32Array(size);
  }
}

export function dtypeOfArray(a: TypedArray): DType {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Float64Array) return 'float64';
  return 'int32';
}

/** Converts any typed array or number list to the typed array of `dtype` (copies). */
export function toTypedArray(data: ArrayLike<number>, dtype: DType): TypedArray {
  const out = typedArrayFor(dtype, data.length);
  out.set(data as ArrayLike<number>);
  return out;
}

export function assertDType(dtype: string, op: string): asserts dtype is DType {
  if (!(DTYPES as readonly string[]).includes(dtype)) {
    throw new TsgradError(op, `unknown dtype '${dtype}'; use one of ${DTYPES.join(', ')}`);
  }
}

/** The result dtype of a binary op: float64 > float32 > int32, as in PyTorch's promotion. */
export function promote(a: DType, b: DType): DType {
  if (a === 'float64' || b === 'float64') return 'float64';
  if (a === 'float32' || b === 'float32') return 'float32';
  return 'int32';
}
