import { TsgradError } from './errors.js';
import { type HalfDType, narrowToHalf } from './half.js';

export type { HalfDType };

/**
 * Element types. float64 is CPU-only and exists for exact gradient checks. float16 and bfloat16
 * are storage types for frozen weights (see docs/half-precision.md): kept as 16-bit patterns,
 * read as float32, and computed on only by casts, views, gathers and matmuls with a float operand.
 */
export type DType = 'float32' | 'float64' | 'int32' | HalfDType;

/** The typed arrays tensors are read into and created from (a 16-bit float tensor reads as Float32Array). */
export type TypedArray = Float32Array | Float64Array | Int32Array;

/** What a backend uploads and reads: a TypedArray, or a 16-bit float dtype's bit patterns. */
export type StorageArray = TypedArray | Uint16Array;

export const DTYPES: readonly DType[] = ['float32', 'float64', 'int32', 'float16', 'bfloat16'];

export function isFloat(dtype: DType): boolean {
  return dtype !== 'int32';
}

/** True for float16 and bfloat16, the dtypes that are stored but not computed on. */
export function isHalf(dtype: DType): dtype is HalfDType {
  return dtype === 'float16' || dtype === 'bfloat16';
}

export function bytesPerElement(dtype: DType): number {
  return dtype === 'float64' ? 8 : isHalf(dtype) ? 2 : 4;
}

/** The typed array `dtype` is read into: Float32Array for the 16-bit floats. */
export function typedArrayFor(dtype: DType, size: number): TypedArray {
  switch (dtype) {
    case 'float32':
    case 'float16':
    case 'bfloat16':
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

/** The array a backend stores `dtype` in: Uint16Array bit patterns for the 16-bit floats. */
export function storageArrayFor(dtype: DType, size: number): StorageArray {
  return isHalf(dtype) ? new Uint16Array(size) : typedArrayFor(dtype, size);
}

/** Converts any typed array or number list to the typed array of `dtype` (copies). */
export function toTypedArray(data: ArrayLike<number>, dtype: DType): TypedArray {
  const out = typedArrayFor(dtype, data.length);
  out.set(data as ArrayLike<number>);
  return out;
}

/** Values as the array a backend uploads for `dtype` (copies): the 16-bit floats rounded to their bits. */
export function toStorageArray(data: ArrayLike<number>, dtype: DType): StorageArray {
  return isHalf(dtype) ? narrowToHalf(data, dtype) : toTypedArray(data, dtype);
}

export function assertDType(dtype: string, op: string): asserts dtype is DType {
  if (!(DTYPES as readonly string[]).includes(dtype)) {
    throw new TsgradError(op, `unknown dtype '${dtype}'; use one of ${DTYPES.join(', ')}`);
  }
}

/**
 * The result dtype of a binary op: float64 > float32 > int32, as in PyTorch's promotion. The
 * 16-bit floats never reach a binary op (core refuses them first), so they promote as float32.
 */
export function promote(a: DType, b: DType): DType {
  if (a === 'float64' || b === 'float64') return 'float64';
  if (a === 'int32' && b === 'int32') return 'int32';
  return 'float32';
}
